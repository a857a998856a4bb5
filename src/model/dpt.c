/* dpt.c - DPT head forward pass (official depth_head), NCHW with the batch outermost.
 *
 * Work buffers rotate through three slots (p->work) so each fusion block reads its inputs and
 * writes its output without copies; each RCU is one op (dpt_rcu: its ReLUs and skip inside).
 * A fusion block's out_conv (1x1) runs before its 2x upsampling, not after: a 1x1 conv and a
 * bilinear resize (weights summing to 1) commute, and the conv then runs on a quarter of the
 * pixels. refinenet1's upsampling is fused into output_conv1 (conv2d_resized). The head's
 * last steps at full resolution are one op (dpt_head_tail) unless a tap watches head.conv2. */
#include "model/dpt.h"

#include <stdio.h>

/* Fusion block refinenet{k}: out = resize(out_conv(RCU2(a + RCU1(b)))) (= out_conv(resize(..))
 * of the official code), a == NULL for refinenet4; without the resize when oh == 0 (the
 * caller fuses it into the next conv). a and b are (B, F, h, w); a is overwritten. Returns
 * the slot holding out. */
static float *fusion(fathom_backend *be, const fathom_fusion_weights *fw, int B, int F, int h,
                     int w, int oh, int ow, float *a, const float *b, float *s0, float *s1,
                     float *s2) {
    const fathom_backend_ops *op = be->ops;
    const size_t n = (size_t)B * F * h * w;
    const float *u = b;
    /* s0 and s1 are free slots; s2 may be a's slot: a is last read before s2 is written */
    if (a) {
        op->add(be, a, a, b, n); /* a + b: the RCU1 skip and the fusion sum in one residual */
        op->dpt_rcu(be, s1, b, fw->rcu1_c1_w, fw->rcu1_c1_b, fw->rcu1_c2_w, fw->rcu1_c2_b, a, s0,
                    B, F, h, w);
        u = s1;
    }
    op->dpt_rcu(be, s2, u, fw->rcu2_c1_w, fw->rcu2_c1_b, fw->rcu2_c2_w, fw->rcu2_c2_b, u, s0, B, F,
                h, w);
    if (!oh) {
        op->conv2d(be, s1, s2, fw->out_w, fw->out_b, NULL, B, F, h, w, F, 1, 1, 0, 0);
        return s1;
    }
    op->conv2d(be, s0, s2, fw->out_w, fw->out_b, NULL, B, F, h, w, F, 1, 1, 0, 0);
    op->resize_bilinear(be, s1, s0, B * F, h, w, oh, ow);
    return s1;
}

void fathom_dpt_forward(fathom_backend *be, const fathom_weights *w, const fathom_plan *p,
                        float *arena, float *depth, fathom_tap *tap) {
    const fathom_backend_ops *op = be->ops;
    const fathom_arch *a = &w->arch;
    const int B = p->B, D = a->embed_dim, F = a->features, gh = p->gh, gw = p->gw, N = p->N;
    float *w0 = arena + p->work[0], *w1 = arena + p->work[1], *w2 = arena + p->work[2];
    char name[32];

    /* reassemble + layer_rn per level */
    for (int k = 0; k < 4; k++) {
        const int O = a->out_ch[k];
        const float *feat = arena + p->feat[k];
        /* tokens_to_nchw skips a leading class row: point one row before each image's patch
         * tokens (still inside the arena: p->feat[0] >= D, see fathom_plan_make). */
        for (int b = 0; b < B; b++)
            op->tokens_to_nchw(be, w0 + (size_t)b * D * N, feat + (size_t)b * N * D - D, 1, gh,
                               gw, D);
        op->conv2d(be, w1, w0, w->proj_w[k], w->proj_b[k], NULL, B, D, gh, gw, O, 1, 1, 0, 0);
        float *r = w2;
        if (k == 0)
            op->conv_transpose(be, r, w1, w->resize0_w, w->resize0_b, B, O, gh, gw, O, 4);
        else if (k == 1)
            op->conv_transpose(be, r, w1, w->resize1_w, w->resize1_b, B, O, gh, gw, O, 2);
        else if (k == 2)
            r = w1;
        else
            op->conv2d(be, r, w1, w->resize3_w, w->resize3_b, NULL, B, O, gh, gw, O, 3, 2, 1, 0);
        snprintf(name, sizeof name, "reassemble.%d", k);
        fathom_tap_emit(tap, name, r, 4, B, O, p->hk[k], p->wk[k]);
        float *l = arena + p->lrn[k];
        op->conv2d(be, l, r, w->rn_w[k], NULL, NULL, B, O, p->hk[k], p->wk[k], F, 3, 1, 1, 0);
        snprintf(name, sizeof name, "layer_rn.%d", k);
        fathom_tap_emit(tap, name, l, 4, B, F, p->hk[k], p->wk[k]);
    }

    /* fusion: path_4 .. path_1. Fixed slot roles {s0, s1 (output), s2 (= the input `a`)} so
     * that path_1 ends in work[0], the only slot sized for fusion tensors alone (at most
     * F x 8gh x 8gw); work[1] and work[2] also hold the (H, W)-sized head tensors. */
    static const int roles[4][3] = {{0, 1, 2}, {0, 2, 1}, {0, 1, 2}, {2, 0, 1}};
    float *slot[3] = {w0, w1, w2};
    float *path = NULL;
    for (int i = 0; i < 4; i++) {
        const int k = 3 - i; /* refinenet{k+1} at level k */
        const int oh = k > 0 ? p->hk[k - 1] : 0, ow = k > 0 ? p->wk[k - 1] : 0;
        path = fusion(be, &w->fusion[k], B, F, p->hk[k], p->wk[k], oh, ow, path,
                      arena + p->lrn[k], slot[roles[i][0]], slot[roles[i][1]], slot[roles[i][2]]);
        if (k > 0) {
            snprintf(name, sizeof name, "fusion.refinenet%d", k + 1);
            fathom_tap_emit(tap, name, path, 4, B, F, oh, ow);
        }
    }

    /* output head (path, refinenet1 before its upsampling, is in work[0]): upsample and conv1
     * at 8gh x 8gw -> work[1] (one op; work[2] is its work), upsample to (H, W) -> work[2],
     * conv 3x3 -> work[1], then the 1x1 conv into depth */
    const int h8 = 2 * p->hk[0], w8 = 2 * p->wk[0], F2 = F / 2, HH = a->head_hidden;
    if (tap && tap->fn) { /* refinenet1's upsampled output, for the tap only */
        op->resize_bilinear(be, w2, path, B * F, p->hk[0], p->wk[0], h8, w8);
        fathom_tap_emit(tap, "fusion.refinenet1", w2, 4, B, F, h8, w8);
    }
    op->conv2d_resized(be, w1, path, w->out1_w, w->out1_b, w2, B, F, p->hk[0], p->wk[0], h8, w8,
                       F2, 3, 1, 0);
    fathom_tap_emit(tap, "head.conv1", w1, 4, B, F2, h8, w8);
    if (tap && tap->fn) { /* the steps one by one, to show head.conv2 */
        op->resize_bilinear(be, w2, w1, B * F2, h8, w8, p->H, p->W);
        op->conv2d(be, w1, w2, w->out2_w, w->out2_b, NULL, B, F2, p->H, p->W, HH, 3, 1, 1, 0);
        fathom_tap_emit(tap, "head.conv2", w1, 4, B, HH, p->H, p->W);
        /* the ReLU of output_conv2[1] is fused into the 1x1 conv's input */
        op->conv2d(be, depth, w1, w->out3_w, w->out3_b, NULL, B, HH, p->H, p->W, 1, 1, 1, 0,
                   FATHOM_CONV_RELU_IN);
    } else { /* the same as one op: resize -> w2, conv -> w1 (after the resize read w1) */
        op->dpt_head_tail(be, depth, w1, w->out2_w, w->out2_b, w->out3_w, w->out3_b, w2, w1, B,
                          F2, h8, w8, p->H, p->W, HH);
    }
    fathom_tap_emit(tap, "head.preact", depth, 4, B, 1, p->H, p->W);
    op->depth_act(be, depth, (size_t)B * p->H * p->W, a->metric, a->max_depth);
}
