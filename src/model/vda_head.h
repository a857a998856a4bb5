/* vda_head.h - DPTHeadTemporal: the DA-V2 DPT head with the four temporal modules inserted
 * (spec section 2: MM0/MM1 on layer_3/layer_4 before the rn convs, MM2 after refinenet4,
 * MM3 after refinenet3), and the window's memory plan.
 *
 * The temporal modules need all T frames of levels 3-4 and of refinenet4/3; everything else
 * is per frame. So only the smallest per-frame maps are held for the whole window: the
 * encoder runs in chunks of `eb` frames and each chunk's features are projected at once
 * (levels 1-2 kept as their 1x1 projections, before the resize: O0/O1 channels at the patch
 * grid; levels 3-4 as the reassembled maps the modules work on). The rn convs, refinenet4/3
 * and the per-frame tail (levels 1-2's resize and rn, refinenet2/1, output convs) run in
 * chunks of `tb` frames, so frame-sized head tensors exist for tb frames only. */
#ifndef FATHOM_MODEL_VDA_HEAD_H
#define FATHOM_MODEL_VDA_HEAD_H

#include "model/vda_temporal.h"

typedef struct fathom_vda_plan {
    fathom_plan enc;       /* shapes; x / y / att / big for eb frames in the work region */
    int T, eb, tb;         /* window frames, encoder chunk, head chunk */
    size_t fc;             /* (4, eb, N, D) one encoder chunk's taken layers */
    size_t pj[2];          /* (T, O0|O1, gh, gw) levels 1-2 projected, before their resize */
    size_t r[2];           /* (T, O2, gh, gw), (T, O3, hk3, wk3): levels 3-4 (MM0/MM1 in place) */
    size_t lrn[4];         /* levels 2, 3: T frames; levels 0, 1: tb frames */
    size_t path4;          /* (T, F, gh, gw): refinenet4 + MM2 */
    size_t path3;          /* (T, F, 2gh, 2gw): refinenet3 + MM3 (over r[], dead by then) */
    size_t w[3], S;        /* work slots of S floats */
    size_t work, work_floats; /* work region: slots and encoder buffers; free while the
                                 temporal modules run (their scratch may go there) */
    size_t total;          /* floats */
} fathom_vda_plan;

/* Frame chunks of the head phases stay within this many floats per work slot (at least one
 * frame): a 518 window's slots hold one frame, tiny inputs run in few passes. */
#define FATHOM_VDA_CHUNK_FLOATS ((size_t)1 << 22)
/* Temporal modules: floats per row buffer kind (positions per pass = this / (32 C)). */
#define FATHOM_VDA_ROW_FLOATS ((size_t)1 << 19)

/* Plan for T frames of (H, W), head chunks within `budget` floats per work slot; budget 0
 * puts whole windows in one chunk (taps see whole tensors). */
fathom_status fathom_vda_plan_make(const fathom_arch *a, int T, int H, int W, int threads,
                                   size_t budget, fathom_vda_plan *p);

/* Tests: other budgets than the two above for a session before its first frame (0: keep),
 * so that small inputs run in one-frame chunks and few-position module passes too. */
void fathom_vda_set_budgets(fathom_vda *v, size_t chunk_floats, size_t row_floats);
/* Ready v for another video, its frames going to emit(user): the buffers of the last video
 * are freed (a half-pushed one is dropped); the engine and the weights uploaded to its device
 * are kept, so the chunks of a video run on one instance per worker. */
fathom_status fathom_vda_reset(fathom_vda *v, fathom_vda_emit_fn emit, void *user);

/* Encoder + head for T frames: img (T, 3, H, W), depth (T, H, W) backend memory, ReLU-ed
 * (VDA's head ends in ReLU for relative and metric models alike). chunk[m]: positions per
 * pass of module m. io: NULL offline, else 4 entries (streaming, T = 1). */
void fathom_vda_forward(fathom_backend *be, const fathom_weights *w,
                        const fathom_vda_weights *vw, const fathom_vda_plan *p, float *arena,
                        const float *img, const float *pos, float *depth,
                        const fathom_vda_bufs *b, const int chunk[4],
                        const fathom_vda_stream_io *io, fathom_tap *tap);

#endif
