/* resize.cu - bilinear resize, align_corners=True, with the float32 coordinate math of the
 * reference (fathom_ref_resize_bilinear / PyTorch's CPU kernel): one thread per output. */
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/resize.cuh"

static __global__ void k_resize(float *out, const float *in, int Hi, int Wi, int Ho, int Wo,
                                float sy, float sx, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(i % Wo), y = (int)((i / Wo) % Ho);
        size_t p = i / ((size_t)Wo * Ho);
        out[i] = bilinear_ac(in + p * Hi * Wi, Hi, Wi, sy, sx, y, x);
    }
}

void cuda_resize_planes(cuda_ctx *c, float *out, const float *in, size_t P, int Hi, int Wi,
                        int Ho, int Wo) {
    if (!P || Hi <= 0 || Wi <= 0 || Ho <= 0 || Wo <= 0) return;
    float sy = Ho > 1 ? (float)(Hi - 1) / (float)(Ho - 1) : 0.0f;
    float sx = Wo > 1 ? (float)(Wi - 1) / (float)(Wo - 1) : 0.0f;
    size_t n = P * Ho * Wo;
    k_resize<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(out, in, Hi, Wi, Ho, Wo, sy, sx, n);
    cuda_check_launch(c, "resize_bilinear");
}

void fathom_cuda_resize_bilinear(fathom_backend *be, float *out, const float *in, int P, int Hi,
                                 int Wi, int Ho, int Wo) {
    if (P <= 0) return;
    cuda_resize_planes(cuda_of(be), out, in, (size_t)P, Hi, Wi, Ho, Wo);
}
