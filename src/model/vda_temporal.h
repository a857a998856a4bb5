/* vda_temporal.h - one Video Depth Anything temporal module (spec section 3) from backend ops.
 *
 * Everything after the GroupNorm is independent per spatial position, so the module runs in
 * chunks of P positions (P * 32 sequence rows): the scratch stays bounded for any frame size
 * and only the GroupNorm output is frame-sized. */
#ifndef FATHOM_MODEL_VDA_TEMPORAL_H
#define FATHOM_MODEL_VDA_TEMPORAL_H

#include "model/engine.h"
#include "model/vda.h"

/* Backend buffers a module pass uses; sizes from fathom_vda_scratch_floats. */
typedef struct fathom_vda_bufs {
    float *gn;       /* (T, C, HW) GroupNorm output */
    float *r, *u, *tmp, *row; /* (rows, C) residual stream, LayerNorm out, branch out, row 31 */
    float *v, *att;  /* (rows, C) PE-augmented sequence, attention output */
    float *qkv;      /* (rows, 3C) */
    float *hid;      /* (rows, 8C) */
    float *gg;       /* (rows, 4C) */
    int chunk_cap;   /* positions per chunk the row buffers hold (rows = 32 * chunk_cap) */
} fathom_vda_bufs;

/* Streaming: the cache entries (pre-PE LayerNorm outputs, (HW, C) each) at positions 0..30
 * for attention blocks 0 and 1, and where this frame's entries go. nctx = 0: first frame
 * (T = 1 alone at PE position 0). */
typedef struct fathom_vda_stream_io {
    const float *ctx[2][FATHOM_VDA_T - 1];
    int nctx;        /* 0 or 31 */
    float *store[2];
} fathom_vda_stream_io;

/* Floats of each row buffer kind for chunks of `chunk` positions at width C: see above. */
size_t fathom_vda_rows_floats(int chunk, int C);

/* x (T, C, HW) backend memory, in place: x += module(x). io != NULL: streaming, T must be 1.
 * chunk <= b->chunk_cap positions per pass; taps (mm{m}.*) only when chunk >= HW. */
void fathom_vda_module_forward(fathom_backend *be, const fathom_vda_module_weights *mw, float *x,
                               int T, int HW, int chunk, const fathom_vda_stream_io *io,
                               const fathom_vda_bufs *b, fathom_tap *tap, int m, int gh, int gw);

#endif
