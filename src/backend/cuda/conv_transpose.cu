/* conv_transpose.cu - ConvTranspose2d with kernel == stride (no overlap) as GEMM + scatter.
 *
 * Per image and tile of input pixels: T (pixels x Co k k, column-major) = in (pixels x Ci) .
 * w (Ci x Co k k); each T entry is exactly one output pixel, written with the bias by the
 * scatter kernel. */
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"

/* T (R = Co k k rows of pc pixels) -> out (Co, H k, W k) of one image */
static __global__ void k_scatter(float *out, const float *T, const float *b, int H, int W, int k,
                                 int p0, int pc, size_t n) {
    const size_t Wo = (size_t)W * k, Ho = (size_t)H * k;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int p = (int)(i % pc), r = (int)(i / pc);
        int kx = r % k, ky = (r / k) % k, co = r / (k * k);
        int ip = p0 + p, iy = ip / W, ix = ip % W;
        size_t oy = (size_t)iy * k + ky, ox = (size_t)ix * k + kx;
        out[((size_t)co * Ho + oy) * Wo + ox] = T[i] + (b ? b[co] : 0.0f);
    }
}

void fathom_cuda_conv_transpose(fathom_backend *be, float *out, const float *in, const float *w,
                                const float *b, int B, int Ci, int H, int W, int Co, int k) {
    cuda_ctx *c = cuda_of(be);
    if (B <= 0 || Co <= 0 || k <= 0 || H <= 0 || W <= 0) return;
    const size_t HW = (size_t)H * W;
    const int R = Co * k * k;
    if (HW > 0x7fffffff) {
        cuda_set_error(c, FATHOM_ERR_TOO_LARGE, "cuda conv_transpose: %dx%d input is too large", H, W);
        return;
    }
    size_t cap = c->scratch_bytes / sizeof(float) / (size_t)R;
    cap = cap / 64 * 64;
    if (cap == 0) {
        cuda_set_error(c, FATHOM_ERR_INTERNAL, "cuda conv_transpose: %d x %d x %d outputs exceed the scratch",
                       Co, k, k);
        return;
    }
    for (int bt = 0; bt < B; bt++) {
        const float *src = in + (size_t)bt * Ci * HW;
        float *dst = out + (size_t)bt * Co * HW * k * k;
        for (size_t p0 = 0; p0 < HW; p0 += cap) {
            int pc = (int)(HW - p0 < cap ? HW - p0 : cap);
            cuda_gemm(c, 0, 1, pc, R, Ci, src + p0, (int)HW, w, R, c->scratch, pc, NULL, 0);
            size_t n = (size_t)R * pc;
            k_scatter<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(dst, c->scratch, b, H, W, k,
                                                                  (int)p0, pc, n);
            cuda_check_launch(c, "conv_transpose scatter");
        }
    }
}
