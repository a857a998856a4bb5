/* progress.h - text for progress displays: a one-line bar and NDJSON events.
 *
 * The library never prints: these format into caller buffers, the CLI writes them.
 * NDJSON events (one JSON object per line, `--progress ndjson`):
 *   {"event":"progress","taken":N,"done":N,"skipped":N,"failed":N,"total":N|null,
 *    "elapsed_s":x,"items_per_s":x,"eta_s":x|null,"queues":{"decode":[fill,cap],...}}
 *   {"event":"item","index":N,"source":"...","state":"done|skipped|failed",
 *    "outputs":[...],"error":"...","seconds":x}
 *   {"event":"summary", ...progress fields..., "cancelled":bool, "fatal":"..."|null}
 * With a governor, progress and summary events also carry
 *   "governor":{"target_util":x|null,"slots":[{"slot","util","duty","batch","pause_s",
 *               "emergency","util_limit_hits","mem_limit_hits"},...]}  (governor_json.h) */
#ifndef FATHOM_PIPELINE_PROGRESS_H
#define FATHOM_PIPELINE_PROGRESS_H

#include <stddef.h>

#include "fathom.h"

/* The functions are public (fathom.h, "progress text"). */

#endif
