/* test_governor_sim.c - the whole governor (advise/record, sampler tick, limits) on a
 * simulated device and a simulated clock: an inference stage is simulated event by event
 * (advise -> pause -> busy -> record) while the plant of plant.h integrates its activity and
 * the sampler ticks at 10 Hz. Nothing here touches a real GPU or the real power limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/log.h"
#include "governor/internal.h"
#include "plant.h"

/* ---- the simulated sensor ---- */

typedef struct sim {
    plant p;
    int nvml;                  /* 1: GPU readings available */
    gov_proc_reading proc;     /* returned as is */
    double (*other_at)(double t);
    double (*slow_at)(double t); /* batch time multiplier (another process on the CPU) */
} sim;

static double sim_now(void *ctx) { return ((sim *)ctx)->p.t; }
static int sim_gpu(void *ctx, int index, gov_gpu_reading *out) {
    sim *s = ctx;
    if (!s->nvml || index != 0) return -1;
    out->util = 100 * plant_read(&s->p);
    out->mem_used = s->p.mem_used;
    out->mem_total = s->p.mem_total;
    out->power_w = 100;
    out->temp_c = 60;
    return 0;
}
static int sim_proc(void *ctx, gov_proc_reading *out) {
    *out = ((sim *)ctx)->proc;
    return 0;
}
static gov_act_result sim_power_get(void *ctx, int index, double *cur, double *lo, double *hi) {
    sim *s = ctx;
    if (!s->nvml) return GOV_ACT_UNSUPPORTED;
    *cur = s->p.power_cur;
    *lo = s->p.power_min;
    *hi = s->p.power_max;
    return GOV_ACT_OK;
}
static gov_act_result sim_power_set(void *ctx, int index, double watts) {
    sim *s = ctx;
    if (!s->p.power_allowed) return GOV_ACT_NO_PERMISSION;
    if (index >= 1 && s->p.power_allowed == 2) return GOV_ACT_NO_PERMISSION; /* 2nd GPU refuses */
    s->p.power_cur = watts;
    s->p.power_sets++;
    return GOV_ACT_OK;
}

static gov_sensor sensor_of(sim *s) {
    gov_sensor g = {s, sim_now, sim_gpu, sim_proc, sim_power_get, sim_power_set};
    return g;
}

/* ---- the simulated inference stage ---- */

typedef struct stage_result {
    double busy;      /* engine busy seconds within [from, to] */
    double items;     /* items finished within [from, to] */
    double u_sum, u_n; /* plant utilization averaged over [from, to] (plant time steps) */
    int bmin_seen, bmax_seen;
    double pause_last;
    double pause_sum, pause_n; /* advised pauses after `from` */
} stage_result;

/* Run the stage for `seconds` from the current simulated time, measuring over the part
 * after `from` (absolute time). item_s: busy seconds per item (times slow_at(t)), with
 * +-jitter relative noise. Ticks the governor every 1/hz. */
static stage_result run_stage(fathom_governor *g, sim *s, double seconds, double from,
                              double item_s, int stage_max, double jitter) {
    stage_result r = {.bmin_seen = 1 << 30};
    double end = s->p.t + seconds, tick_dt = 1.0 / g->p.hz, next_tick = s->p.t + tick_dt;
    enum { ADVISE, PAUSE, BUSY } st = ADVISE;
    double until = 0, busy_len = 0, busy_start = 0;
    int b = 0;
    while (s->p.t < end) {
        if (s->other_at) s->p.other = s->other_at(s->p.t);
        if (st == ADVISE) {
            b = stage_max;
            double pause;
            fathom_governor_advise(g, 0, &b, &pause);
            if (b < r.bmin_seen) r.bmin_seen = b;
            if (b > r.bmax_seen) r.bmax_seen = b;
            r.pause_last = pause;
            if (s->p.t >= from) {
                r.pause_sum += pause;
                r.pause_n++;
            }
            double slow = s->slow_at ? s->slow_at(s->p.t) : 1;
            busy_len = item_s * b * slow * (1 + jitter * (2 * plant_rand(&s->p) - 1));
            st = PAUSE;
            until = s->p.t + pause;
        }
        if (st == PAUSE && s->p.t >= until) {
            st = BUSY;
            busy_start = s->p.t;
            until = s->p.t + busy_len;
        }
        if (st == BUSY && s->p.t >= until) {
            fathom_governor_record(g, 0, busy_len, b);
            if (busy_start >= from) {
                r.busy += busy_len;
                r.items += b;
            } else if (s->p.t > from) { /* straddles `from`: count the part after it */
                r.busy += s->p.t - from;
                r.items += b * (s->p.t - from) / busy_len;
            }
            st = ADVISE;
            continue;
        }
        /* advance to the next event, integrating the plant */
        double next = fmin(fmin(until, next_tick), end);
        if (next < s->p.t) next = s->p.t;
        double step = fmin(next - s->p.t, 0.01);
        if (step <= 0) step = 1e-9;
        plant_step(&s->p, st == BUSY ? 1.0 : 0.0, step);
        if (s->p.t > from) {
            r.u_sum += s->p.u * step;
            r.u_n += step;
        }
        if (s->p.t >= next_tick - 1e-12) {
            gov_tick(g);
            if (getenv("GOV_TRACE"))
                printf("t %.1f util %.3f out %.3f limit %.2f integ %.3f item %.4f\n", s->p.t,
                       g->slot[0].util, g->slot[0].pid.out, g->slot[0].pid.limit,
                       g->slot[0].pid.integ, g->slot[0].item_s);
            next_tick += tick_dt;
        }
    }
    return r;
}

static fathom_governor *make(sim *s, const fathom_governor_params *p) {
    gov_sensor sen = sensor_of(s);
    fathom_governor *g = NULL;
    fathom_status st = gov_create_with(p, &sen, 0, &g);
    if (st != FATHOM_OK) printf("create: %s\n", fathom_last_error());
    assert_int_equal(st, FATHOM_OK);
    return g;
}

/* CPU slot, fixed batch of 4 x 50 ms (+-20 % jitter): the duty cycle measured by the
 * simulation over [20 s, 90 s] is within 5 points of 30, 50 and 80; throughput is the same
 * fraction of the unthrottled rate; the mean pause is b (1 - u) / u within 10 %. */
static void test_cpu_duty_targets(void **state) {
    (void)state;
    const double targets[] = {30, 50, 80};
    for (int i = 0; i < 3; i++) {
        sim s = {.p = {.tau = 0.3, .gain = 1, .rng = 11 + i}};
        fathom_governor_params p = fathom_governor_default_params();
        p.target_util = targets[i];
        p.batch_min = p.batch_max = 4;
        fathom_governor *g = make(&s, &p);
        stage_result r = run_stage(g, &s, 90, 20, 0.05, 4, 0.2);
        double duty = 100 * r.busy / 70, thr = 100 * r.items * 0.05 / 70;
        double ideal = 0.2 * (100 - targets[i]) / targets[i], pause = r.pause_sum / r.pause_n;
        fathom_governor_stats st;
        fathom_governor_get_stats(g, 0, &st);
        printf("target %2.0f: duty %.1f, throughput %.1f %% of unthrottled, mean pause %.3f s "
               "(ideal %.3f), governor sees %.1f\n",
               targets[i], duty, thr, pause, ideal, st.util);
        assert_true(fabs(duty - targets[i]) <= 5);
        assert_true(fabs(thr - targets[i]) <= 5);
        assert_true(fabs(pause - ideal) <= 0.1 * ideal);
        assert_true(fabs(st.util - targets[i]) <= 8);
        assert_int_equal(st.batch, 4);
        assert_true(st.samples >= 890);
        fathom_governor_free(&g);
        assert_null(g);
    }
}

static double slow_after_40(double t) { return t >= 40 ? 2.0 : 1.0; }

/* Another process makes batches twice as slow from t = 40 s; variable batch 1..8: the duty
 * cycle after the change ([50 s, 100 s]) is still within 5 points of 50 and the advised
 * batch always within [1, 8]. */
static void test_cpu_slowdown_variable_batch(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 1, .rng = 5}, .slow_at = slow_after_40};
    fathom_governor_params p = fathom_governor_default_params();
    p.target_util = 50;
    p.batch_min = 1;
    p.batch_max = 8;
    fathom_governor *g = make(&s, &p);
    stage_result r = run_stage(g, &s, 100, 50, 0.03, 16, 0.2);
    double duty = 100 * r.busy / 50;
    printf("after a 2x slowdown: duty %.1f, batches seen %d..%d\n", duty, r.bmin_seen, r.bmax_seen);
    assert_true(fabs(duty - 50) <= 5);
    assert_true(r.bmin_seen >= 1 && r.bmax_seen <= 8);
    fathom_governor_free(&g);
}

static double other_gpu(double t) { return t >= 40 ? 0.25 : 0.0; }

/* GPU slot with NVML readings (gain 0.9, lag 0.3 s, noise 3 points), target 60; another
 * process adds 25 points at t = 40 s. Utilization averaged over [20 s, 40 s] and
 * [55 s, 90 s] is within 5 points of 60: settled within 15 s (150 samples) of the start
 * and of the disturbance. */
static void test_gpu_target_with_other_load(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 0.9, .noise = 0.03, .rng = 9, .mem_used = 1ull << 30,
                   .mem_total = 8ull << 30},
             .nvml = 1, .other_at = other_gpu};
    fathom_governor_params p = fathom_governor_default_params();
    p.device[0] = FATHOM_DEVICE_CUDA;
    p.target_util = 60;
    p.batch_min = 1;
    p.batch_max = 4;
    fathom_governor *g = make(&s, &p);
    stage_result a = run_stage(g, &s, 40, 20, 0.02, 4, 0.1);
    stage_result b = run_stage(g, &s, 50, 55, 0.02, 4, 0.1);
    double ua = 100 * a.u_sum / a.u_n, ub = 100 * b.u_sum / b.u_n;
    fathom_governor_stats st;
    fathom_governor_get_stats(g, 0, &st);
    printf("GPU util: %.1f before, %.1f with +25 points of other load (duty %.1f)\n", ua, ub,
           st.duty);
    assert_true(fabs(ua - 60) <= 5);
    assert_true(fabs(ub - 60) <= 5);
    assert_true(st.gpu_valid);
    assert_true(st.gpu_mem_total == 8ull << 30);
    assert_true(st.duty < 50); /* made room for the other process */
    fathom_governor_free(&g);
}

/* No target, --max-util 70 on a CPU slot: the governor only enforces the ceiling. The
 * unthrottled duty would be ~100 %; over [20 s, 60 s] it stays at or under 70 and above 60. */
static void test_cpu_ceiling_without_target(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 1, .rng = 2}};
    fathom_governor_params p = fathom_governor_default_params();
    p.max_util = 70;
    fathom_governor *g = make(&s, &p);
    stage_result r = run_stage(g, &s, 60, 20, 0.05, 2, 0.2);
    double duty = 100 * r.busy / 40;
    fathom_governor_stats st;
    fathom_governor_get_stats(g, 0, &st);
    printf("ceiling 70: duty %.1f, util hits %llu\n", duty, (unsigned long long)st.util_limit_hits);
    assert_true(duty <= 70 && duty >= 60);
    fathom_governor_free(&g);

    /* neither target nor ceiling: report only, full speed, no pause ever */
    sim q = {.p = {.tau = 0.3, .gain = 1, .rng = 2}};
    p = fathom_governor_default_params();
    g = make(&q, &p);
    r = run_stage(g, &q, 20, 5, 0.05, 2, 0.2);
    assert_true(100 * r.busy / 15 > 99);
    assert_true(r.pause_last == 0 && r.bmin_seen == 2);
    fathom_governor_free(&g);
}

/* Host memory near --host-mem-limit: emergency, batch_min, counted; recovers gradually. */
static void test_host_memory_emergency(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 1, .rng = 4}};
    s.proc.rss_bytes = 970;
    fathom_governor_params p = fathom_governor_default_params();
    p.host_mem_limit = 1000;
    p.batch_min = 2;
    fathom_governor *g = make(&s, &p);
    run_stage(g, &s, 2, 0, 0.05, 8, 0);
    fathom_governor_stats st;
    fathom_governor_get_stats(g, 0, &st);
    assert_true(st.emergency);
    assert_true(st.mem_limit_hits >= 15);
    assert_int_equal(st.batch, 2);
    assert_true(st.rss_bytes == 970);
    s.proc.rss_bytes = 500;
    run_stage(g, &s, 3, 0, 0.05, 8, 0);
    fathom_governor_get_stats(g, 0, &st);
    assert_true(st.emergency); /* gradual: not over after 3 s */
    run_stage(g, &s, 10, 0, 0.05, 8, 0);
    fathom_governor_get_stats(g, 0, &st);
    assert_false(st.emergency);
    assert_int_equal(st.batch, 8);
    fathom_governor_free(&g);
}

typedef struct log_capture { int warns; char last[512]; } log_capture;
static void capture(void *user, fathom_log_level level, const char *msg) {
    log_capture *c = user;
    if (level != FATHOM_LOG_WARN) return;
    c->warns++;
    snprintf(c->last, sizeof c->last, "%s", msg);
}

/* GPU memory at 97 % of the card (another process filled it) on a slot with a 60 % target:
 * hard back-off to batch_min within one sample, one warning logged (not one per sample),
 * the duty cycle falls; after the memory is freed the emergency is over within 10 s and the
 * batch is back above batch_min. */
static void test_gpu_memory_emergency(void **state) {
    (void)state;
    log_capture cap = {0};
    fathom_log_set_callback(capture, &cap);
    sim s = {.p = {.tau = 0.3, .gain = 1, .rng = 8, .mem_used = 2ull << 30,
                   .mem_total = 8ull << 30},
             .nvml = 1};
    fathom_governor_params p = fathom_governor_default_params();
    p.device[0] = FATHOM_DEVICE_CUDA;
    p.target_util = 60;
    p.batch_min = 1;
    p.batch_max = 8;
    fathom_governor *g = make(&s, &p);
    run_stage(g, &s, 10, 0, 0.02, 8, 0.1);
    fathom_governor_stats st;
    fathom_governor_get_stats(g, 0, &st);
    assert_false(st.emergency);
    assert_int_equal(cap.warns, 0);
    s.p.mem_used = (uint64_t)(0.97 * (8ull << 30));
    run_stage(g, &s, 3, 0, 0.02, 8, 0.1);
    fathom_governor_get_stats(g, 0, &st);
    assert_true(st.emergency);
    assert_true(st.mem_limit_hits >= 25);
    assert_int_equal(st.batch, 1);
    char line[160];
    int n = fathom_governor_describe(g, 0, line, sizeof line);
    printf("progress: %s\n", line);
    assert_true(n > 0 && (size_t)n < sizeof line);
    assert_non_null(strstr(line, "target 60% util "));
    assert_non_null(strstr(line, "batch 1 pause "));
    assert_non_null(strstr(line, ", backing off, limits hit: util 0 mem "));
    char tiny[8];
    assert_int_equal(fathom_governor_describe(g, 0, tiny, sizeof tiny), n); /* truncated */
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(fathom_governor_describe(g, 0, NULL, 0), n);
    assert_true(st.duty < 30);
    printf("warning: %s\n", cap.last);
    assert_int_equal(cap.warns, 1);
    assert_non_null(strstr(cap.last, "memory near its cap"));
    s.p.mem_used = 2ull << 30;
    run_stage(g, &s, 12, 0, 0.02, 8, 0.1);
    fathom_governor_get_stats(g, 0, &st);
    assert_false(st.emergency);
    assert_true(st.batch > 1);
    fathom_governor_free(&g);
    fathom_log_set_callback(NULL, NULL);
}

/* Power limit through the simulated actuator: set within the card's range, shown in stats,
 * restored on free; restore_limits() restores once (idempotent); refusals leave the card as
 * it was and say why. */
static void test_power_limit(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 1, .power_cur = 250, .power_min = 100, .power_max = 300,
                   .power_allowed = 1, .mem_total = 8ull << 30},
             .nvml = 1};
    fathom_governor_params p = fathom_governor_default_params();
    p.device[0] = FATHOM_DEVICE_CUDA;
    p.gpu_power_limit_w = 200;
    fathom_governor *g = make(&s, &p);
    assert_true(s.p.power_cur == 200);
    fathom_governor_stats st;
    fathom_governor_get_stats(g, 0, &st);
    assert_true(st.power_limit_w == 200);
    fathom_governor_free(&g);
    assert_true(s.p.power_cur == 250);
    assert_int_equal(s.p.power_sets, 2);

    /* the Ctrl-C path: restore_limits first, then free must not set it again */
    g = make(&s, &p);
    fathom_governor_restore_limits();
    assert_true(s.p.power_cur == 250);
    fathom_governor_restore_limits();
    fathom_governor_free(&g);
    assert_int_equal(s.p.power_sets, 4);

    gov_sensor sen = sensor_of(&s);
    /* outside the card's range */
    p.gpu_power_limit_w = 400;
    assert_int_equal(gov_create_with(&p, &sen, 0, &g), FATHOM_ERR_INVALID_ARG);
    printf("%s\n", fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "100..300"));
    assert_null(g);
    /* no privileges */
    p.gpu_power_limit_w = 200;
    s.p.power_allowed = 0;
    assert_int_equal(gov_create_with(&p, &sen, 0, &g), FATHOM_ERR_DEVICE);
    printf("%s\n", fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "needs root"));
    assert_true(s.p.power_cur == 250);
    /* two GPUs, the second refuses: the first is put back (nothing changed on failure) */
    s.p.power_allowed = 2;
    p.slots = 2;
    p.device[1] = FATHOM_DEVICE_CUDA;
    p.device_index[1] = 1;
    int sets = s.p.power_sets;
    assert_int_equal(gov_create_with(&p, &sen, 0, &g), FATHOM_ERR_DEVICE);
    assert_int_equal(s.p.power_sets, sets + 2);
    assert_true(s.p.power_cur == 250);
    /* no GPU in the run / no NVML */
    p = fathom_governor_default_params();
    p.gpu_power_limit_w = 200;
    assert_int_equal(gov_create_with(&p, &sen, 0, &g), FATHOM_ERR_INVALID_ARG);
    p.device[0] = FATHOM_DEVICE_CUDA;
    s.nvml = 0;
    assert_int_equal(gov_create_with(&p, &sen, 0, &g), FATHOM_ERR_DEVICE);
    printf("%s\n", fathom_last_error());
}

/* ---- restore on exit and on a signal, seen from a child process ---- */

static int pipe_w = -1; /* the child's actuator reports every set here */
static gov_act_result pipe_power_set(void *ctx, int index, double watts) {
    char line[32];
    int n = snprintf(line, sizeof line, "%.0f\n", watts);
    ssize_t w = write(pipe_w, line, (size_t)n);
    (void)w;
    return sim_power_set(ctx, index, watts);
}
static void on_int(int sig) {
    (void)sig;
    fathom_governor_restore_limits(); /* what the CLI's second Ctrl-C does */
    _exit(130);
}

/* The child sets 200 W (previous 250 W), then leaves without fathom_governor_free: by exit()
 * (atexit) or by a SIGINT whose handler calls restore_limits + _exit. Either way the parent
 * reads "200" then "250" from the actuator's pipe, and nothing after. */
static void test_power_restored_at_exit_and_signal(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            pipe_w = fds[1];
            sim s = {.p = {.tau = 0.3, .gain = 1, .power_cur = 250, .power_min = 100,
                           .power_max = 300, .power_allowed = 1},
                     .nvml = 1};
            gov_sensor sen = sensor_of(&s);
            sen.power_set = pipe_power_set;
            fathom_governor_params p = fathom_governor_default_params();
            p.device[0] = FATHOM_DEVICE_CUDA;
            p.gpu_power_limit_w = 200;
            fathom_governor *g = NULL;
            if (gov_create_with(&p, &sen, 0, &g) != FATHOM_OK) _exit(3);
            if (mode == 0) exit(0); /* g deliberately not freed: atexit restores */
            signal(SIGINT, on_int);
            raise(SIGINT);
            _exit(4);
        }
        close(fds[1]);
        char buf[64] = {0};
        size_t got = 0;
        ssize_t r;
        while (got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)r;
        close(fds[0]);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        printf("%s: actuator saw '%s' (exit %d)\n", mode ? "SIGINT" : "exit()", buf,
               WEXITSTATUS(status));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), mode ? 130 : 0);
        assert_string_equal(buf, "200\n250\n");
    }
}

/* GPU memory cap: fraction of the total, the smaller of both, clamped to the card;
 * a fraction without NVML is refused with a message naming the alternative. */
static void test_gpu_mem_limit(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 1, .mem_total = 8ull << 30}, .nvml = 1};
    fathom_governor_params p = fathom_governor_default_params();
    p.device[0] = FATHOM_DEVICE_CUDA;
    p.gpu_mem_fraction = 0.5;
    fathom_governor *g = make(&s, &p);
    assert_true(fathom_governor_gpu_mem_limit(g, 0) == 4ull << 30);
    assert_true(fathom_governor_gpu_mem_limit(g, 1) == 0);
    fathom_governor_free(&g);
    p.gpu_mem_limit = 3ull << 30;
    g = make(&s, &p);
    assert_true(fathom_governor_gpu_mem_limit(g, 0) == 3ull << 30);
    fathom_governor_free(&g);
    p.gpu_mem_fraction = 0;
    p.gpu_mem_limit = 16ull << 30;
    g = make(&s, &p);
    assert_true(fathom_governor_gpu_mem_limit(g, 0) == 8ull << 30);
    fathom_governor_free(&g);
    s.nvml = 0;
    p.gpu_mem_fraction = 0.5;
    gov_sensor sen = sensor_of(&s);
    assert_int_equal(gov_create_with(&p, &sen, 0, &g), FATHOM_ERR_DEVICE);
    assert_non_null(strstr(fathom_last_error(), "gpu_mem_limit"));
    p.gpu_mem_fraction = 0;
    g = make(&s, &p); /* a byte limit needs no NVML */
    assert_true(fathom_governor_gpu_mem_limit(g, 0) == 16ull << 30);
    fathom_governor_free(&g);
}

/* Bad parameters are refused with the field named; NULL governor calls are harmless. */
static void test_params_and_null(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 1}};
    gov_sensor sen = sensor_of(&s);
    fathom_governor *g = NULL;
    struct { const char *flag; fathom_governor_params p; } bad[8];
    for (int i = 0; i < 8; i++) bad[i].p = fathom_governor_default_params();
    bad[0].flag = "target_util"; bad[0].p.target_util = 100;
    bad[1].flag = "max_util"; bad[1].p.target_util = 80; bad[1].p.max_util = 81;
    bad[2].flag = "batch_max"; bad[2].p.batch_min = 4; bad[2].p.batch_max = 2;
    bad[3].flag = "hz"; bad[3].p.hz = 0;
    bad[4].flag = "nice"; bad[4].p.nice = 25;
    bad[5].flag = "gpu_mem_fraction"; bad[5].p.gpu_mem_fraction = 1.5;
    bad[6].flag = "slots"; bad[6].p.slots = 0;
    bad[7].flag = "batch_min"; bad[7].p.batch_min = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(gov_create_with(&bad[i].p, &sen, 0, &g), FATHOM_ERR_INVALID_ARG);
        assert_non_null(strstr(fathom_last_error(), bad[i].flag));
        assert_null(g);
    }
    int b = 7;
    double pause = 3;
    fathom_governor_advise(NULL, 0, &b, &pause);
    assert_int_equal(b, 7);
    assert_true(pause == 0);
    fathom_governor_record(NULL, 0, 1, 1);
    fathom_governor_stats st;
    fathom_governor_get_stats(NULL, 0, &st);
    assert_int_equal(st.samples, 0);
    fathom_governor_free(NULL);
    fathom_governor_free(&g);
    g = make(&s, NULL);
    fathom_governor_advise(g, 5, &b, &pause); /* bad slot: untouched */
    assert_int_equal(b, 7);
    fathom_governor_record(g, 0, NAN, 1);
    fathom_governor_record(g, 0, -1, 1);
    fathom_governor_get_stats(g, 0, &st);
    assert_int_equal(st.batches, 0);
    fathom_governor_free(&g);
}

/* Machine load from /proc/stat deltas. */
static void test_cpu_load_from_proc(void **state) {
    (void)state;
    sim s = {.p = {.tau = 0.3, .gain = 1}};
    s.proc = (gov_proc_reading){.cpu_busy = 1000, .cpu_total = 4000, .self_cpu_s = 1.5};
    fathom_governor *g = make(&s, NULL);
    gov_tick(g);
    fathom_governor_stats st;
    fathom_governor_get_stats(g, 0, &st);
    assert_true(st.cpu_load < 0); /* one reading: unknown yet */
    s.proc.cpu_busy += 30;
    s.proc.cpu_total += 40;
    gov_tick(g);
    fathom_governor_get_stats(g, 0, &st);
    assert_true(fabs(st.cpu_load - 75) < 1e-9);
    assert_true(st.self_cpu_s == 1.5);
    fathom_governor_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_duty_targets),
        cmocka_unit_test(test_cpu_slowdown_variable_batch),
        cmocka_unit_test(test_gpu_target_with_other_load),
        cmocka_unit_test(test_cpu_ceiling_without_target),
        cmocka_unit_test(test_host_memory_emergency),
        cmocka_unit_test(test_gpu_memory_emergency),
        cmocka_unit_test(test_power_limit),
        cmocka_unit_test(test_power_restored_at_exit_and_signal),
        cmocka_unit_test(test_gpu_mem_limit),
        cmocka_unit_test(test_params_and_null),
        cmocka_unit_test(test_cpu_load_from_proc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
