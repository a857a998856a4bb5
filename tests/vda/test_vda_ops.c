/* test_vda_ops.c - the CPU kernels of the Video Depth Anything temporal ops against their
 * plain-C reference twins (ref_vda.c), on odd sizes, several thread counts, and the streaming
 * shapes (one frame, 32-long sequences). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/ref_ops.h"
#include "test_util.h"

static fathom_backend *be;

static int setup(void **state) {
    (void)state;
    return fathom_backend_cpu_create(2, &be) == FATHOM_OK ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    fathom_backend_free(&be);
    return 0;
}

static void expect_close(const char *what, const float *a, const float *b, size_t n, double tol) {
    assert_true(tu_check(what, a, b, n, tol, -1));
}

static void test_group_norm(void **state) {
    (void)state;
    const int shapes[][3] = {{32, 64, 88}, {1, 96, 24}, {3, 32, 7}};
    for (size_t s = 0; s < 3; s++) {
        int N = shapes[s][0], C = shapes[s][1], HW = shapes[s][2];
        size_t n = (size_t)N * C * HW;
        float *x = tu_random_alloc(n, 1 + s, 0.03f), *w = tu_random_alloc(C, 2, 1.0f),
              *b = tu_random_alloc(C, 3, 0.2f), *o1 = malloc(n * 4), *o2 = malloc(n * 4);
        for (size_t i = 0; i < n; i++) x[i] += 5.0f; /* a large offset: stats must not cancel */
        fathom_ref_group_norm(o1, x, w, b, N, C, HW, 32, 1e-6f);
        be->ops->group_norm(be, o2, x, w, b, N, C, HW, 32, 1e-6f);
        expect_close("group_norm", o2, o1, n, 1e-6);
        free(x), free(w), free(b), free(o1), free(o2);
    }
}

static void test_layout_ops(void **state) {
    (void)state;
    const int T = 32, C = 24, HW = 77, p0 = 13, P = 50;
    size_t n = (size_t)T * C * HW, ns = (size_t)P * T * C;
    float *x = tu_random_alloc(n, 4, 1.0f), *s1 = malloc(ns * 4), *s2 = malloc(ns * 4);
    fathom_ref_nchw_to_seq(s1, x, T, C, HW, p0, P);
    be->ops->nchw_to_seq(be, s2, x, T, C, HW, p0, P);
    assert_memory_equal(s1, s2, ns * 4);
    float *y1 = malloc(n * 4), *y2 = malloc(n * 4);
    memcpy(y1, x, n * 4), memcpy(y2, x, n * 4);
    fathom_ref_seq_to_nchw_add(y1, s1, T, C, HW, p0, P);
    be->ops->seq_to_nchw_add(be, y2, s1, T, C, HW, p0, P);
    assert_memory_equal(y1, y2, n * 4);
    /* round trip: positions outside [p0, p0 + P) untouched, inside doubled */
    assert_true(y1[0] == x[0] && y1[p0] == 2 * x[p0]);
    float *pe = tu_random_alloc((size_t)T * C, 5, 1.0f);
    memcpy(s2, s1, ns * 4);
    fathom_ref_add_pe(s1, pe, P, T, C);
    be->ops->add_pe(be, s2, pe, P, T, C);
    assert_memory_equal(s1, s2, ns * 4);
    /* copy_rows: row 31 of each 32-row sequence, as the streaming path takes it */
    float *r1 = malloc((size_t)P * C * 4), *r2 = malloc((size_t)P * C * 4);
    fathom_ref_copy_rows(r1, C, s1 + 31 * C, (size_t)T * C, P, C);
    be->ops->copy_rows(be, r2, C, s1 + 31 * C, (size_t)T * C, P, C);
    assert_memory_equal(r1, r2, (size_t)P * C * 4);
    assert_memory_equal(r1 + C, s1 + (size_t)T * C + 31 * C, C * 4);
    free(x), free(s1), free(s2), free(y1), free(y2), free(pe), free(r1), free(r2);
}

static void test_geglu(void **state) {
    (void)state;
    const int M = 333, H = 4 * 24;
    float *in = tu_random_alloc((size_t)M * 2 * H, 6, 4.0f), *o1 = malloc((size_t)M * H * 4),
          *o2 = malloc((size_t)M * H * 4);
    fathom_ref_geglu(o1, in, M, H);
    be->ops->geglu(be, o2, in, M, H);
    expect_close("geglu", o2, o1, (size_t)M * H, 1e-6);
    /* the gate is the second half: a zero second half gives zeros whatever the first is */
    for (int j = 0; j < H; j++) in[H + j] = 0.0f;
    be->ops->geglu(be, o2, in, 1, H);
    for (int j = 0; j < H; j++) assert_true(o2[j] == 0.0f);
    free(in), free(o1), free(o2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_norm),
        cmocka_unit_test(test_layout_ops),
        cmocka_unit_test(test_geglu),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
