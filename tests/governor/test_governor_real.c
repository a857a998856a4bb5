/* test_governor_real.c - the governor on this machine: real sampler thread, /proc, NVML
 * absent or present (never changing anything on a GPU), process niceness, and two inference
 * threads calling advise/record concurrently with real sleeps. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "governor/governor.h"
#include "governor/sensor.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

typedef struct worker { fathom_governor *g; int slot; double busy; int batches; } worker;

/* An inference stage: asks, pauses as told, "works" 10 ms per item (spinning, so the
 * process's CPU time grows), records. */
static void *stage(void *arg) {
    worker *w = arg;
    double end = now_s() + 1.5;
    while (now_s() < end) {
        int b = 3;
        double pause;
        fathom_governor_advise(w->g, w->slot, &b, &pause);
        assert_true(b >= 1 && b <= 3);
        sleep_s(pause);
        double t = now_s();
        while (now_s() - t < 0.01 * b) {
        }
        double busy = now_s() - t;
        fathom_governor_record(w->g, w->slot, busy, b);
        w->busy += busy;
        w->batches++;
    }
    return NULL;
}

/* Two CPU slots at target 50 for 1.5 s with the real clock at 50 Hz: the sampler runs,
 * readings arrive, batches are counted per slot, and throttling happened (busy well under
 * the wall time). No assertion on timing precision: the machine may be loaded. */
static void test_two_stages_real_clock(void **state) {
    (void)state;
    fathom_governor_params p = fathom_governor_default_params();
    p.slots = 2;
    p.device[1] = FATHOM_DEVICE_CPU;
    p.target_util = 50;
    p.hz = 50;
    fathom_governor *g = NULL;
    assert_int_equal(fathom_governor_create(&p, &g), FATHOM_OK);
    worker w[2] = {{g, 0, 0, 0}, {g, 1, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, stage, &w[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        fathom_governor_stats st;
        fathom_governor_get_stats(g, i, &st);
        printf("slot %d: %llu batches, busy %.2f s, paused %.2f s, util %.1f, samples %llu, "
               "cpu load %.1f, rss %zu, self cpu %.2f s\n",
               i, (unsigned long long)st.batches, st.busy_s, st.paused_s, st.util,
               (unsigned long long)st.samples, st.cpu_load, st.rss_bytes, st.self_cpu_s);
        assert_int_equal(st.batches, w[i].batches);
        assert_true(st.samples >= 10);
        assert_true(st.rss_bytes > 0);
        assert_true(st.self_cpu_s > 0);
        assert_true(st.paused_s > 0.2);
        assert_true(st.busy_s < 1.3);
        assert_false(st.gpu_valid);
        assert_true(st.target_util == 50);
    }
    fathom_governor_free(&g);
    assert_null(g);
}

/* A GPU slot where NVML is absent is not an error (readings just stay invalid); a memory
 * fraction then cannot be resolved and says so. With NVML present, only readings are
 * checked: nothing is ever set on a real card here. */
static void test_gpu_slot_without_nvml(void **state) {
    (void)state;
    int have = gov_nvml_open();
    fathom_governor_params p = fathom_governor_default_params();
    p.device[0] = FATHOM_DEVICE_CUDA;
    fathom_governor *g = NULL;
    assert_int_equal(fathom_governor_create(&p, &g), FATHOM_OK);
    sleep_s(0.3);
    fathom_governor_stats st;
    fathom_governor_get_stats(g, 0, &st);
    printf("NVML %s: gpu_valid %d\n", have ? "present" : "absent", st.gpu_valid);
    if (!have) assert_false(st.gpu_valid);
    fathom_governor_free(&g);
    p.gpu_mem_fraction = 0.5;
    fathom_status s = fathom_governor_create(&p, &g);
    if (!have) {
        assert_int_equal(s, FATHOM_ERR_DEVICE);
        printf("%s\n", fathom_last_error());
        assert_non_null(strstr(fathom_last_error(), "NVML"));
        assert_null(g);
    }
    fathom_governor_free(&g);
    gov_nvml_close();
}

/* --nice raises the process's niceness (any user may); lowering it without privileges is
 * refused with a message that says so (skipped as root, which may lower it). */
static void test_nice(void **state) {
    (void)state;
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, 0);
    assert_int_equal(errno, 0);
    if (cur >= 19) return;
    fathom_governor_params p = fathom_governor_default_params();
    p.nice = cur + 1;
    fathom_governor *g = NULL;
    assert_int_equal(fathom_governor_create(&p, &g), FATHOM_OK);
    assert_int_equal(getpriority(PRIO_PROCESS, 0), cur + 1);
    fathom_governor_free(&g);
    if (geteuid() == 0) return;
    p.nice = -20;
    assert_int_equal(fathom_governor_create(&p, &g), FATHOM_ERR_INVALID_ARG);
    assert_non_null(strstr(fathom_last_error(), "privileges"));
    assert_null(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_stages_real_clock),
        cmocka_unit_test(test_gpu_slot_without_nvml),
        cmocka_unit_test(test_nice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
