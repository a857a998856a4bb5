/* internal.h - the governor object, shared by governor.c (API), monitor.c (sampler) and the
 * tests (which build a governor on a simulated sensor and tick it by hand). */
#ifndef FATHOM_GOVERNOR_INTERNAL_H
#define FATHOM_GOVERNOR_INTERNAL_H

#include <pthread.h>

#include "governor/governor.h"
#include "governor/pid.h"
#include "governor/sensor.h"

#define GOV_RING 512        /* busy intervals kept per slot for the duty-cycle window */
#define GOV_PAUSE_MAX_S 5.0 /* longest advised pause: the stage stays responsive to stop */
#define GOV_WINDOW_MIN_S 2.0
#define GOV_WINDOW_MAX_S 60.0
#define GOV_TI_MIN_S 1.5     /* integral time for NVML readings (pid.c's default) */

typedef struct gov_interval { double s, e; } gov_interval;

typedef struct gov_slot {
    gov_pid_cfg cfg;
    gov_pid_state pid;
    /* duty cycle: recent busy intervals [s, e] (ring) + the batch in flight */
    gov_interval ring[GOV_RING];
    int ring_head, ring_n;
    int running;          /* advised and not yet recorded */
    double run_start;     /* advise time + pause */
    double last_advise_t; /* < 0: none yet */
    double period_s;      /* EMA of the time between batches; 0: unknown */
    double item_s;        /* EMA of busy seconds per item; 0: unknown */
    /* last sample */
    double util, duty, mem_frac;
    int gpu_valid;
    gov_gpu_reading gpu;
    size_t mem_limit;     /* resolved GPU memory cap for the engine, 0: none */
    int power_entry;      /* limits.c restore entry, -1: power limit untouched */
    double power_w;
    /* advice and totals */
    int batch;
    double pause_s;
    double busy_total, paused_total;
    uint64_t batches, items, util_hits, mem_hits;
} gov_slot;

struct fathom_governor {
    fathom_governor_params p;
    gov_sensor sensor;    /* copied; sensor.ctx borrowed */
    int real_sensor;      /* 1: gov_sensor_real (NVML reference to drop) */
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    pthread_t thread;
    int thread_started, stop;
    double t0, last_tick;
    int have_proc;
    gov_proc_reading proc;
    double cpu_load, self_cpu_s;
    size_t rss;
    uint64_t samples;
    int nice_applied, old_nice;
    gov_slot slot[FATHOM_GOVERNOR_MAX_SLOTS];
};

/* Create on any sensor; start_thread = 0 leaves sampling to gov_tick() calls (tests). */
fathom_status gov_create_with(const fathom_governor_params *p, const gov_sensor *sensor,
                              int start_thread, fathom_governor **out);
/* monitor.c: one sample at sensor.now(): readings, duty cycles, a controller step per slot. */
void gov_tick(fathom_governor *g);
/* Duty cycle of a slot over its window ending at `now` (lock held). */
double gov_slot_duty(const gov_slot *s, double now, double t0);
/* Window length for a slot: a few batch periods, within [MIN, MAX]. */
double gov_slot_window(const gov_slot *s);
int gov_monitor_start(fathom_governor *g);
void gov_monitor_stop(fathom_governor *g);

#endif
