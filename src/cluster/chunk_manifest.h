/* chunk_manifest.h - OUTDIR/.fathom-chunks/<file name>.<hash>/manifest.json: the plan of a
 * chunked video and which chunks are finished, so `--resume` redoes only the others.
 *
 *   {"fathom_chunks": 1, "input": PATH, "input_bytes": N, "input_mtime_ns": "N", "frames": F,
 *    "overlap": K, "merged": M, "chunks": [{"first", "count", "decode_from", "start_us", "end_us", "done"}]}
 *
 * Written atomically (a temporary name renamed over it) before any chunk runs and again after
 * each chunk's result has been renamed into place: a manifest never claims a chunk whose result
 * is missing. "merged": M, the chunks 0..M-1 that the incremental merge has written
 * into the outputs so far; n once the outputs are complete. The outputs are streams (encoder,
 * zip) that cannot be reopened after a kill, so a resume merges again from chunk 0 (merging is
 * cheap next to computing, docs/scale-out.md) and the count tells it what was lost. A manifest that does not parse (truncated, edited) is an error naming it, never
 * silently replaced; one whose input changed (size or mtime), or made with other --chunks /
 * --overlap values, is refused with the reason. */
#ifndef FATHOM_CLUSTER_CHUNK_MANIFEST_H
#define FATHOM_CLUSTER_CHUNK_MANIFEST_H

#include <stdint.h>

#include "cluster/chunk_plan.h"
#include "fathom.h"

typedef struct fathom_chunk_manifest {
    char input[4096];
    int64_t input_bytes, input_mtime_ns;
    int64_t frames;
    int overlap;
    int merged;             /* chunks merged into the outputs (in order); n when complete */
    int n;                  /* chunks */
    fathom_chunk *chunks;   /* owned: n */
    int *done;              /* owned: n flags */
} fathom_chunk_manifest;

/* Size and mtime of the input (identity for --resume). */
fathom_status fathom_chunk_input_stamp(const char *input, int64_t *bytes, int64_t *mtime_ns);
/* Write m to path atomically. */
fathom_status fathom_chunk_manifest_save(const fathom_chunk_manifest *m, const char *path);
/* Save m without holding the table's lock `mu` while the file is written (and fsynced): a
 * snapshot of its flags is taken under mu, then written; `save_mu` orders the saves, so a later
 * snapshot is never overwritten by an earlier one. The caller must not hold mu. */
#include <pthread.h>
fathom_status fathom_chunk_manifest_save_unlocked(const fathom_chunk_manifest *m, const char *path,
                                                  pthread_mutex_t *mu, pthread_mutex_t *save_mu);
/* Load path into m (zeroed first). FATHOM_ERR_NOT_FOUND when it does not exist; other errors
 * name the file and the cause. */
fathom_status fathom_chunk_manifest_load(const char *path, fathom_chunk_manifest *m);
void fathom_chunk_manifest_clear(fathom_chunk_manifest *m);

#endif
