/* vda_head.c - DPTHeadTemporal forward and its memory plan (vda_head.h). */
#include "model/vda_head.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "model/vit.h"

static size_t up16(size_t n) { return (n + 15) / 16 * 16; }
static size_t maxz(size_t a, size_t b) { return a > b ? a : b; }

fathom_status fathom_vda_plan_make(const fathom_arch *a, int T, int H, int W, int threads,
                                   size_t budget, fathom_vda_plan *p) {
    memset(p, 0, sizeof *p);
    FATHOM_TRY(fathom_plan_make(a, T, H, W, threads, &p->enc)); /* validates, gives shapes */
    const fathom_plan *e = &p->enc;
    const size_t D = a->embed_dim, F = a->features, N = e->N, L = e->L, HW = (size_t)H * W;
    const size_t P = a->patch, HH = a->head_hidden;
    const size_t O[4] = {a->out_ch[0], a->out_ch[1], a->out_ch[2], a->out_ch[3]};
    const size_t n3 = (size_t)e->hk[3] * e->wk[3];
    /* one frame's largest tensor in a work slot, over every chunked phase */
    size_t fb = maxz(D * N, maxz(maxz(O[0], O[1]), maxz(O[2], O[3])) * N);
    fb = maxz(fb, maxz(O[0] * 16 * N, O[1] * 4 * N));
    fb = maxz(fb, F * 64 * N);
    fb = maxz(fb, maxz(F / 2, HH) * HW);
    const int taps = budget == 0;
    int tb = taps ? T : (int)(budget / fb);
    tb = tb < 1 ? 1 : tb > T ? T : tb;
    p->T = T, p->tb = tb;
    p->S = up16((size_t)tb * fb);
    /* encoder chunk: its four buffers within the three work slots */
    const size_t big = maxz(maxz(3 * D, (size_t)a->mlp_hidden) * L, N * 3 * P * P);
    const size_t fe = 3 * L * D + big;
    const size_t fp = maxz(D, maxz(O[2], O[3])) * N; /* a frame's tokens / projection */
    size_t ebz = 3 * p->S / fe < p->S / fp ? 3 * p->S / fe : p->S / fp;
    if (ebz > p->S / (8 * N * D)) ebz = p->S / (8 * N * D); /* its taken layers: half a slot */
    int eb = taps ? T : (int)ebz;
    eb = eb < 1 ? 1 : eb > T ? T : eb;
    p->eb = eb;
    size_t off = D; /* tokens_to_nchw reads from one row before a frame's tokens (see dpt.c) */
    p->pj[0] = off, off += up16((size_t)T * O[0] * N);
    p->pj[1] = off, off += up16((size_t)T * O[1] * N);
    p->r[0] = p->path3 = off;
    p->r[1] = off + up16((size_t)T * O[2] * N);
    off += maxz(p->r[1] - off + up16((size_t)T * O[3] * n3), up16((size_t)T * F * 4 * N));
    p->lrn[2] = off, off += up16((size_t)T * F * N);
    p->lrn[3] = off, off += up16((size_t)T * F * n3);
    p->path4 = off, off += up16((size_t)T * F * N);
    p->lrn[1] = off, off += up16((size_t)tb * F * 4 * N);
    p->lrn[0] = off, off += up16((size_t)tb * F * 16 * N);
    p->fc = off, off += 4 * up16((size_t)eb * N * D);
    p->work = off;
    for (int k = 0; k < 3; k++) p->w[k] = off, off += p->S;
    p->enc.B = eb;
    size_t eo = p->work;
    p->enc.x = eo, eo += up16((size_t)eb * L * D);
    p->enc.y = eo, eo += up16((size_t)eb * L * D);
    p->enc.att = eo, eo += up16((size_t)eb * L * D);
    p->enc.big = eo, eo += up16((size_t)eb * big);
    for (int k = 0; k < 4; k++) p->enc.feat[k] = p->fc + (size_t)k * up16((size_t)eb * N * D);
    p->work_floats = maxz(off, eo) - p->work;
    p->total = p->work + p->work_floats;
    return FATHOM_OK;
}

/* refinenet{k}: as dpt.c's fusion(): out = out_conv(resize(RCU2(a + RCU1(b)))) into s1;
 * s0 free, s2 free or a's buffer. */
static float *fusion(fathom_backend *be, const fathom_fusion_weights *fw, int B, int F, int h,
                     int w, int oh, int ow, float *a, const float *b, float *s0, float *s1,
                     float *s2) {
    const fathom_backend_ops *op = be->ops;
    const size_t n = (size_t)B * F * h * w;
    const float *u = b;
    if (a) {
        op->add(be, a, a, b, n);
        op->conv2d(be, s0, b, fw->rcu1_c1_w, fw->rcu1_c1_b, NULL, B, F, h, w, F, 3, 1, 1,
                   FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
        op->conv2d(be, s1, s0, fw->rcu1_c2_w, fw->rcu1_c2_b, a, B, F, h, w, F, 3, 1, 1, 0);
        u = s1;
    }
    op->conv2d(be, s0, u, fw->rcu2_c1_w, fw->rcu2_c1_b, NULL, B, F, h, w, F, 3, 1, 1,
               FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
    op->conv2d(be, s2, s0, fw->rcu2_c2_w, fw->rcu2_c2_b, u, B, F, h, w, F, 3, 1, 1, 0);
    op->resize_bilinear(be, s0, s2, B * F, h, w, oh, ow);
    op->conv2d(be, s1, s0, fw->out_w, fw->out_b, NULL, B, F, oh, ow, F, 1, 1, 0, 0);
    return s1;
}

/* projects[k] of B frames of feat (B, N, D) into pj (B, O, gh, gw); s0: scratch. */
static void project(fathom_backend *be, const fathom_weights *w, const fathom_plan *e, int k,
                    int B, const float *feat, float *s0, float *pj) {
    const fathom_backend_ops *op = be->ops;
    const int D = w->arch.embed_dim, N = e->N;
    for (int bb = 0; bb < B; bb++) /* tokens_to_nchw skips a class row: start one row early */
        op->tokens_to_nchw(be, s0 + (size_t)bb * D * N, feat + (size_t)bb * N * D - D, 1, e->gh,
                           e->gw, D);
    op->conv2d(be, pj, s0, w->proj_w[k], w->proj_b[k], NULL, B, D, e->gh, e->gw,
               w->arch.out_ch[k], 1, 1, 0, 0);
}

static void tap4(fathom_tap *tap, const char *what, int k, const float *t, int B, int C, int h,
                 int w) {
    char name[32];
    snprintf(name, sizeof name, "%s.%d", what, k);
    fathom_tap_emit(tap, name, t, 4, B, C, h, w);
}

/* resize_layers[k] of a projection (levels 0, 1: transposed convs; 3: strided conv) into r. */
static void resize_level(fathom_backend *be, const fathom_weights *w, const fathom_plan *e, int k,
                         int B, const float *pj, float *r) {
    const fathom_backend_ops *op = be->ops;
    const int O = w->arch.out_ch[k];
    if (k == 0)
        op->conv_transpose(be, r, pj, w->resize0_w, w->resize0_b, B, O, e->gh, e->gw, O, 4);
    else if (k == 1)
        op->conv_transpose(be, r, pj, w->resize1_w, w->resize1_b, B, O, e->gh, e->gw, O, 2);
    else
        op->conv2d(be, r, pj, w->resize3_w, w->resize3_b, NULL, B, O, e->gh, e->gw, O, 3, 2, 1, 0);
}

static void rn(fathom_backend *be, const fathom_weights *w, const fathom_plan *e, int k, int B,
               const float *r, float *l) {
    be->ops->conv2d(be, l, r, w->rn_w[k], NULL, NULL, B, w->arch.out_ch[k], e->hk[k], e->wk[k],
                    w->arch.features, 3, 1, 1, 0);
}

/* Encoder in chunks of eb frames; each chunk's features go straight to the held maps. */
static void encode(fathom_backend *be, const fathom_weights *w, const fathom_vda_plan *p,
                   float *arena, const float *img, const float *pos, fathom_tap *tap) {
    const fathom_plan *e = &p->enc;
    const fathom_arch *a = &w->arch;
    const size_t HW = (size_t)e->H * e->W, N = e->N;
    float *w0 = arena + p->w[0], *w1 = arena + p->w[1];
    for (int f0 = 0; f0 < p->T; f0 += p->eb) {
        fathom_plan pe = *e;
        pe.B = p->T - f0 < p->eb ? p->T - f0 : p->eb;
        fathom_vit_forward(be, w, &pe, arena, img + (size_t)f0 * 3 * HW, pos, tap);
        for (int k = 0; k < 4; k++) {
            const float *feat = arena + e->feat[k];
            const size_t at = (size_t)f0 * a->out_ch[k];
            if (k < 2) project(be, w, e, k, pe.B, feat, w0, arena + p->pj[k] + at * N);
            else if (k == 2) project(be, w, e, k, pe.B, feat, w0, arena + p->r[0] + at * N);
            else {
                project(be, w, e, k, pe.B, feat, w0, w1);
                resize_level(be, w, e, k, pe.B, w1,
                             arena + p->r[1] + at * e->hk[3] * e->wk[3]);
            }
        }
    }
    for (int k = 2; k < 4; k++)
        tap4(tap, "reassemble", k, arena + p->r[k - 2], p->T, a->out_ch[k], e->hk[k], e->wk[k]);
}

void fathom_vda_forward(fathom_backend *be, const fathom_weights *w,
                        const fathom_vda_weights *vw, const fathom_vda_plan *p, float *arena,
                        const float *img, const float *pos, float *depth,
                        const fathom_vda_bufs *b, const int chunk[4],
                        const fathom_vda_stream_io *io, fathom_tap *tap) {
    const fathom_backend_ops *op = be->ops;
    const fathom_arch *a = &w->arch;
    const fathom_plan *e = &p->enc;
    const int T = p->T, F = a->features, N = e->N, h = e->gh, ww = e->gw;
    const size_t HW = (size_t)e->H * e->W, n3 = (size_t)e->hk[3] * e->wk[3];
    float *w0 = arena + p->w[0], *w1 = arena + p->w[1], *w2 = arena + p->w[2];

    encode(be, w, p, arena, img, pos, tap);
    /* all frames: MM0/MM1 on levels 3-4, their rn convs */
    for (int k = 2; k < 4; k++) {
        float *r = arena + p->r[k - 2], *l = arena + p->lrn[k];
        fathom_vda_module_forward(be, &vw->mm[k - 2], r, T, e->hk[k] * e->wk[k], chunk[k - 2],
                                  io ? &io[k - 2] : NULL, b, tap, k - 2, e->hk[k], e->wk[k]);
        rn(be, w, e, k, T, r, l);
        tap4(tap, "layer_rn", k, l, T, F, e->hk[k], e->wk[k]);
    }
    /* refinenet4 in frame chunks, MM2 on all frames; the same for refinenet3 and MM3 */
    float *p4 = arena + p->path4, *p3 = arena + p->path3;
    for (int f0 = 0; f0 < T; f0 += p->tb) {
        const int B = T - f0 < p->tb ? T - f0 : p->tb;
        fusion(be, &w->fusion[3], B, F, e->hk[3], e->wk[3], h, ww, NULL,
               arena + p->lrn[3] + (size_t)f0 * F * n3, w0, p4 + (size_t)f0 * F * N, w2);
    }
    fathom_tap_emit(tap, "fusion.refinenet4", p4, 4, T, F, h, ww);
    fathom_vda_module_forward(be, &vw->mm[2], p4, T, h * ww, chunk[2], io ? &io[2] : NULL, b,
                              tap, 2, h, ww);
    for (int f0 = 0; f0 < T; f0 += p->tb) {
        const int B = T - f0 < p->tb ? T - f0 : p->tb;
        fusion(be, &w->fusion[2], B, F, h, ww, 2 * h, 2 * ww, p4 + (size_t)f0 * F * N,
               arena + p->lrn[2] + (size_t)f0 * F * N, w0, p3 + (size_t)f0 * F * 4 * N, w1);
    }
    fathom_tap_emit(tap, "fusion.refinenet3", p3, 4, T, F, 2 * h, 2 * ww);
    fathom_vda_module_forward(be, &vw->mm[3], p3, T, 4 * h * ww, chunk[3], io ? &io[3] : NULL, b,
                              tap, 3, 2 * h, 2 * ww);

    /* per frame, in chunks of tb: levels 1-2, refinenet2/1, output head */
    const int h8 = 2 * e->hk[0], w8 = 2 * e->wk[0], F2 = F / 2, HH = a->head_hidden;
    for (int f0 = 0; f0 < T; f0 += p->tb) {
        const int B = T - f0 < p->tb ? T - f0 : p->tb;
        for (int k = 0; k < 2; k++) {
            const float *pj = arena + p->pj[k] + (size_t)f0 * a->out_ch[k] * N;
            resize_level(be, w, e, k, B, pj, w2);
            tap4(tap, "reassemble", k, w2, B, a->out_ch[k], e->hk[k], e->wk[k]);
            rn(be, w, e, k, B, w2, arena + p->lrn[k]);
            tap4(tap, "layer_rn", k, arena + p->lrn[k], B, F, e->hk[k], e->wk[k]);
        }
        float *a2 = p3 + (size_t)f0 * F * 4 * N; /* consumed in place: each chunk once */
        float *q = fusion(be, &w->fusion[1], B, F, e->hk[1], e->wk[1], e->hk[0], e->wk[0], a2,
                          arena + p->lrn[1], w0, w1, w2);
        fathom_tap_emit(tap, "fusion.refinenet2", q, 4, B, F, e->hk[0], e->wk[0]);
        q = fusion(be, &w->fusion[0], B, F, e->hk[0], e->wk[0], h8, w8, q, arena + p->lrn[0], w2,
                   w0, w1);
        fathom_tap_emit(tap, "fusion.refinenet1", q, 4, B, F, h8, w8);
        float *d = depth + (size_t)f0 * HW;
        op->conv2d(be, w1, q, w->out1_w, w->out1_b, NULL, B, F, h8, w8, F2, 3, 1, 1, 0);
        fathom_tap_emit(tap, "head.conv1", w1, 4, B, F2, h8, w8);
        op->resize_bilinear(be, w2, w1, B * F2, h8, w8, e->H, e->W);
        op->conv2d(be, w1, w2, w->out2_w, w->out2_b, NULL, B, F2, e->H, e->W, HH, 3, 1, 1, 0);
        fathom_tap_emit(tap, "head.conv2", w1, 4, B, HH, e->H, e->W);
        op->conv2d(be, d, w1, w->out3_w, w->out3_b, NULL, B, HH, e->H, e->W, 1, 1, 1, 0,
                   FATHOM_CONV_RELU_IN);
        fathom_tap_emit(tap, "head.preact", d, 4, B, 1, e->H, e->W);
        op->depth_act(be, d, (size_t)B * HW, 0, 0.0f);
    }
}
