/* governor.c - the governor's public calls and the two the inference stage makes.
 *
 * advise() and record() run on the inference threads and only touch their slot under the
 * lock: no allocation, no syscalls beyond the clock. The controller steps on the sampler
 * thread (monitor.c); advise() maps the latest duty command to a batch and a pause. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "governor/internal.h"
#include "governor/limits.h"

fathom_governor_params fathom_governor_default_params(void) {
    fathom_governor_params p;
    memset(&p, 0, sizeof p);
    p.slots = 1;
    p.device[0] = FATHOM_DEVICE_CPU;
    p.target_util = 0;
    p.max_util = 100;
    p.batch_min = 1;
    p.batch_max = 0;
    p.hz = 10;
    p.nice = FATHOM_GOVERNOR_NICE_KEEP;
    return p;
}

static fathom_status validate(const fathom_governor_params *p) {
    if (p->slots < 1 || p->slots > FATHOM_GOVERNOR_MAX_SLOTS)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "governor: %d device slots (1..%d)", p->slots,
                           FATHOM_GOVERNOR_MAX_SLOTS);
    for (int i = 0; i < p->slots; i++)
        if (p->device[i] != FATHOM_DEVICE_CPU && p->device[i] != FATHOM_DEVICE_CUDA)
            return fathom_fail(FATHOM_ERR_INVALID_ARG, "governor: slot %d: unknown device kind %d", i,
                               (int)p->device[i]);
    if (isnan(p->target_util) || p->target_util >= 100)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "target_util %g: must be within (0, 100)",
                           p->target_util);
    if (isnan(p->max_util) || p->max_util <= 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "max_util %g: must be within (0, 100]",
                           p->max_util);
    if (p->target_util > 0 && p->max_util < 100 && p->max_util <= p->target_util + 2)
        return fathom_fail(FATHOM_ERR_INVALID_ARG,
                           "max_util %g must be more than 2 points above target_util %g",
                           p->max_util, p->target_util);
    if (p->batch_min < 1)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "batch_min %d: must be at least 1", p->batch_min);
    if (p->batch_max > 0 && p->batch_max < p->batch_min)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "batch_max %d is below batch_min %d",
                           p->batch_max, p->batch_min);
    if (!(p->hz >= 0.5 && p->hz <= 1000))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "hz %g: must be within 0.5..1000", p->hz);
    if (p->nice != FATHOM_GOVERNOR_NICE_KEEP && (p->nice < -20 || p->nice > 19))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "nice %d: must be within -20..19", p->nice);
    if (isnan(p->gpu_mem_fraction) || p->gpu_mem_fraction < 0 || p->gpu_mem_fraction > 1)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "gpu_mem_fraction %g: must be within (0, 1]",
                           p->gpu_mem_fraction);
    if (isnan(p->gpu_power_limit_w) || p->gpu_power_limit_w < 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "gpu_power_limit_w %g: must be a positive wattage",
                           p->gpu_power_limit_w);
    return FATHOM_OK;
}

static void undo_limits(fathom_governor *g) {
    for (int i = 0; i < g->p.slots; i++) {
        gov_power_restore(g->slot[i].power_entry);
        g->slot[i].power_entry = -1;
    }
    if (g->nice_applied) gov_nice_restore(g->old_nice);
    g->nice_applied = 0;
}

fathom_status gov_create_with(const fathom_governor_params *params, const gov_sensor *sensor,
                              int start_thread, fathom_governor **out) {
    if (!out || !sensor || !sensor->now)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "governor: no output or sensor");
    *out = NULL;
    fathom_governor_params p = params ? *params : fathom_governor_default_params();
    FATHOM_TRY(validate(&p));

    fathom_governor *g = calloc(1, sizeof *g); /* owned: returned to the caller */
    if (!g) return fathom_fail(FATHOM_ERR_NOMEM, "governor: out of memory");
    g->p = p;
    g->sensor = *sensor;
    g->cpu_load = -1;
    fathom_status st = FATHOM_OK;
    int lock_ok = 0, cond_ok = 0;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "governor: mutex init failed");
        goto done;
    }
    lock_ok = 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cond_ok = pthread_cond_init(&g->wake, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cond_ok) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "governor: condition init failed");
        goto done;
    }

    g->t0 = g->last_tick = sensor->now(sensor->ctx);
    double target = p.target_util > 0 ? p.target_util / 100.0 : 0;
    double max_util = p.max_util < 100 ? p.max_util / 100.0 : 1;
    for (int i = 0; i < p.slots; i++) {
        gov_slot *s = &g->slot[i];
        s->cfg = gov_pid_default_cfg(target, max_util);
        gov_pid_init(&s->cfg, &s->pid);
        s->last_advise_t = -1;
        s->power_entry = -1;
        s->util = s->duty = 0;
        if (p.device[i] != FATHOM_DEVICE_CUDA) continue;
        gov_gpu_reading r;
        memset(&r, 0, sizeof r);
        if (sensor->gpu_read && sensor->gpu_read(sensor->ctx, p.device_index[i], &r) == 0) {
            s->gpu = r;
            s->gpu_valid = 1;
        }
        st = gov_mem_limit_resolve(p.device_index[i], p.gpu_mem_limit, p.gpu_mem_fraction,
                                   s->gpu_valid ? r.mem_total : 0, &s->mem_limit);
        if (st != FATHOM_OK) goto done;
    }
    if (p.gpu_power_limit_w > 0) {
        int any = 0;
        for (int i = 0; i < p.slots; i++) {
            if (p.device[i] != FATHOM_DEVICE_CUDA) continue;
            any = 1;
            st = gov_power_apply(sensor, p.device_index[i], p.gpu_power_limit_w,
                                 &g->slot[i].power_entry);
            if (st != FATHOM_OK) goto done;
            g->slot[i].power_w = p.gpu_power_limit_w;
        }
        if (!any) {
            st = fathom_fail(FATHOM_ERR_INVALID_ARG, "gpu_power_limit_w: no GPU device in this run");
            goto done;
        }
    }
    if (p.nice != FATHOM_GOVERNOR_NICE_KEEP) {
        st = gov_nice_apply(p.nice, &g->old_nice);
        if (st != FATHOM_OK) goto done;
        g->nice_applied = 1;
    }
    if (start_thread && gov_monitor_start(g) != 0) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "governor: cannot start the sampler thread");
        goto done;
    }
    *out = g;
    return FATHOM_OK;

done:
    undo_limits(g);
    if (cond_ok) pthread_cond_destroy(&g->wake);
    if (lock_ok) pthread_mutex_destroy(&g->lock);
    free(g);
    return st;
}

fathom_status fathom_governor_create(const fathom_governor_params *params, fathom_governor **out) {
    int any_gpu = 0;
    fathom_governor_params p = params ? *params : fathom_governor_default_params();
    for (int i = 0; i < p.slots && i < FATHOM_GOVERNOR_MAX_SLOTS; i++)
        any_gpu |= p.device[i] == FATHOM_DEVICE_CUDA;
    if (any_gpu) gov_sensor_real_open();
    gov_sensor s = gov_sensor_real();
    fathom_status st = gov_create_with(&p, &s, 1, out);
    if (st != FATHOM_OK) {
        if (any_gpu) gov_sensor_real_close();
        return st;
    }
    (*out)->real_sensor = any_gpu;
    return FATHOM_OK;
}

void fathom_governor_free(fathom_governor **gp) {
    if (!gp || !*gp) return;
    fathom_governor *g = *gp;
    gov_monitor_stop(g);
    undo_limits(g);
    if (g->real_sensor) gov_sensor_real_close();
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
    *gp = NULL;
}

size_t fathom_governor_gpu_mem_limit(const fathom_governor *g, int slot) {
    if (!g || slot < 0 || slot >= g->p.slots) return 0;
    return g->slot[slot].mem_limit; /* set once at create: no lock needed */
}

void fathom_governor_get_params(const fathom_governor *g, fathom_governor_params *out) {
    if (!out) return;
    if (!g) memset(out, 0, sizeof *out);
    else *out = g->p; /* set once at create: no lock needed */
}

void fathom_governor_advise(fathom_governor *g, int slot, int *batch, double *pause_s) {
    if (pause_s) *pause_s = 0;
    if (!g || !batch || !pause_s || slot < 0 || slot >= g->p.slots) return;
    int stage_max = *batch > 0 ? *batch : 1;
    int bmax = g->p.batch_max > 0 && g->p.batch_max < stage_max ? g->p.batch_max : stage_max;
    int bmin = g->p.batch_min < bmax ? g->p.batch_min : bmax;
    pthread_mutex_lock(&g->lock);
    gov_slot *s = &g->slot[slot];
    double now = g->sensor.now(g->sensor.ctx);
    int b;
    double pause;
    gov_pid_map(s->pid.out, gov_pid_in_emergency(&s->pid), s->item_s, bmin, bmax, GOV_PAUSE_MAX_S,
                &b, &pause);
    if (s->last_advise_t >= 0) {
        double period = now - s->last_advise_t;
        s->period_s = s->period_s > 0 ? 0.8 * s->period_s + 0.2 * period : period;
    }
    s->last_advise_t = now;
    s->running = 1;
    s->run_start = now + pause;
    s->batch = b;
    s->pause_s = pause;
    s->paused_total += pause;
    pthread_mutex_unlock(&g->lock);
    *batch = b;
    *pause_s = pause;
}

void fathom_governor_record(fathom_governor *g, int slot, double busy_s, int items) {
    if (!g || slot < 0 || slot >= g->p.slots || !(busy_s >= 0) || !isfinite(busy_s)) return;
    pthread_mutex_lock(&g->lock);
    gov_slot *s = &g->slot[slot];
    double now = g->sensor.now(g->sensor.ctx);
    gov_interval iv = {now - busy_s, now};
    s->ring[s->ring_head] = iv;
    s->ring_head = (s->ring_head + 1) % GOV_RING;
    if (s->ring_n < GOV_RING) s->ring_n++;
    s->running = 0;
    s->busy_total += busy_s;
    s->batches++;
    if (items > 0) {
        s->items += (uint64_t)items;
        double per = busy_s / items;
        s->item_s = s->item_s > 0 ? 0.7 * s->item_s + 0.3 * per : per;
    }
    pthread_mutex_unlock(&g->lock);
}

void fathom_governor_get_stats(fathom_governor *g, int slot, fathom_governor_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!g || slot < 0 || slot >= g->p.slots) return;
    pthread_mutex_lock(&g->lock);
    const gov_slot *s = &g->slot[slot];
    double now = g->sensor.now(g->sensor.ctx);
    out->target_util = g->p.target_util;
    out->max_util = g->p.max_util;
    out->util = 100 * s->util;
    out->duty = 100 * gov_slot_duty(s, now, g->t0);
    out->batch = s->batch;
    out->pause_s = s->pause_s;
    out->busy_s = s->busy_total;
    out->paused_s = s->paused_total;
    out->wall_s = now - g->t0;
    out->batches = s->batches;
    out->items = s->items;
    out->emergency = gov_pid_in_emergency(&s->pid);
    out->util_limit_hits = s->util_hits;
    out->mem_limit_hits = s->mem_hits;
    out->samples = g->samples;
    out->cpu_load = g->cpu_load;
    out->self_cpu_s = g->self_cpu_s;
    out->rss_bytes = g->rss;
    out->gpu_valid = s->gpu_valid;
    if (s->gpu_valid) {
        out->gpu_util = s->gpu.util;
        out->gpu_power_w = s->gpu.power_w;
        out->gpu_temp_c = s->gpu.temp_c;
        out->gpu_mem_used = s->gpu.mem_used;
        out->gpu_mem_total = s->gpu.mem_total;
    }
    out->gpu_mem_limit = s->mem_limit;
    out->power_limit_w = s->power_entry >= 0 ? s->power_w : 0;
    pthread_mutex_unlock(&g->lock);
}

int fathom_governor_describe(fathom_governor *g, int slot, char *buf, size_t cap) {
    fathom_governor_stats st;
    fathom_governor_get_stats(g, slot, &st);
    char target[32];
    if (st.target_util > 0)
        snprintf(target, sizeof target, "target %.0f%% ", st.target_util);
    else
        snprintf(target, sizeof target, "no target, ");
    char hits[64] = "";
    if (st.util_limit_hits || st.mem_limit_hits)
        snprintf(hits, sizeof hits, ", limits hit: util %llu mem %llu",
                 (unsigned long long)st.util_limit_hits, (unsigned long long)st.mem_limit_hits);
    return snprintf(buf, buf ? cap : 0, "%sutil %.1f%% batch %d pause %.2fs%s%s", target, st.util,
                    st.batch, st.pause_s, st.emergency ? ", backing off" : "", hits);
}
