/* align.h - joining the depth of two video chunks over their overlap (docs/scale-out.md).
 *
 * Relative models predict depth up to an unknown scale and shift per clip, so two chunks of one
 * video disagree at their border. Chunk i is mapped onto chunk i-1 by the least-squares scale s
 * and shift t over the overlap frames (both chunks saw them):
 *     min_{s,t} sum_overlap (s * b + t - a)^2     a: chunk i-1 (already aligned), b: chunk i
 * then every frame of chunk i becomes s * b + t, and in the overlap the two are cross-faded:
 *     out_j = (1 - w_j) * a_j + w_j * (s * b_j + t),   w_j = (j + 1) / (K + 1), j = 0..K-1.
 * Metric models are not aligned (s = 1, t = 0): their scale is meaningful. Raw outputs are never
 * aligned: each frame is taken from the chunk that owns it. The seam residual is the RMS of
 * (s * b + t - a) over the overlap divided by the range of a (0: the chunks agree exactly). */
#ifndef FATHOM_CLUSTER_ALIGN_H
#define FATHOM_CLUSTER_ALIGN_H

#include <stddef.h>

/* Accumulated sums of one overlap (add frame pairs, then solve). Non-finite pairs are skipped. */
typedef struct fathom_align_acc {
    double n, sa, sb, saa, sbb, sab;
    float amin, amax;
} fathom_align_acc;

void fathom_align_init(fathom_align_acc *acc);
void fathom_align_add(fathom_align_acc *acc, const float *a, const float *b, size_t n);
/* Solve for s, t; *residual (may be NULL): RMS of s*b + t - a over the range of a. With no
 * usable pixels s = 1, t = 0; with constant b only the shift is fitted. */
void fathom_align_solve(const fathom_align_acc *acc, double *s, double *t, double *residual);
/* out[i] = s * b[i] + t (out may be b). */
void fathom_align_apply(float *out, const float *b, size_t n, double s, double t);
/* Cross-fade frame j of an overlap of k frames: out = (1 - w) * a + w * b_aligned (out may be
 * either input), w = (j + 1) / (k + 1). */
void fathom_align_fade(float *out, const float *a, const float *b_aligned, size_t n, int j, int k);

#endif
