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

/* "[#####.....] 120/300  14.2 img/s  ETA 0:13  q 3/8 8/8 0/8  2 failed" (width: columns). */
void fathom_progress_bar(const fathom_run_stats *s, int width, char *out, size_t cap);
/* The same with `extra` (e.g. the governor's state; NULL or "": none) after the ETA. When the
 * line is wider than `width`, the queue fill and then the bar graphic are left out first. */
void fathom_progress_bar_extra(const fathom_run_stats *s, const char *extra, int width, char *out,
                               size_t cap);
/* One NDJSON line (with '\n'); `summary` selects the final event. g (may be NULL): the run's
 * governor, whose slots 0..n_slots-1 are added. A line that does not fit `cap` is cut. */
void fathom_progress_json_stats(const fathom_run_stats *s, int summary, fathom_governor *g,
                                int n_slots, char *out, size_t cap);
void fathom_progress_json_item(const fathom_item_event *ev, char *out, size_t cap);

#endif
