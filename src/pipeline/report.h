/* report.h - the --report JSON file, written as the run goes.
 *
 * Items are appended one JSON object per line as they finish, so a run of a million inputs
 * keeps no per-item state in memory; the file is written to a temporary name and renamed when the
 * totals are appended at the end (a report under the final name is always complete).
 * Schema (docs/pipeline.md):
 *   {"fathom": "<version>", "run": {command, model{path, arch, format, dtype, metric, sha256},
 *    devices[{device, index, precision}], formats[], outdir, input_size}, "items": [ {index, source, state, outputs[], status, error,
 *    duplicate_of, width, height, batch, device, seconds{decode, infer, write, total}}, ... ],
 *    "stages": {"source"|"decode"|"infer"|"write": {busy_s, items, items_per_busy_s}},
 *    "totals": {taken, done, skipped, failed, finished, batches, elapsed_s, items_per_s,
 *               cancelled, fatal},
 *    "governor": {params, slots[]}   (only with a governor; pipeline/governor_json.h)} */
#ifndef FATHOM_PIPELINE_REPORT_H
#define FATHOM_PIPELINE_REPORT_H

#include "fathom.h"
#include "pipeline/item.h"

typedef struct fathom_report fathom_report;

/* Setup check before anything is created: the path is not a folder (or other non-file) and
 * its folder exists and is writable. Errors name the path. */
fathom_status fathom_report_check(const char *path);
/* Opens the temporary ".<name>.fathom-tmp-<pid>-report" next to path now, so an unwritable
 * report path (or one naming a folder) is found before any work, and writes the "run" object
 * from p and m (both may be NULL): command line, model path, arch and sha256 of the weight
 * file, devices with precision, formats. */
fathom_status fathom_report_open(const char *path, const fathom_run_params *p,
                                 const fathom_model *m, fathom_report **out);
/* Append one finished item. Not thread-safe (the pipeline serializes calls). */
fathom_status fathom_report_item(fathom_report *r, const fathom_item *it);
/* Append stages, totals and (g != NULL) the governor's params and final stats of its slots
 * 0..n_slots-1 (stage_batch: the run's --batch); close and rename into place. */
fathom_status fathom_report_finish(fathom_report *r, const fathom_run_stats *stats,
                                   fathom_governor *g, int n_slots, int stage_batch);
/* Close without finishing: removes the temporary file. Accepts NULL. */
void fathom_report_free(fathom_report **r);

#endif
