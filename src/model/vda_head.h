/* vda_head.h - DPTHeadTemporal: the DA-V2 DPT head with the four temporal modules inserted
 * (spec section 2: MM0/MM1 on layer_3/layer_4 before the rn convs, MM2 after refinenet4,
 * MM3 after refinenet3). The batch is the window's frames, T = p->B. */
#ifndef FATHOM_MODEL_VDA_HEAD_H
#define FATHOM_MODEL_VDA_HEAD_H

#include "model/vda_temporal.h"

/* depth (T, H, W) backend memory, ReLU-ed (VDA's head ends in ReLU for relative and metric
 * models alike). chunk[m]: positions per pass of module m. io: NULL offline, else 4 entries
 * (streaming, T = 1). */
void fathom_vda_head_forward(fathom_backend *be, const fathom_weights *w,
                             const fathom_vda_weights *vw, const fathom_plan *p, float *arena,
                             float *depth, const fathom_vda_bufs *b, const int chunk[4],
                             const fathom_vda_stream_io *io, fathom_tap *tap);

#endif
