/* limits.h - process priority, GPU memory caps and the GPU power limit (set + restore). */
#ifndef FATHOM_GOVERNOR_LIMITS_H
#define FATHOM_GOVERNOR_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "governor/sensor.h"

/* setpriority(PRIO_PROCESS, 0, nice); *old gets the previous value. */
fathom_status gov_nice_apply(int nice, int *old);
/* Undo (best effort: lowering niceness back needs privileges). */
void gov_nice_restore(int old);

/* The engine's cap on GPU `index`: min(limit, fraction x total) with 0 meaning none.
 * total = 0 means unknown (no NVML): a fraction then cannot be resolved. */
fathom_status gov_mem_limit_resolve(int index, size_t limit, double fraction, uint64_t total,
                                    size_t *out);

/* Set GPU `index`'s power limit through the sensor's actuator after checking the card's
 * range; remembers the previous limit in a restore entry (*entry) that
 * fathom_governor_restore_limits() and gov_power_restore() put back. The sensor's ctx must
 * stay valid until the entry is restored. */
fathom_status gov_power_apply(const gov_sensor *s, int index, double watts, int *entry);
/* Restore one entry (idempotent; -1 ignored). */
void gov_power_restore(int entry);

#endif
