/* temporal_norm.h - flicker-free 8/16-bit normalization range for depth videos.
 *
 * Per-frame min..max normalization makes a depth video flicker: one near object entering the
 * frame rescales everything. Instead the range follows an exponential moving min/max:
 *
 *   target(t) = [min, max] over frames t .. t+lookahead (stopping at a scene cut)
 *   range(t)  = decay * range(t-1) + (1 - decay) * target(t)
 *
 * widened so frame t itself never clips (the look-ahead lets the range start growing before a
 * new extreme arrives). At a scene cut the average restarts from the new scene's target.
 * Cuts are found from a 16x16 thumbnail of each frame normalized by its own range: a mean
 * absolute change above `cut_threshold` (0..1) between consecutive frames is a cut, and so is
 * a depth range that overlaps the previous frame's by less than a quarter of their union.
 *
 * Usage: push each frame's depth in order; once `lookahead` later frames are pushed (or after
 * flush), pop yields the range of the oldest frame. The caller keeps the frames themselves (it
 * must delay them by lookahead frames). Constant memory: lookahead + 1 statistics slots. */
#ifndef FATHOM_MEDIA_TEMPORAL_NORM_H
#define FATHOM_MEDIA_TEMPORAL_NORM_H

#include <stdint.h>

#include "fathom.h"

#define FATHOM_TNORM_THUMB 16

typedef struct fathom_tnorm_opts {
    float decay;          /* 0..1: weight of the previous range; 0 = per-frame ranges */
    int lookahead;        /* frames of look-ahead (0..1024) */
    float cut_threshold;  /* 0..1; <= 0 disables scene-cut detection */
} fathom_tnorm_opts;

fathom_tnorm_opts fathom_tnorm_default_opts(void); /* decay 0.9, lookahead 8, cut 0.3 */

typedef struct fathom_tnorm fathom_tnorm;

fathom_status fathom_tnorm_create(const fathom_tnorm_opts *opts, fathom_tnorm **out);
void fathom_tnorm_free(fathom_tnorm **tn);

/* Add the next frame (h, w). Fails with FATHOM_ERR_INVALID_ARG when the window is full (pop
 * first). Non-finite values are ignored. */
fathom_status fathom_tnorm_push(fathom_tnorm *tn, const float *depth, int h, int w);
/* After the last push: the remaining frames may be popped without more look-ahead. */
void fathom_tnorm_flush(fathom_tnorm *tn);
/* Range for the oldest pending frame: returns 1 and sets lo < hi (and *cut = 1 when that frame
 * starts a new scene), or 0 when it still waits for look-ahead frames / nothing is pending. */
int fathom_tnorm_pop(fathom_tnorm *tn, float *lo, float *hi, int *cut);
/* Frames pushed and not yet popped. */
int fathom_tnorm_pending(const fathom_tnorm *tn);

#endif
