/* governor.h - resource governor interface used by the pipeline's inference stage.
 *
 * The inference stage of each device asks the governor before every batch how many items to
 * take and how long to pause first, and tells it afterwards how long the batch kept the engine
 * busy. The governor's sampler thread reads the machine (NVML, /proc) behind a sensor
 * interface so tests can drive it with a simulated device. Thread-safe. */
#ifndef FATHOM_GOVERNOR_GOVERNOR_H
#define FATHOM_GOVERNOR_GOVERNOR_H

#include "fathom.h" /* fathom_governor, create/free/stats */

/* g may be NULL (no governor): advise leaves *batch and sets *pause_s = 0; record does nothing.
 * Before a batch on device slot `slot`: *batch (in: the stage's maximum, out: advised,
 * within [batch_min, batch_max]) and *pause_s (seconds to sleep before starting). */
void fathom_governor_advise(fathom_governor *g, int slot, int *batch, double *pause_s);
/* After a batch: seconds the engine was busy and items processed. */
void fathom_governor_record(fathom_governor *g, int slot, double busy_s, int items);

#endif
