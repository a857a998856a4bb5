/* pid.c - PID on utilization -> duty command; duty command -> batch + pause. See pid.h. */
#include "governor/pid.h"

#include <math.h>

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

gov_pid_cfg gov_pid_default_cfg(double target, double max_util) {
    gov_pid_cfg c = {
        .target = target,
        .max_util = max_util,
        .kp = 0.5,
        .ti_s = 1.5,
        .kd_s = 0.05,
        .d_filter_s = 0.5,
        .out_min = 0.02,
        .margin = 0.02,
        .mem_margin = 0.05,
        .backoff = 0.5,
        .limit_min = 0.05,
        .recover_per_s = 0.1,
        .ceiling_gap = 0.05,
    };
    return c;
}

static double setpoint(const gov_pid_cfg *c) {
    if (c->target > 0) return c->target;
    if (c->max_util < 1) return c->max_util - c->ceiling_gap;
    return -1; /* report only */
}

void gov_pid_init(const gov_pid_cfg *c, gov_pid_state *s) {
    double sp = setpoint(c);
    *s = (gov_pid_state){.limit = 1, .base = c->target > 0 ? sp : 1};
    s->out = s->base;
}

int gov_pid_in_emergency(const gov_pid_state *s) { return s->limit < 1; }

int gov_pid_step(const gov_pid_cfg *c, gov_pid_state *s, double m, double mem_frac, double dt) {
    if (!(dt > 0) || !isfinite(dt)) dt = 0;
    if (!isfinite(m)) m = 0;
    m = clampd(m, 0, 1.5);
    if (!isfinite(mem_frac)) mem_frac = 0;

    int hit = 0;
    if (c->max_util < 1 && m >= c->max_util - c->margin) hit |= GOV_HIT_UTIL;
    if (mem_frac > 0 && mem_frac >= 1 - c->mem_margin) hit |= GOV_HIT_MEM;
    if (hit)
        s->limit = fmax(c->limit_min, fmin(s->limit, s->out) * c->backoff);
    else
        s->limit = fmin(1, s->limit + c->recover_per_s * dt);

    double sp = setpoint(c);
    if (sp < 0) { /* no target, no ceiling: report only; the emergency limit still applies */
        s->base = 1;
        s->out = s->limit;
        return hit;
    }

    /* derivative on the filtered measurement */
    double m_prev = s->primed ? s->m_filt : m;
    if (!s->primed) {
        s->m_filt = m;
        s->primed = 1;
    } else if (dt > 0) {
        double a = dt / (c->d_filter_s + dt);
        s->m_filt += a * (m - s->m_filt);
    }
    double dmdt = dt > 0 ? (s->m_filt - m_prev) / dt : 0;

    double e = sp - m;
    /* feed-forward: with a target the stage is commanded to the target duty; as a pure
     * ceiling the command starts from "unthrottled" */
    double ff = c->target > 0 ? sp : 1;
    double p = c->kp * e;
    double d = -c->kp * c->kd_s * dmdt;
    double ki = c->ti_s > 0 ? c->kp / c->ti_s : 0;
    double hi = fmin(1, s->limit);
    if (hit) {
        /* bumpless hand-back: the PID continues from the cut output instead of winding
         * against the limit, so it takes over where the emergency left it */
        s->integ = fmin(s->integ, s->limit - ff - p - d);
    } else {
        double raw = ff + p + s->integ + d;
        int pinned_hi = raw >= hi && e > 0, pinned_lo = raw <= c->out_min && e < 0;
        if (!pinned_hi && !pinned_lo) s->integ += ki * e * dt;
    }
    s->integ = clampd(s->integ, -1.5, 1);
    s->base = clampd(ff + p + s->integ + d, c->out_min, 1);
    s->out = clampd(s->base, c->out_min, hi);
    return hit;
}

void gov_pid_map(double out, int emergency, double item_s, int bmin, int bmax, double pause_max,
                 int *batch, double *pause_s) {
    if (bmax < 1) bmax = 1;
    if (bmin < 1) bmin = 1;
    if (bmin > bmax) bmin = bmax;
    if (!(out > 0)) out = 1e-3;
    if (out > 1) out = 1;
    /* a throttled stage works in smaller bursts: smoother load on the device and on memory */
    int b = emergency ? bmin : bmin + (int)floor((bmax - bmin) * out + 0.5);
    if (b > bmax) b = bmax;
    double pause = 0;
    if (item_s > 0 && out < 1) pause = item_s * b * (1 - out) / out;
    *batch = b;
    *pause_s = clampd(pause, 0, pause_max);
}
