/* block.cu - the fused encoder ops (ops.def) on CUDA: the composition of the plain ops, whose
 * kernels already keep the activations on the device. */
#include "backend/cuda/cuda_ops.h"

void fathom_cuda_ln_linear(fathom_backend *be, float *out, float *y, const float *w, const float *b,
                           const float *x, const float *ln_w, const float *ln_b, int M, int N, int K,
                           fathom_act act, float eps) {
    fathom_cuda_layernorm(be, y, x, ln_w, ln_b, M, K, eps);
    fathom_cuda_linear(be, out, y, w, b, M, N, K, act);
}

void fathom_cuda_ln_mlp_residual(fathom_backend *be, float *x, float *h, const float *w1, const float *b1,
                                 const float *w2, const float *b2, const float *gamma, const float *ln_w,
                                 const float *ln_b, float *y, int M, int D, int H, float eps) {
    fathom_cuda_ln_linear(be, h, y, w1, b1, x, ln_w, ln_b, M, H, D, FATHOM_ACT_GELU, eps);
    fathom_cuda_linear_residual(be, x, h, w2, b2, gamma, M, D, H);
}
