/* chunk_plan.h - splitting one video into chunks by frame index (docs/scale-out.md).
 *
 *   frames   0 ........................................................ F-1
 *   chunk 0  [==== owned ====]
 *   chunk 1            [ovl K][==== owned ====]
 *   chunk 2                             [ovl K][==== owned ====]
 *
 * Chunk i owns frames [first, first + count) (counts differ by at most one; tapered plans: the
 * last chunks half as long) and decodes from
 * decode_from = max(previous chunk's first, first - K): the K overlap frames before its own are computed again so the
 * merge can align it to chunk i-1 (align.h). A chunk's range is given to the reader in time:
 * [pts of decode_from, pts of the next chunk's first frame), taken from the timestamps of every
 * frame (fathom_chunk_scan), so variable frame rates cut exactly; the reader seeks to the
 * keyframe before its start and decodes only what it needs. */
#ifndef FATHOM_CLUSTER_CHUNK_PLAN_H
#define FATHOM_CLUSTER_CHUNK_PLAN_H

#include <stdint.h>

#include "fathom.h"

typedef struct fathom_chunk {
    int64_t first, count;      /* frames owned */
    int64_t decode_from;       /* first frame decoded: first - overlap, not before the previous
                                  chunk's first frame (0 for chunk 0) */
    int64_t start_us, end_us;  /* reader range, microseconds from the container start;
                                  start_us 0 for chunk 0, end_us -1 for the last chunk (to the end) */
} fathom_chunk;

/* Presentation times of the video stream's frames, in microseconds from the container start,
 * sorted, from a demux pass (no decoding). *pts_us owned by the caller (free). Fails naming the
 * input when it has no video stream or a frame without a timestamp. */
fathom_status fathom_chunk_scan(const char *input, int64_t **pts_us, int64_t *n_frames);

/* Plan n_chunks (>= 1; fewer when there are fewer frames) chunks with overlap k over n_frames
 * frames whose times are pts_us. *chunks owned by the caller (free); *n_out chunks. */
fathom_status fathom_chunk_plan(const int64_t *pts_us, int64_t n_frames, int n_chunks, int k,
                                fathom_chunk **chunks, int *n_out);
/* The same, with the last `taper` chunks (one per engine) half as long as the others, where a
 * half chunk still owns at least 16 frames and 8x the overlap (else equal chunks): engines
 * that take their last chunks at different moments then finish closer together (the end of
 * dynamic hand-out is up to one last chunk long), and the merge after the last chunk is
 * shorter. taper 0: fathom_chunk_plan. */
fathom_status fathom_chunk_plan_tapered(const int64_t *pts_us, int64_t n_frames, int n_chunks,
                                        int k, int taper, fathom_chunk **chunks, int *n_out);

#endif
