/* ref_block.c - reference of the fused encoder ops: the composition of the plain ops. */
#include "backend/cpu/ref_ops.h"

void fathom_ref_ln_linear(float *out, float *y, const float *w, const float *b, const float *x,
                          const float *ln_w, const float *ln_b, int M, int N, int K, fathom_act act,
                          float eps) {
    fathom_ref_layernorm(y, x, ln_w, ln_b, M, K, eps);
    fathom_ref_linear(out, y, w, b, M, N, K, act);
}
