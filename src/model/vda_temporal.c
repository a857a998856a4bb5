/* vda_temporal.c - TemporalModule forward: GroupNorm -> proj_in -> 2 x (LayerNorm, + PE,
 * q/k/v, attention over time, to_out, residual) -> GEGLU feed-forward -> proj_out -> + input.
 * The LayerNorm eps is PyTorch's default 1e-5 and the GroupNorm's 1e-6 (spec section 9). */
#include "model/vda_temporal.h"

#include <math.h>
#include <stdio.h>

#define LN_EPS 1e-5f
#define GN_EPS 1e-6f

size_t fathom_vda_rows_floats(int chunk, int C) { return (size_t)chunk * FATHOM_VDA_T * C; }

static void tap_seq(fathom_tap *tap, int on, int m, const char *what, const float *t, int HW,
                    int T, int C) {
    if (!on || !tap->fn) return;
    char name[48];
    snprintf(name, sizeof name, "mm%d.%s", m, what);
    fathom_tap_emit(tap, name, t, 3, HW, T, C, 0); /* sequence layout: (position, time, C) */
}

/* One attention block on rows (P, T, C) of u (already LayerNorm-ed); result added to r. */
static void attention_block(fathom_backend *be, const fathom_vda_attn_weights *aw,
                            const fathom_vda_bufs *b, int P, int T, int C, int p0,
                            const fathom_vda_stream_io *io, int a) {
    const fathom_backend_ops *op = be->ops;
    const float scale = (float)(1.0 / sqrt((double)(C / FATHOM_VDA_HEADS)));
    const int rows = P * T;
    if (io && io->nctx > 0) {
        /* streaming: 31 cached entries then this frame at PE position 31; q of the last
         * position is all that is kept (the other rows are computed and dropped) */
        const int L = io->nctx + 1;
        const size_t ld = (size_t)L * C;
        for (int s = 0; s < io->nctx; s++)
            op->copy_rows(be, b->v + (size_t)s * C, ld, io->ctx[a][s] + (size_t)p0 * C, C, P, C);
        op->copy_rows(be, b->v + (size_t)io->nctx * C, ld, b->u, C, P, C);
        op->add_pe(be, b->v, aw->pe, P, L, C);
        op->linear(be, b->qkv, b->v, aw->qkv_w, NULL, P * L, 3 * C, C, FATHOM_ACT_NONE);
        op->attention(be, b->att, b->qkv, P, L, C, FATHOM_VDA_HEADS, scale);
        op->copy_rows(be, b->row, C, b->att + (size_t)io->nctx * C, ld, P, C);
        op->linear(be, b->tmp, b->row, aw->out_w, aw->out_b, rows, C, C, FATHOM_ACT_NONE);
    } else {
        op->copy_rows(be, b->v, C, b->u, C, rows, C);
        op->add_pe(be, b->v, aw->pe, P, T, C);
        op->linear(be, b->qkv, b->v, aw->qkv_w, NULL, rows, 3 * C, C, FATHOM_ACT_NONE);
        op->attention(be, b->att, b->qkv, P, T, C, FATHOM_VDA_HEADS, scale);
        op->linear(be, b->tmp, b->att, aw->out_w, aw->out_b, rows, C, C, FATHOM_ACT_NONE);
    }
}

void fathom_vda_module_forward(fathom_backend *be, const fathom_vda_module_weights *mw, float *x,
                               int T, int HW, int chunk, const fathom_vda_stream_io *io,
                               const fathom_vda_bufs *b, fathom_tap *tap, int m, int gh, int gw) {
    const fathom_backend_ops *op = be->ops;
    const int C = mw->C;
    const int taps = chunk >= HW;
    op->group_norm(be, b->gn, x, mw->gn_w, mw->gn_b, T, C, HW, FATHOM_VDA_GROUPS, GN_EPS);
    if (taps && tap->fn) {
        char name[48];
        snprintf(name, sizeof name, "mm%d.groupnorm", m);
        fathom_tap_emit(tap, name, b->gn, 4, T, C, gh, gw);
    }
    for (int p0 = 0; p0 < HW; p0 += chunk) {
        const int P = HW - p0 < chunk ? HW - p0 : chunk, rows = P * T;
        op->nchw_to_seq(be, b->u, b->gn, T, C, HW, p0, P);
        op->linear(be, b->r, b->u, mw->in_w, mw->in_b, rows, C, C, FATHOM_ACT_NONE);
        tap_seq(tap, taps, m, "proj_in", b->r, HW, T, C);
        for (int a = 0; a < 2; a++) {
            const fathom_vda_attn_weights *aw = &mw->attn[a];
            op->layernorm(be, b->u, b->r, aw->norm_w, aw->norm_b, rows, C, LN_EPS);
            if (io) op->copy_rows(be, io->store[a] + (size_t)p0 * C, C, b->u, C, P, C);
            char what[16];
            snprintf(what, sizeof what, "attn%d.ln", a);
            tap_seq(tap, taps, m, what, b->u, HW, T, C);
            attention_block(be, aw, b, P, T, C, p0, io, a);
            snprintf(what, sizeof what, "attn%d.out", a);
            tap_seq(tap, taps, m, what, b->tmp, HW, T, C);
            op->add(be, b->r, b->r, b->tmp, (size_t)rows * C);
        }
        op->layernorm(be, b->u, b->r, mw->ffn_w, mw->ffn_b, rows, C, LN_EPS);
        op->linear(be, b->hid, b->u, mw->ff1_w, mw->ff1_b, rows, 8 * C, C, FATHOM_ACT_NONE);
        op->geglu(be, b->gg, b->hid, rows, 4 * C);
        op->linear(be, b->tmp, b->gg, mw->ff2_w, mw->ff2_b, rows, C, 4 * C, FATHOM_ACT_NONE);
        tap_seq(tap, taps, m, "ff", b->tmp, HW, T, C);
        op->add(be, b->r, b->r, b->tmp, (size_t)rows * C);
        op->linear(be, b->tmp, b->r, mw->out_w, mw->out_b, rows, C, C, FATHOM_ACT_NONE);
        tap_seq(tap, taps, m, "proj_out", b->tmp, HW, T, C);
        op->seq_to_nchw_add(be, x, b->tmp, T, C, HW, p0, P);
    }
    if (taps && tap->fn) {
        char name[48];
        snprintf(name, sizeof name, "mm%d.out", m);
        fathom_tap_emit(tap, name, x, 4, T, C, gh, gw);
    }
}
