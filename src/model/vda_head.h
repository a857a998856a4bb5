/* vda_head.h - DPTHeadTemporal: the DA-V2 DPT head with the four temporal modules inserted
 * (spec section 2: MM0/MM1 on layer_3/layer_4 before the rn convs, MM2 after refinenet4,
 * MM3 after refinenet3), and the window's memory plan.
 *
 * The temporal modules need all T frames of levels 3-4 and of refinenet4/3; everything else
 * is per frame. So the encoder runs in chunks of `eb` frames (its features for all T frames
 * are kept), levels 3-4 and refinenet4/3 run on all T frames, and levels 1-2, refinenet2/1
 * and the output convs run in chunks of `tb` frames (as the official code's micro-batches
 * of 4). This keeps the frame-sized tensors of the output head to tb frames. */
#ifndef FATHOM_MODEL_VDA_HEAD_H
#define FATHOM_MODEL_VDA_HEAD_H

#include "model/vda_temporal.h"

typedef struct fathom_vda_plan {
    fathom_plan enc;       /* shapes, and x / y / att / big for eb frames (feat redirected) */
    int T, eb, tb;         /* window frames, encoder chunk, tail chunk */
    size_t feat[4];        /* (T, N, D) each */
    size_t w[3], S;        /* work slots of S floats */
    size_t lrn[4];         /* levels 2, 3: T frames; levels 0, 1: tb frames */
    size_t path3;          /* (T, F, 2h, 2w): refinenet3 + MM3 output */
    size_t total;          /* floats */
} fathom_vda_plan;

/* Plan for T frames of (H, W); taps = 1 puts whole windows in one chunk (taps see whole
 * tensors). */
fathom_status fathom_vda_plan_make(const fathom_arch *a, int T, int H, int W, int threads,
                                   int taps, fathom_vda_plan *p);

/* Encoder + head for T frames: img (T, 3, H, W), depth (T, H, W) backend memory, ReLU-ed
 * (VDA's head ends in ReLU for relative and metric models alike). chunk[m]: positions per
 * pass of module m. io: NULL offline, else 4 entries (streaming, T = 1). */
void fathom_vda_forward(fathom_backend *be, const fathom_weights *w,
                        const fathom_vda_weights *vw, const fathom_vda_plan *p, float *arena,
                        const float *img, const float *pos, float *depth,
                        const fathom_vda_bufs *b, const int chunk[4],
                        const fathom_vda_stream_io *io, fathom_tap *tap);

#endif
