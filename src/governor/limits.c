/* limits.c - nice, GPU memory caps, and the GPU power limit with its restore table.
 *
 * The restore table is static so that fathom_governor_restore_limits() can run from a signal
 * handler or atexit without the governor object: an entry is filled while unarmed, then armed
 * with one atomic store; restoring disarms it with an atomic exchange, so each previous limit
 * is put back exactly once whoever gets there first. */
#include "governor/limits.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/status.h"

fathom_status gov_nice_apply(int nice, int *old) {
    if (nice < -20 || nice > 19)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "nice %d: must be within -20..19", nice);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, 0);
    if (cur == -1 && errno != 0)
        return fathom_fail(FATHOM_ERR_IO, "nice: cannot read the process priority: %s",
                           strerror(errno));
    if (setpriority(PRIO_PROCESS, 0, nice) != 0) {
        int err = errno;
        if (err == EACCES || err == EPERM)
            return fathom_fail(FATHOM_ERR_INVALID_ARG,
                               "nice %d: lowering niceness below %d needs privileges "
                               "(root or CAP_SYS_NICE): %s",
                               nice, cur, strerror(err));
        return fathom_fail(FATHOM_ERR_IO, "nice %d: setpriority failed: %s", nice, strerror(err));
    }
    *old = cur;
    return FATHOM_OK;
}

void gov_nice_restore(int old) {
    (void)setpriority(PRIO_PROCESS, 0, old); /* EACCES when we had raised it: keep it */
}

fathom_status gov_mem_limit_resolve(int index, size_t limit, double fraction, uint64_t total,
                                    size_t *out) {
    *out = 0;
    if (fraction < 0 || fraction > 1 || isnan(fraction))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "gpu_mem_fraction %g: must be within (0, 1]",
                           fraction);
    size_t cap = limit;
    if (fraction > 0) {
        if (total == 0)
            return fathom_fail(FATHOM_ERR_DEVICE,
                               "gpu_mem_fraction: cannot read the total memory of GPU %d "
                               "(NVML not available); give gpu_mem_limit in bytes instead",
                               index);
        size_t f = (size_t)floor(fraction * (double)total);
        if (cap == 0 || f < cap) cap = f;
    }
    if (total > 0 && cap > total) cap = (size_t)total; /* a cap above the card is no cap */
    *out = cap;
    return FATHOM_OK;
}

/* ---- power limit ---- */

#define GOV_POWER_ENTRIES 64

typedef struct power_entry {
    atomic_int armed;   /* 1: prev_w must be put back */
    int used;           /* claimed (under claim_lock) */
    gov_act_result (*set)(void *ctx, int index, double watts);
    void *ctx;          /* borrowed from the sensor */
    int index;
    double prev_w;
} power_entry;

static power_entry entries[GOV_POWER_ENTRIES];
static pthread_mutex_t claim_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void restore_at_exit(void) { fathom_governor_restore_limits(); }
static void register_atexit(void) { atexit(restore_at_exit); }

static const char *act_text(gov_act_result r) {
    switch (r) {
    case GOV_ACT_OK: return "ok";
    case GOV_ACT_NO_PERMISSION: return "insufficient permissions (needs root)";
    case GOV_ACT_UNSUPPORTED: return "not supported (no NVML, no such GPU, or fixed limit)";
    default: return "failed";
    }
}

fathom_status gov_power_apply(const gov_sensor *s, int index, double watts, int *entry) {
    *entry = -1;
    if (!(watts > 0) || !isfinite(watts))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "gpu_power_limit_w %g: must be a positive wattage",
                           watts);
    if (!s->power_get || !s->power_set)
        return fathom_fail(FATHOM_ERR_DEVICE, "gpu_power_limit_w: GPU %d: no power actuator", index);
    double cur = 0, lo = 0, hi = 0;
    gov_act_result r = s->power_get(s->ctx, index, &cur, &lo, &hi);
    if (r != GOV_ACT_OK)
        return fathom_fail(FATHOM_ERR_DEVICE, "gpu_power_limit_w: GPU %d: cannot read the power limit: %s",
                           index, act_text(r));
    if (watts < lo || watts > hi)
        return fathom_fail(FATHOM_ERR_INVALID_ARG,
                           "gpu_power_limit_w %.0f W: GPU %d accepts %.0f..%.0f W", watts, index, lo,
                           hi);
    pthread_mutex_lock(&claim_lock);
    int k = -1;
    for (int i = 0; i < GOV_POWER_ENTRIES && k < 0; i++)
        if (!entries[i].used) k = i;
    if (k >= 0) entries[k].used = 1;
    pthread_mutex_unlock(&claim_lock);
    if (k < 0)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "gpu_power_limit_w: more than %d GPUs changed at once",
                           GOV_POWER_ENTRIES);
    r = s->power_set(s->ctx, index, watts);
    if (r != GOV_ACT_OK) {
        pthread_mutex_lock(&claim_lock);
        entries[k].used = 0;
        pthread_mutex_unlock(&claim_lock);
        if (r == GOV_ACT_NO_PERMISSION)
            return fathom_fail(FATHOM_ERR_DEVICE,
                               "gpu_power_limit_w %.0f W: GPU %d refused: setting the power limit "
                               "needs root (or leave gpu_power_limit_w at 0)",
                               watts, index);
        return fathom_fail(FATHOM_ERR_DEVICE, "gpu_power_limit_w %.0f W: GPU %d: %s", watts, index,
                           act_text(r));
    }
    entries[k].set = s->power_set;
    entries[k].ctx = s->ctx;
    entries[k].index = index;
    entries[k].prev_w = cur;
    atomic_store(&entries[k].armed, 1);
    pthread_once(&atexit_once, register_atexit);
    *entry = k;
    return FATHOM_OK;
}

static void restore_entry(power_entry *e) {
    if (atomic_exchange(&e->armed, 0)) (void)e->set(e->ctx, e->index, e->prev_w);
}

void gov_power_restore(int entry) {
    if (entry < 0 || entry >= GOV_POWER_ENTRIES) return;
    restore_entry(&entries[entry]);
    pthread_mutex_lock(&claim_lock);
    entries[entry].used = 0;
    pthread_mutex_unlock(&claim_lock);
}

/* Async-signal-safe as far as our code goes: atomics only, no locks, no allocation. */
void fathom_governor_restore_limits(void) {
    for (int i = 0; i < GOV_POWER_ENTRIES; i++) restore_entry(&entries[i]);
}
