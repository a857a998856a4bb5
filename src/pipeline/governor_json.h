/* governor_json.h - the governor's state as JSON, for `--progress ndjson` events and the
 * `--report` file (docs/governor.md, "What the run shows").
 *
 *   "governor": {"params": {target_util|null, max_util|null, batch_min, batch_max, hz,
 *                           limits: {nice|null, gpu_mem_limit|null, gpu_mem_fraction|null,
 *                                    gpu_power_limit_w|null, host_mem_limit|null}},
 *                "slots": [{slot, util, duty, batch, pause_s, emergency, util_limit_hits,
 *                           mem_limit_hits, batches, items, busy_s, paused_s, wall_s,
 *                           samples, gpu?: {...}}, ...]}
 * (params only in the report; progress events carry the slots with the target.) */
#ifndef FATHOM_PIPELINE_GOVERNOR_JSON_H
#define FATHOM_PIPELINE_GOVERNOR_JSON_H

#include <cjson/cJSON.h>

#include "fathom.h"

/* Add "governor" to `parent` for slots 0..n_slots-1; nothing when g is NULL. stage_batch is the
 * run's --batch (the batch_max a governor without --batch-max uses). with_params: add the
 * "params" object (the report); otherwise only "target_util" and the slots (progress). */
void fathom_governor_json_add(cJSON *parent, fathom_governor *g, int n_slots, int stage_batch,
                              int with_params);

#endif
