/* monitor.c - the sampler thread: reads the sensor at params.hz, measures each slot's
 * utilization (NVML for a GPU slot that has it, else the inference duty cycle) and steps
 * its controller. Also the real sensor (NVML + /proc + CLOCK_MONOTONIC). */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "governor/internal.h"

/* ---- duty cycle ---- */

double gov_slot_window(const gov_slot *s) {
    double w = 4 * s->period_s; /* a few batches, so one batch more or less is a small step */
    return w < GOV_WINDOW_MIN_S ? GOV_WINDOW_MIN_S : w > GOV_WINDOW_MAX_S ? GOV_WINDOW_MAX_S : w;
}

static double overlap(double s, double e, double lo, double hi) {
    if (s < lo) s = lo;
    if (e > hi) e = hi;
    return e > s ? e - s : 0;
}

double gov_slot_duty(const gov_slot *s, double now, double t0) {
    double lo = now - gov_slot_window(s);
    if (lo < t0) lo = t0;
    /* when the ring is full, the window cannot reach past the oldest interval kept */
    if (s->ring_n == GOV_RING) {
        double oldest = s->ring[s->ring_head].s; /* head = next slot to write = oldest */
        if (oldest > lo) lo = oldest;
    }
    if (now - lo <= 1e-9) return 0;
    double busy = 0;
    for (int k = 0; k < s->ring_n; k++) {
        const gov_interval *iv = &s->ring[(s->ring_head - 1 - k + GOV_RING) % GOV_RING];
        if (iv->e <= lo) break; /* newest first: older ones end earlier */
        busy += overlap(iv->s, iv->e, lo, now);
    }
    if (s->running) busy += overlap(s->run_start, now, lo, now);
    double d = busy / (now - lo);
    return d > 1 ? 1 : d;
}

/* ---- one sample ---- */

void gov_tick(fathom_governor *g) {
    gov_proc_reading pr;
    int have_pr = g->sensor.proc_read && g->sensor.proc_read(g->sensor.ctx, &pr) == 0;
    gov_gpu_reading gr[FATHOM_GOVERNOR_MAX_SLOTS];
    int have_gr[FATHOM_GOVERNOR_MAX_SLOTS] = {0};
    /* sensor reads happen outside the lock: NVML calls can take milliseconds */
    for (int i = 0; i < g->p.slots; i++)
        if (g->p.device[i] == FATHOM_DEVICE_CUDA && g->sensor.gpu_read)
            have_gr[i] = g->sensor.gpu_read(g->sensor.ctx, g->p.device_index[i], &gr[i]) == 0;

    pthread_mutex_lock(&g->lock);
    double now = g->sensor.now(g->sensor.ctx);
    double dt = now - g->last_tick;
    g->last_tick = now;
    g->samples++;
    if (have_pr) {
        if (g->have_proc && pr.cpu_total > g->proc.cpu_total && pr.cpu_busy >= g->proc.cpu_busy)
            g->cpu_load = 100.0 * (double)(pr.cpu_busy - g->proc.cpu_busy) /
                          (double)(pr.cpu_total - g->proc.cpu_total);
        g->proc = pr;
        g->have_proc = 1;
        g->self_cpu_s = pr.self_cpu_s;
        g->rss = pr.rss_bytes;
    }
    double host_frac = g->p.host_mem_limit > 0 && have_pr
                           ? (double)pr.rss_bytes / (double)g->p.host_mem_limit
                           : 0;
    int entered[FATHOM_GOVERNOR_MAX_SLOTS] = {0}; /* GOV_HIT_* of slots that began backing off */
    double util_seen[FATHOM_GOVERNOR_MAX_SLOTS], mem_seen[FATHOM_GOVERNOR_MAX_SLOTS];
    for (int i = 0; i < g->p.slots; i++) {
        gov_slot *s = &g->slot[i];
        s->duty = gov_slot_duty(s, now, g->t0);
        s->gpu_valid = have_gr[i];
        double mem = host_frac;
        if (have_gr[i]) {
            s->gpu = gr[i];
            s->util = gr[i].util / 100.0;
            if (gr[i].mem_total > 0) {
                double f = (double)gr[i].mem_used / (double)gr[i].mem_total;
                if (f > mem) mem = f;
            }
        } else {
            s->util = s->duty;
        }
        s->mem_frac = mem;
        /* a duty cycle is a moving average over the window: integrate no faster than it */
        double w = have_gr[i] ? 0 : gov_slot_window(s);
        s->cfg.ti_s = w > GOV_TI_MIN_S ? w : GOV_TI_MIN_S;
        int was = gov_pid_in_emergency(&s->pid);
        int hit = gov_pid_step(&s->cfg, &s->pid, s->util, mem, dt);
        if (hit & GOV_HIT_UTIL) s->util_hits++;
        if (hit & GOV_HIT_MEM) s->mem_hits++;
        if (hit && !was) entered[i] = hit;
        util_seen[i] = s->util;
        mem_seen[i] = mem;
    }
    pthread_mutex_unlock(&g->lock);
    /* one note per emergency, not per sample; outside the lock (the sink may block) */
    for (int i = 0; i < g->p.slots; i++)
        if (entered[i])
            fathom_log(FATHOM_LOG_WARN,
                       "governor: slot %d backing off: %s%s%s (utilization %.0f %%, max %.0f %%; "
                       "memory %.0f %% of its cap)",
                       i, entered[i] & GOV_HIT_UTIL ? "utilization near max_util" : "",
                       entered[i] == (GOV_HIT_UTIL | GOV_HIT_MEM) ? " and " : "",
                       entered[i] & GOV_HIT_MEM ? "memory near its cap" : "", 100 * util_seen[i],
                       g->p.max_util, 100 * mem_seen[i]);
}

/* ---- sampler thread ---- */

static void *sampler(void *arg) {
    fathom_governor *g = arg;
    double period = 1.0 / g->p.hz;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        double t = next.tv_sec + next.tv_nsec * 1e-9 + period;
        next.tv_sec = (time_t)t;
        next.tv_nsec = (long)((t - (double)next.tv_sec) * 1e9);
        pthread_mutex_lock(&g->lock);
        while (!g->stop) {
            int r = pthread_cond_timedwait(&g->wake, &g->lock, &next);
            if (r == ETIMEDOUT) break;
        }
        int stop = g->stop;
        pthread_mutex_unlock(&g->lock);
        if (stop) break;
        gov_tick(g);
    }
    return NULL;
}

int gov_monitor_start(fathom_governor *g) {
    if (pthread_create(&g->thread, NULL, sampler, g) != 0) return -1;
    g->thread_started = 1;
    return 0;
}

void gov_monitor_stop(fathom_governor *g) {
    if (!g->thread_started) return;
    pthread_mutex_lock(&g->lock);
    g->stop = 1;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    g->thread_started = 0;
}

/* ---- the real sensor ---- */

static double real_now(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int real_gpu(void *ctx, int index, gov_gpu_reading *out) {
    (void)ctx;
    return gov_nvml_read(index, out);
}
static int real_proc(void *ctx, gov_proc_reading *out) {
    (void)ctx;
    return gov_proc_read(out);
}
static gov_act_result real_power_get(void *ctx, int index, double *cur, double *lo, double *hi) {
    (void)ctx;
    return gov_nvml_power_get(index, cur, lo, hi);
}
static gov_act_result real_power_set(void *ctx, int index, double watts) {
    (void)ctx;
    return gov_nvml_power_set(index, watts);
}

gov_sensor gov_sensor_real(void) {
    gov_sensor s = {
        .ctx = NULL,
        .now = real_now,
        .gpu_read = real_gpu,
        .proc_read = real_proc,
        .power_get = real_power_get,
        .power_set = real_power_set,
    };
    return s;
}

int gov_sensor_real_open(void) { return gov_nvml_open(); }
void gov_sensor_real_close(void) { gov_nvml_close(); }
