/* normalize.h - depth -> 8/16-bit normalization shared by the png8, png16 and color writers.
 *
 * Range: the finite min..max of the image, or opts->norm_min..norm_max when norm_min <
 * norm_max (video smoothing; values outside are clamped). t = (d - lo) / (hi - lo) in float32,
 * as run.py computes it; a constant image (lo == hi) gives t = 0; NaN and -Inf give 0, +Inf 1.
 * 8-bit: q = (uint8)(t * 255) truncated (run.py's astype(np.uint8)); 16-bit: q = round(t * 65535).
 * invert: q -> max - q. Callers pass fathom_norm_flip(opts): near = bright by default for both
 * relative disparity (large = near) and metric meters (small = near), near = dark with
 * opts->invert. */
#ifndef FATHOM_MEDIA_NORMALIZE_H
#define FATHOM_MEDIA_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

/* The range used for depth (n values) under opts (may be NULL). No finite value: 0..0. */
void fathom_norm_range(const float *depth, size_t n, const fathom_write_opts *opts, float *lo,
                       float *hi);
/* The invert argument for the normalizers: codes go high for near unless opts->invert, so
 * --invert and colormaps mean the same on relative and metric outputs. */
int fathom_norm_flip(const fathom_write_opts *opts);
void fathom_normalize_u8(const float *depth, size_t n, float lo, float hi, int invert, uint8_t *out);
void fathom_normalize_u16(const float *depth, size_t n, float lo, float hi, int invert,
                          uint16_t *out);

#endif
