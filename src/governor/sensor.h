/* sensor.h - what the governor reads and the one thing it may change, behind an interface.
 *
 * The real sensor reads NVML (nvml.c, absent -> no GPU readings) and /proc (procstat.c); the
 * tests plug in a simulated device (a plant with lag, noise and disturbances) and a simulated
 * clock, so the controller and the power-limit code run here without a GPU and never touch a
 * real card. Every function may be called from the sampler thread; ctx is borrowed. */
#ifndef FATHOM_GOVERNOR_SENSOR_H
#define FATHOM_GOVERNOR_SENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

typedef struct gov_gpu_reading {
    double util;                 /* percent busy over the driver's last sample period */
    uint64_t mem_used, mem_total; /* bytes, whole device */
    double power_w;              /* < 0: unknown */
    double temp_c;               /* < 0: unknown */
} gov_gpu_reading;

typedef struct gov_proc_reading {
    uint64_t cpu_busy, cpu_total; /* machine jiffies since boot (/proc/stat "cpu" line) */
    double self_cpu_s;            /* user + system time of this process */
    size_t rss_bytes;             /* resident set of this process */
} gov_proc_reading;

/* Outcome of an actuator call; limits.c turns it into a message for the user. */
typedef enum gov_act_result {
    GOV_ACT_OK = 0,
    GOV_ACT_NO_PERMISSION, /* needs root / admin */
    GOV_ACT_UNSUPPORTED,   /* no NVML, no such GPU, or the card has no settable limit */
    GOV_ACT_FAILED         /* anything else */
} gov_act_result;

typedef struct gov_sensor {
    void *ctx; /* borrowed: passed back to every call */
    /* monotonic seconds */
    double (*now)(void *ctx);
    /* 0 with *out filled, or -1: no reading for GPU `index` (NVML absent, no such device) */
    int (*gpu_read)(void *ctx, int index, gov_gpu_reading *out);
    /* 0 with *out filled, or -1 */
    int (*proc_read)(void *ctx, gov_proc_reading *out);
    /* actuator: power management limit of GPU `index`, watts */
    gov_act_result (*power_get)(void *ctx, int index, double *cur_w, double *min_w, double *max_w);
    gov_act_result (*power_set)(void *ctx, int index, double watts);
} gov_sensor;

/* The real machine: NVML when libnvidia-ml.so.1 loads, /proc, CLOCK_MONOTONIC.
 * gov_sensor_real_open() loads NVML (reference counted; absent is not an error);
 * gov_sensor_real_close() drops the reference. */
gov_sensor gov_sensor_real(void);
int gov_sensor_real_open(void);   /* 1: NVML usable, 0: no GPU readings */
void gov_sensor_real_close(void);

/* nvml.c */
int gov_nvml_open(void);
void gov_nvml_close(void);
int gov_nvml_read(int index, gov_gpu_reading *out);
gov_act_result gov_nvml_power_get(int index, double *cur_w, double *min_w, double *max_w);
gov_act_result gov_nvml_power_set(int index, double watts);

/* procstat.c: the readers and the parsers behind them (the parsers take text so tests can
 * feed truncated and corrupt files). Parsers return 0 or -1 on malformed text. */
int gov_proc_read(gov_proc_reading *out);
int gov_parse_proc_stat(const char *text, uint64_t *busy, uint64_t *total);
int gov_parse_self_stat(const char *text, double ticks_per_s, double *cpu_s);
int gov_parse_statm(const char *text, long page_bytes, size_t *rss);

#endif
