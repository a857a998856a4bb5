/* report_merge.h - `fathom report merge`: one report from the reports of N shards.
 *
 * Inputs are --report files of `fathom run --shard K/N` runs over the same inputs (or of any
 * runs whose item indexes do not collide). The merged report has the report schema
 * (pipeline/report.h): "run" of the first report plus "merged_from" [{report, command}],
 * every item of every report once, in index order, "stages" summed, "totals" summed
 * (elapsed_s: the longest shard; items_per_s: done / that; ignored: the largest count per
 * reason, since every shard walks the same folders; fatal: the first one). A report that is
 * not complete JSON (a run still writing, a truncated file), lacks "items"/"totals", or an item
 * index found in two reports is an error naming the file; nothing is written then. The output
 * is written atomically. Each report is read whole: memory grows with the item count. */
#ifndef FATHOM_CLUSTER_REPORT_MERGE_H
#define FATHOM_CLUSTER_REPORT_MERGE_H

#include "fathom.h"

/* Merge n >= 1 reports into out_path (created or replaced atomically; must not be one of
 * the inputs). *n_items (may be NULL) receives the merged item count. */
fathom_status fathom_report_merge(const char *const *paths, int n, const char *out_path,
                                  long long *n_items);
/* fathom_report_merge_job (one --mpi image job, elapsed_s = job_s): fathom.h */

#endif
