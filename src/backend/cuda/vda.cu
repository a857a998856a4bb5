/* vda.cu - the Video Depth Anything temporal ops (ops.def): GroupNorm, the (T, C, HW) <->
 * (positions, T, C) sequence layouts, the learned position table, GEGLU and strided row copies.
 * Twins: fathom_ref_group_norm ... fathom_ref_copy_rows (cpu/ref_vda.c). Statistics in fp32
 * over a block, two passes (mean, then centred variance) so large offsets keep their digits. */
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/reduce.cuh"

/* one block per (sample, group); its cg * HW values are contiguous */
static __global__ void k_group_norm(float *out, const float *in, const float *w, const float *b,
                                    int C, int HW, int G, float eps) {
    __shared__ float sh[32];
    const int cg = C / G, g = blockIdx.x % G;
    const size_t n = (size_t)cg * HW, base = (size_t)blockIdx.x * n;
    float s = 0.0f;
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) s += in[base + k];
    const float mean = block_sum(s, sh) / (float)n;
    float v = 0.0f;
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        float d = in[base + k] - mean;
        v += d * d;
    }
    const float rstd = rsqrtf(block_sum(v, sh) / (float)n + eps);
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        int ch = g * cg + (int)(k / HW);
        out[base + k] = (in[base + k] - mean) * rstd * w[ch] + b[ch];
    }
}

void fathom_cuda_group_norm(fathom_backend *be, float *out, const float *in, const float *w,
                            const float *b, int N, int C, int HW, int G, float eps) {
    if (N <= 0 || C <= 0 || HW <= 0 || G <= 0) return;
    cuda_ctx *c = cuda_of(be);
    k_group_norm<<<N * G, 256, 0, c->stream>>>(out, in, w, b, C, HW, G, eps);
    cuda_check_launch(c, "group_norm");
}

/* out (P, T, C)[p, t, c] = in (T, C, HW)[t, c, p0 + p] */
static __global__ void k_nchw_to_seq(float *out, const float *in, int T, int C, int HW, int p0,
                                     int P, size_t total) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % C), t = (int)((i / C) % T);
        size_t p = i / ((size_t)C * T);
        out[i] = in[((size_t)t * C + c) * HW + p0 + p];
    }
}

void fathom_cuda_nchw_to_seq(fathom_backend *be, float *out, const float *in, int T, int C,
                             int HW, int p0, int P) {
    size_t total = (size_t)P * T * C;
    if (!total) return;
    cuda_ctx *c = cuda_of(be);
    k_nchw_to_seq<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(out, in, T, C, HW, p0, P,
                                                                   total);
    cuda_check_launch(c, "nchw_to_seq");
}

/* out (T, C, HW)[t, c, p0 + p] += seq (P, T, C)[p, t, c]: one thread per output cell */
static __global__ void k_seq_to_nchw_add(float *out, const float *seq, int T, int C, int HW,
                                         int p0, int P, size_t total) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int p = (int)(i % P);
        size_t tc = i / P; /* t * C + c */
        out[tc * HW + p0 + p] += seq[((size_t)p * T) * C + tc];
    }
}

void fathom_cuda_seq_to_nchw_add(fathom_backend *be, float *out, const float *seq, int T, int C,
                                 int HW, int p0, int P) {
    size_t total = (size_t)P * T * C;
    if (!total) return;
    cuda_ctx *c = cuda_of(be);
    k_seq_to_nchw_add<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(out, seq, T, C, HW, p0, P,
                                                                       total);
    cuda_check_launch(c, "seq_to_nchw_add");
}

/* x (S, T, C) += pe (T, C) */
static __global__ void k_add_pe(float *x, const float *pe, size_t TC, size_t total) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] += pe[i % TC];
}

void fathom_cuda_add_pe(fathom_backend *be, float *x, const float *pe, int S, int T, int C) {
    size_t TC = (size_t)T * C, total = (size_t)S * TC;
    if (!total) return;
    cuda_ctx *c = cuda_of(be);
    k_add_pe<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(x, pe, TC, total);
    cuda_check_launch(c, "add_pe");
}

/* out (M, H) = in[:, :H] * GELU_erf(in[:, H:]) */
static __global__ void k_geglu(float *out, const float *in, int H, size_t total) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t m = i / H;
        int j = (int)(i % H);
        const float *r = in + m * 2 * H;
        float g = r[H + j];
        out[i] = r[j] * (0.5f * g * (1.0f + erff(g * 0.70710678118654752f)));
    }
}

void fathom_cuda_geglu(fathom_backend *be, float *out, const float *in, int M, int H) {
    size_t total = (size_t)M * H;
    if (!total) return;
    cuda_ctx *c = cuda_of(be);
    k_geglu<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(out, in, H, total);
    cuda_check_launch(c, "geglu");
    cuda_mark_wide(c, out, total * sizeof(float));
}

void fathom_cuda_copy_rows(fathom_backend *be, float *dst, size_t ld_dst, const float *src,
                           size_t ld_src, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    cuda_ctx *c = cuda_of(be);
    cudaError_t e = cudaMemcpy2DAsync(dst, ld_dst * sizeof(float), src, ld_src * sizeof(float),
                                      (size_t)cols * sizeof(float), (size_t)rows,
                                      cudaMemcpyDeviceToDevice, c->stream);
    if (e != cudaSuccess) cuda_check_launch(c, "copy_rows");
}
