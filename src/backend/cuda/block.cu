/* block.cu - the fused encoder ops (ops.def) on CUDA: the composition of the plain ops, whose
 * kernels already keep the activations on the device. */
#include "backend/cuda/cuda_ops.h"

void fathom_cuda_ln_linear(fathom_backend *be, float *out, float *y, const float *w, const float *b,
                           const float *x, const float *ln_w, const float *ln_b, int M, int N, int K,
                           fathom_act act, float eps) {
    fathom_cuda_layernorm(be, y, x, ln_w, ln_b, M, K, eps);
    fathom_cuda_linear(be, out, y, w, b, M, N, K, act);
}
