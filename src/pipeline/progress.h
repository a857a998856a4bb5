/* progress.h - text for progress displays: a one-line bar and NDJSON events.
 *
 * The library never prints: these format into caller buffers, the CLI writes them.
 * NDJSON events (one JSON object per line, `--progress ndjson`):
 *   {"event":"progress","taken":N,"done":N,"skipped":N,"failed":N,"total":N|null,
 *    "elapsed_s":x,"items_per_s":x,"eta_s":x|null,"queues":{"decode":[fill,cap],...}}
 *   {"event":"item","index":N,"source":"...","state":"done|skipped|failed",
 *    "outputs":[...],"error":"...","seconds":x}
 *   {"event":"summary", ...progress fields..., "cancelled":bool, "fatal":"..."|null} */
#ifndef FATHOM_PIPELINE_PROGRESS_H
#define FATHOM_PIPELINE_PROGRESS_H

#include <stddef.h>

#include "fathom.h"

/* "[#####.....] 120/300  14.2 img/s  ETA 0:13  q 3/8 8/8 0/8  2 failed" (width: columns). */
void fathom_progress_bar(const fathom_run_stats *s, int width, char *out, size_t cap);
/* One NDJSON line (with '\n'); `summary` selects the final event. */
void fathom_progress_json_stats(const fathom_run_stats *s, int summary, char *out, size_t cap);
void fathom_progress_json_item(const fathom_item_event *ev, char *out, size_t cap);

#endif
