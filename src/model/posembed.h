/* posembed.h - DINOv2 positional-embedding interpolation, official Depth Anything V2 semantics
 * (spec section 3.3 (a)): bicubic A = -0.75, align_corners=False, scale_factor (g + 0.1) / G
 * so the sampling step is float32(G / (g + 0.1)), taps clamped, float32 math. */
#ifndef FATHOM_MODEL_POSEMBED_H
#define FATHOM_MODEL_POSEMBED_H

/* table: (1 + G*G, D) as stored (row 0 = class token). out: (1 + gh*gw, D) host memory.
 * Copies the table unchanged only for the exact G x G grid (square 518 input). */
void fathom_posembed_interp(float *out, const float *table, int G, int D, int gh, int gw);

#endif
