/* pid.h - the governor's controller: a pure function of (config, state, measurement).
 *
 * Utilization is a fraction (0..1). The controller outputs a duty command `out` in (0, 1]:
 * the share of wall time the inference stage should be busy. gov_pid_map() turns it into a
 * batch size and a pause: with a batch of duration b, pause = b * (1 - out) / out, so a CPU
 * stage (where utilization is the duty cycle) lands on the target by feed-forward alone and
 * the PID only corrects what the feed-forward misses (overheads, a GPU's gain, other loads).
 *
 *   out = min(clamp(target + Kp*e + I - Kd*dm/dt, out_min, 1), limit),   e = target - m
 *
 * Anti-windup: I integrates only while the output is not pinned in the error's direction
 * (at 1, at the emergency limit, or at out_min) and is clamped. The derivative acts on the
 * low-pass filtered measurement, so target changes cause no kick.
 * Emergency: when m >= max_util - margin or memory >= (1 - mem_margin) of its cap, the output
 * limit drops to `backoff` x the current output on every such sample (hard), and the
 * integrator is pulled down to match so the PID resumes from there (no wind-up, no sawtooth);
 * the limit then grows back by recover_per_s per second (gradual). Without a target the
 * setpoint is max_util - ceiling_gap, a ceiling the output only pulls down to; without either
 * the output is 1 except during an emergency (report only). */
#ifndef FATHOM_GOVERNOR_PID_H
#define FATHOM_GOVERNOR_PID_H

typedef struct gov_pid_cfg {
    double target;        /* fraction in (0, 1); <= 0: none */
    double max_util;      /* fraction; >= 1: none */
    double kp;            /* proportional gain (output fraction per error fraction) */
    double ti_s;          /* integral time, seconds: Ki = kp / ti_s */
    double kd_s;          /* derivative time, seconds: Kd = kp * kd_s */
    double d_filter_s;    /* time constant of the measurement filter for the derivative */
    double out_min;       /* lowest duty command */
    double margin;        /* emergency when m >= max_util - margin */
    double mem_margin;    /* emergency when mem_frac >= 1 - mem_margin */
    double backoff;       /* limit = backoff x output on each emergency sample */
    double limit_min;     /* the emergency limit never goes below this */
    double recover_per_s; /* limit regained per second once clear */
    double ceiling_gap;   /* no target: regulate below max_util - ceiling_gap */
} gov_pid_cfg;

typedef struct gov_pid_state {
    double integ;    /* integral term */
    double m_filt;   /* filtered measurement (derivative input) */
    int primed;      /* m_filt valid */
    double limit;    /* emergency output limit, (0, 1]; 1: no emergency */
    double base;     /* PID output before the emergency limit */
    double out;      /* duty command, (0, 1] */
} gov_pid_state;

enum { GOV_HIT_UTIL = 1, GOV_HIT_MEM = 2 };

/* Defaults for `target` and `max_util` (fractions). */
gov_pid_cfg gov_pid_default_cfg(double target, double max_util);
void gov_pid_init(const gov_pid_cfg *c, gov_pid_state *s);
/* One sample: m = measured utilization (fraction), mem_frac = memory used / cap (0: no cap),
 * dt = seconds since the previous sample. Returns GOV_HIT_* flags of this sample. */
int gov_pid_step(const gov_pid_cfg *c, gov_pid_state *s, double m, double mem_frac, double dt);
/* 1 while the emergency rule holds the output down (limit < 1). */
int gov_pid_in_emergency(const gov_pid_state *s);

/* Duty command -> batch within [bmin, bmax] and pause (clamped to pause_max). item_s: busy
 * seconds per item (<= 0: unknown, no pause yet). In an emergency the batch is bmin. */
void gov_pid_map(double out, int emergency, double item_s, int bmin, int bmax, double pause_max,
                 int *batch, double *pause_s);

#endif
