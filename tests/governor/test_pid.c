/* test_pid.c - the controller alone (pid.c) against the simulated plant (plant.h):
 * first-order lag + noise + a sudden load from another process.
 * Sampling at 10 Hz (dt = 0.1 s), as the governor's default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "governor/pid.h"
#include "plant.h"

#define DT 0.1

typedef struct run_log {
    double u[4000];    /* true utilization after each sample */
    double out[4000];  /* duty command */
    double limit[4000]; /* emergency output limit */
    int hit[4000];
} run_log;

static run_log lg; /* big: static */

/* Run n samples from sample `from`; `other_at(k)` gives the other process's load. */
static void run(const gov_pid_cfg *c, gov_pid_state *s, plant *p, int from, int n,
                double (*other_at)(int), double (*mem_at)(int)) {
    for (int k = from; k < from + n; k++) {
        if (other_at) p->other = other_at(k);
        double m = plant_read(p);
        lg.hit[k] = gov_pid_step(c, s, m, mem_at ? mem_at(k) : 0, DT);
        lg.out[k] = s->out;
        lg.limit[k] = s->limit;
        plant_step(p, s->out, DT);
        lg.u[k] = p->u;
    }
}

/* First sample from which |u - target| stays within tol until `end`. */
static int settle_index(double target, double tol, int from, int end) {
    int last_bad = from - 1;
    for (int k = from; k < end; k++)
        if (fabs(lg.u[k] - target) > tol) last_bad = k;
    return last_bad + 1;
}

static double other_step(int k) { return k >= 600 ? 0.3 : 0.0; }

/* Target 50 %, device gain 0.8 (the feed-forward alone would give 40 %), lag 1 s, noise
 * 2 points. Asserted: within +-5 points of target by sample 100 (10 s) and for good; a sudden
 * +30 points from another process at sample 600 is absorbed within 100 samples. */
static void test_settles_and_rejects_disturbance(void **state) {
    (void)state;
    gov_pid_cfg c = gov_pid_default_cfg(0.5, 1.0);
    gov_pid_state s;
    gov_pid_init(&c, &s);
    plant p = {.u = 0, .tau = 1.0, .gain = 0.8, .noise = 0.02, .rng = 42};
    run(&c, &s, &p, 0, 1200, other_step, NULL);
    int settle = settle_index(0.5, 0.05, 0, 600);
    printf("settled at sample %d (bound 100)\n", settle);
    assert_true(settle <= 100);
    int resettle = settle_index(0.5, 0.05, 600, 1200);
    printf("after +30 points of other load: settled again at sample %d (bound 700)\n", resettle);
    assert_true(resettle <= 700);
    /* our share shrank to make room: 0.5 - 0.3 = 0.2 of util at gain 0.8 -> duty ~0.25 */
    assert_true(lg.out[1199] > 0.15 && lg.out[1199] < 0.35);
}

/* No sustained oscillation: over the last 300 samples of a 900-sample run (noise 2 points),
 * the true utilization's peak-to-peak stays under 6 points and the duty command moves less
 * than 0.1 between its extremes; a noise-free run converges monotonically in amplitude. */
static void test_no_sustained_oscillation(void **state) {
    (void)state;
    gov_pid_cfg c = gov_pid_default_cfg(0.7, 1.0);
    gov_pid_state s;
    gov_pid_init(&c, &s);
    plant p = {.u = 0, .tau = 1.5, .gain = 1.0, .noise = 0.02, .rng = 7};
    run(&c, &s, &p, 0, 900, NULL, NULL);
    double lo = 1, hi = 0, olo = 1, ohi = 0;
    for (int k = 600; k < 900; k++) {
        lo = fmin(lo, lg.u[k]);
        hi = fmax(hi, lg.u[k]);
        olo = fmin(olo, lg.out[k]);
        ohi = fmax(ohi, lg.out[k]);
    }
    printf("last 300 samples: u in [%.3f, %.3f], out in [%.3f, %.3f]\n", lo, hi, olo, ohi);
    assert_true(hi - lo < 0.06);
    assert_true(ohi - olo < 0.1);

    /* noise-free, slower plant with a low gain (needs duty 0.83 for 50 %): the error
     * envelope must shrink to nothing */
    c = gov_pid_default_cfg(0.5, 1.0);
    gov_pid_init(&c, &s);
    plant q = {.u = 0, .tau = 3.0, .gain = 0.6, .noise = 0, .rng = 1};
    run(&c, &s, &q, 0, 900, NULL, NULL);
    double early = 0, late = 0;
    for (int k = 100; k < 300; k++) early = fmax(early, fabs(lg.u[k] - 0.5));
    for (int k = 700; k < 900; k++) late = fmax(late, fabs(lg.u[k] - 0.5));
    printf("noise-free error envelope: samples 100-300 %.4f, 700-900 %.4f\n", early, late);
    assert_true(late < 0.01);
    assert_true(late <= early);
}

static double other_spike(int k) { return k >= 300 && k < 500 ? 0.35 : 0.0; }

/* Emergency: target 60 %, max 80 %; another process adds 35 points at sample 300 (u heads
 * for 95 %). Asserted: the rule fires within 10 samples of the spike, the command at least
 * halves on the first hit, u is back under max_util within 30 samples, the output limit
 * never regains more than recover_per_s * dt per sample (gradual) and bounds the output, and after the spike ends (500)
 * the loop is back within +-5 points of target by sample 800. */
static void test_emergency_backoff_and_recovery(void **state) {
    (void)state;
    gov_pid_cfg c = gov_pid_default_cfg(0.6, 0.8);
    gov_pid_state s;
    gov_pid_init(&c, &s);
    plant p = {.u = 0, .tau = 0.5, .gain = 1.0, .noise = 0.01, .rng = 3};
    run(&c, &s, &p, 0, 1000, other_spike, NULL);
    for (int k = 0; k < 300; k++) assert_int_equal(lg.hit[k], 0); /* settled at 60: no false alarm */
    int first = -1;
    for (int k = 300; k < 1000 && first < 0; k++)
        if (lg.hit[k] & GOV_HIT_UTIL) first = k;
    printf("emergency at sample %d, out %.3f -> %.3f\n", first, lg.out[first - 1], lg.out[first]);
    assert_true(first >= 300 && first < 310);
    assert_true(lg.out[first] <= 0.5 * lg.out[first - 1] + 1e-9);
    int under = -1;
    for (int k = first; k < 1000 && under < 0; k++)
        if (lg.u[k] < 0.8) under = k;
    printf("back under max_util at sample %d\n", under);
    assert_true(under >= 0 && under - first <= 30);
    for (int k = 1; k < 1000; k++)
    {
        assert_true(lg.limit[k] - lg.limit[k - 1] <= c.recover_per_s * DT + 1e-12);
        assert_true(lg.out[k] <= lg.limit[k] + 1e-12);
    }
    int resettle = settle_index(0.6, 0.05, 500, 1000);
    printf("after the spike: settled at sample %d (bound 800)\n", resettle);
    assert_true(resettle <= 800);
}

static double mem_high(int k) { return k >= 100 && k < 110 ? 0.97 : 0.5; }

/* Memory near its cap (97 % for 10 samples): hard back-off, batch forced to batch_min; then
 * gradual recovery to the unthrottled command within 100 samples. No target here: the
 * governor only enforces limits. */
static void test_memory_emergency(void **state) {
    (void)state;
    gov_pid_cfg c = gov_pid_default_cfg(0, 1.0);
    gov_pid_state s;
    gov_pid_init(&c, &s);
    plant p = {.u = 0, .tau = 0.5, .gain = 1.0, .noise = 0.01, .rng = 5};
    run(&c, &s, &p, 0, 100, NULL, mem_high);
    assert_true(lg.out[99] == 1.0); /* report-only: never throttles */
    run(&c, &s, &p, 100, 10, NULL, mem_high);
    assert_true(lg.hit[100] & GOV_HIT_MEM);
    assert_true(lg.out[109] < 0.1);
    int b;
    double pause;
    gov_pid_map(s.out, gov_pid_in_emergency(&s), 0.2, 2, 16, 5.0, &b, &pause);
    assert_int_equal(b, 2);
    assert_true(pause > 0);
    run(&c, &s, &p, 110, 200, NULL, mem_high);
    int back = -1;
    for (int k = 110; k < 310 && back < 0; k++)
        if (lg.out[k] >= 1.0) back = k;
    printf("memory emergency over at sample %d\n", back);
    assert_true(back > 115 && back <= 210); /* gradual: not instant, within 100 samples */
}

/* Limits honoured by the mapping: batch within [bmin, bmax], pause within [0, pause_max],
 * pause = b * (1 - u) / u for a fixed batch, full speed without throttling. */
static void test_mapping_limits(void **state) {
    (void)state;
    for (double out = 0.001; out <= 1.0; out += 0.013) {
        int b;
        double pause;
        gov_pid_map(out, 0, 0.3, 3, 9, 5.0, &b, &pause);
        assert_true(b >= 3 && b <= 9);
        assert_true(pause >= 0 && pause <= 5.0);
        gov_pid_map(out, 0, 0.1, 4, 4, 100.0, &b, &pause); /* 0.4 * 999 s > 100: clamped */
        if (out < 0.01) {
            assert_true(pause == 100.0);
            continue;
        }
        assert_int_equal(b, 4);
        assert_true(fabs(pause - 0.4 * (1 - out) / out) < 1e-9);
    }
    int b;
    double pause;
    gov_pid_map(1.0, 0, 0.3, 1, 8, 5.0, &b, &pause);
    assert_int_equal(b, 8);
    assert_true(pause == 0);
    gov_pid_map(0.5, 0, 0, 1, 8, 5.0, &b, &pause); /* timing unknown yet: no pause */
    assert_true(pause == 0);
    gov_pid_map(0.5, 0, 0.1, 9, 4, 5.0, &b, &pause); /* bmin > bmax: bmax wins */
    assert_int_equal(b, 4);
}

/* Hostile measurements (NaN, negative, > 1, dt 0 or NaN) keep the output finite in range. */
static void test_hostile_inputs(void **state) {
    (void)state;
    gov_pid_cfg c = gov_pid_default_cfg(0.5, 0.9);
    gov_pid_state s;
    gov_pid_init(&c, &s);
    double bad[] = {NAN, -3, 7, INFINITY, 0.5};
    for (int i = 0; i < 5; i++) {
        gov_pid_step(&c, &s, bad[i], bad[(i + 1) % 5], i % 2 ? 0 : NAN);
        assert_true(isfinite(s.out) && s.out > 0 && s.out <= 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settles_and_rejects_disturbance),
        cmocka_unit_test(test_no_sustained_oscillation),
        cmocka_unit_test(test_emergency_backoff_and_recovery),
        cmocka_unit_test(test_memory_emergency),
        cmocka_unit_test(test_mapping_limits),
        cmocka_unit_test(test_hostile_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
