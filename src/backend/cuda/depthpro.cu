/* depthpro.cu - the Depth Pro ops (ops.def): PyTorch-recipe bilinear resize (align_corners=False)
 * and the tile crop/merge of the multi-scale encoder, one thread per output element. Twins:
 * fathom_ref_resize_bilinear_pt / _crop_tiles / _merge_tiles (cpu/ref_depthpro.c). */
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"

/* PyTorch's CPU source index (fathom_ref_pt_index): scale in float32, arithmetic in double. */
static __device__ void pt_index(int d, float scale, int n_in, int *i0, int *i1, float *w1) {
    double s = (double)scale * ((double)d + 0.5) - 0.5;
    if (s < 0) s = 0;
    int f = (int)floor(s);
    if (f > n_in - 1) f = n_in - 1;
    *i0 = f;
    *i1 = f < n_in - 1 ? f + 1 : f;
    *w1 = (float)(s - (double)f);
}

static __global__ void k_resize_pt(float *out, const float *in, int Hi, int Wi, int Ho, int Wo,
                                   float sy, float sx, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(i % Wo), y = (int)((i / Wo) % Ho);
        size_t p = i / ((size_t)Wo * Ho);
        int y0, y1, x0, x1;
        float ly, lx;
        pt_index(y, sy, Hi, &y0, &y1, &ly);
        pt_index(x, sx, Wi, &x0, &x1, &lx);
        const float *r0 = in + (p * Hi + y0) * Wi, *r1 = in + (p * Hi + y1) * Wi;
        float w0x = 1.0f - lx, w0y = 1.0f - ly;
        out[i] = __fadd_rn(__fmul_rn(__fadd_rn(__fmul_rn(r0[x0], w0x), __fmul_rn(r0[x1], lx)), w0y),
                           __fmul_rn(__fadd_rn(__fmul_rn(r1[x0], w0x), __fmul_rn(r1[x1], lx)), ly));
    }
}

void fathom_cuda_resize_bilinear_pt(fathom_backend *be, float *out, const float *in, int P,
                                    int Hi, int Wi, int Ho, int Wo, float inv_sy, float inv_sx) {
    if (P <= 0 || Hi <= 0 || Wi <= 0 || Ho <= 0 || Wo <= 0) return;
    cuda_ctx *c = cuda_of(be);
    float sy = inv_sy > 0.0f ? inv_sy : (float)Hi / (float)Ho;
    float sx = inv_sx > 0.0f ? inv_sx : (float)Wi / (float)Wo;
    size_t n = (size_t)P * Ho * Wo;
    k_resize_pt<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(out, in, Hi, Wi, Ho, Wo, sy, sx, n);
    cuda_check_launch(c, "resize_bilinear_pt");
}

/* out (n*n, C, t, t) <- in (C, H, W): tile (i, j) at (i stride, j stride) */
static __global__ void k_crop_tiles(float *out, const float *in, int C, int H, int W, int t,
                                    int stride, int n, size_t total) {
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(k % t), y = (int)((k / t) % t), c = (int)((k / ((size_t)t * t)) % C);
        size_t tile = k / ((size_t)t * t * C);
        int i = (int)(tile / n), j = (int)(tile % n);
        out[k] = in[((size_t)c * H + (size_t)i * stride + y) * W + (size_t)j * stride + x];
    }
}

void fathom_cuda_crop_tiles(fathom_backend *be, float *out, const float *in, int C, int H, int W,
                            int t, int stride, int n) {
    size_t total = (size_t)n * n * C * t * t;
    if (!total) return;
    cuda_ctx *c = cuda_of(be);
    k_crop_tiles<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(out, in, C, H, W, t, stride, n,
                                                                  total);
    cuda_check_launch(c, "crop_tiles");
}

/* out (C, S, S) <- tiles (n*n, C, g, g): output cell (oy, ox) belongs to the tile whose kept
 * rows/columns cover it; the first tile keeps [0, g - pad), middle ones [pad, g - pad), the last
 * [pad, g) (one tile alone keeps all). */
static __device__ void locate(int o, int n, int g, int pad, int *tile, int *in) {
    int first = n > 1 ? g - pad : g; /* cells of tile 0 */
    if (o < first || n == 1) {
        *tile = 0;
        *in = o;
        return;
    }
    int mid = g - 2 * pad, r = o - first;
    int k = 1 + r / mid;
    if (k > n - 1) k = n - 1;
    *tile = k;
    *in = pad + (r - (k - 1) * mid);
}

static __global__ void k_merge_tiles(float *out, const float *in, int C, int g, int n, int pad,
                                     int S, size_t total) {
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (size_t)gridDim.x * blockDim.x) {
        int ox = (int)(k % S), oy = (int)((k / S) % S), c = (int)(k / ((size_t)S * S));
        int ti, ty, tj, tx;
        locate(oy, n, g, pad, &ti, &ty);
        locate(ox, n, g, pad, &tj, &tx);
        out[k] = in[((((size_t)ti * n + tj) * C + c) * g + ty) * g + tx];
    }
}

void fathom_cuda_merge_tiles(fathom_backend *be, float *out, const float *in, int C, int g, int n,
                             int pad) {
    int S = n * g - 2 * pad * (n - 1);
    size_t total = (size_t)C * S * S;
    if (!total || S <= 0) return;
    cuda_ctx *c = cuda_of(be);
    k_merge_tiles<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(out, in, C, g, n, pad, S,
                                                                   total);
    cuda_check_launch(c, "merge_tiles");
}
