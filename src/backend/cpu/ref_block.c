/* ref_block.c - reference of the fused encoder ops: the composition of the plain ops. */
#include "backend/cpu/ref_ops.h"

void fathom_ref_ln_linear(float *out, float *y, const float *w, const float *b, const float *x,
                          const float *ln_w, const float *ln_b, int M, int N, int K, fathom_act act,
                          float eps) {
    fathom_ref_layernorm(y, x, ln_w, ln_b, M, K, eps);
    fathom_ref_linear(out, y, w, b, M, N, K, act);
}

void fathom_ref_ln_mlp_residual(float *x, float *h, const float *w1, const float *b1, const float *w2,
                                const float *b2, const float *gamma, const float *ln_w, const float *ln_b,
                                float *y, int M, int D, int H, float eps) {
    fathom_ref_ln_linear(h, y, w1, b1, x, ln_w, ln_b, M, H, D, FATHOM_ACT_GELU, eps);
    fathom_ref_linear_residual(x, h, w2, b2, gamma, M, D, H);
}
