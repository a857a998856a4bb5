/* test_cpu_blas_serial.c - fathom_blas_serial_call (core/blas.h), which every engine forward
 * goes through: with OpenBLAS set to one thread (what the CLI does) fn runs on the bare
 * thread, so the backend's regions are top-level teams on libgomp's kept threads (a nested
 * team would start fresh threads on every region); with OpenBLAS threaded it runs inside a
 * one-thread region whose team size is 1, so an OpenMP OpenBLAS called there stays serial. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include <cblas.h>
#include <omp.h>

#include "core/blas.h"

typedef struct seen {
    int level, max_threads;
    long worker[2]; /* kernel thread id of team member 1 in two regions in a row */
} seen;

static fathom_status probe(void *arg) {
    seen *s = arg;
    s->level = omp_get_level();
    s->max_threads = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
#pragma omp parallel num_threads(2)
        {
            if (omp_get_thread_num() == 1) s->worker[r] = (long)syscall(SYS_gettid);
        }
    }
    return FATHOM_OK;
}

static void test_serial_blas_runs_bare(void **state) {
    (void)state;
    openblas_set_num_threads(1);
    seen s = {-1, -1, {0, 0}};
    assert_int_equal(fathom_blas_serial_call(probe, &s), FATHOM_OK);
    assert_int_equal(s.level, 0);
    if (omp_get_num_procs() < 2 || !s.worker[0]) skip(); /* no second thread to compare */
    assert_true(s.worker[0] == s.worker[1]); /* the pool's thread, kept between regions */
}

static void test_threaded_blas_gets_one_thread_team(void **state) {
    (void)state;
    openblas_set_num_threads(2);
    seen s = {-1, -1, {0, 0}};
    assert_int_equal(fathom_blas_serial_call(probe, &s), FATHOM_OK);
    assert_int_equal(s.level, 1);
    assert_int_equal(s.max_threads, 1);
    openblas_set_num_threads(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serial_blas_runs_bare),
        cmocka_unit_test(test_threaded_blas_gets_one_thread_team),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
