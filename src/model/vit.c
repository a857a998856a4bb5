/* vit.c - DINOv2 encoder: batch folded into the GEMM M dimension (B * L rows), residuals
 * fused into the projection GEMMs (linear_residual), GELU fused into fc1, each block's two
 * LayerNorms fused into the GEMMs that read them (ln_linear, ln_mlp_residual). */
#include "model/vit.h"

#include <math.h>
#include <stdio.h>

void fathom_vit_forward(fathom_backend *be, const fathom_weights *w, const fathom_plan *p,
                        float *arena, const float *img, const float *pos, fathom_tap *tap) {
    const fathom_backend_ops *op = be->ops;
    const fathom_arch *a = &w->arch;
    const int B = p->B, N = p->N, L = p->L, D = a->embed_dim, Hm = a->mlp_hidden, P = a->patch;
    const int M = B * L;
    float *x = arena + p->x, *y = arena + p->y, *big = arena + p->big, *att = arena + p->att;

    /* patch embedding as one GEMM: patches (B*N, 3*P*P) . W^T; emb lands in att (free now) */
    op->patchify(be, big, img, B, p->H, p->W, P);
    op->linear(be, att, big, w->patch_w, w->patch_b, B * N, D, 3 * P * P, FATHOM_ACT_NONE);
    op->assemble_tokens(be, x, att, w->cls_token, pos, B, N, D);
    fathom_tap_emit(tap, "tokens.embed", x, 3, B, L, D, 0);

    const float scale = (float)pow((double)(D / a->heads), -0.5);
    int taken = 0;
    for (int i = 0; i < a->depth; i++) {
        const fathom_block_weights *bw = &w->blocks[i];
        op->ln_linear(be, big, y, bw->qkv_w, bw->qkv_b, x, bw->norm1_w, bw->norm1_b, M, 3 * D, D,
                      FATHOM_ACT_NONE, a->ln_eps);
        op->attention(be, att, big, B, L, D, a->heads, scale);
        op->linear_residual(be, x, att, bw->proj_w, bw->proj_b, bw->ls1, M, D, D);
        op->ln_mlp_residual(be, x, big, bw->fc1_w, bw->fc1_b, bw->fc2_w, bw->fc2_b, bw->ls2,
                            bw->norm2_w, bw->norm2_b, y, M, D, Hm, a->ln_eps);
        if (tap->fn) {
            char name[32];
            snprintf(name, sizeof name, "tokens.block%d", i);
            fathom_tap_emit(tap, name, x, 3, B, L, D, 0);
        }
        /* final LayerNorm on each taken layer, class token dropped: (B, N, D) contiguous */
        while (taken < 4 && a->layer_idx[taken] == i) {
            float *f = arena + p->feat[taken];
            for (int b = 0; b < B; b++)
                op->layernorm(be, f + (size_t)b * N * D, x + ((size_t)b * L + 1) * D, w->norm_w,
                              w->norm_b, N, D, a->ln_eps);
            if (tap->fn) {
                char name[32];
                snprintf(name, sizeof name, "features.%d", taken);
                fathom_tap_emit(tap, name, f, 3, B, N, D, 0);
            }
            taken++;
        }
    }
}
