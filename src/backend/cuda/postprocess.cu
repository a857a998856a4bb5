/* postprocess.cu - depth back to the image size and to 8/16-bit codes and colors on the device.
 *
 * Twins: fathom_resize_depth (src/model/postprocess.c), fathom_norm_range /
 * fathom_normalize_u8 / _u16 (src/media/normalize.c) and fathom_colormap_apply
 * (src/media/colormap.c). The per-value arithmetic is the same float32 sequence, written with
 * explicit round-to-nearest intrinsics so nvcc does not contract it into FMAs. */
#include <math.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/reduce.cuh"
#include "backend/cuda/resize.cuh"

#define MM_THREADS 1024

extern "C" void fathom_cuda_resize_depth(fathom_backend *be, float *out, const float *in, int B,
                                         int h, int w, int h0, int w0) {
    if (B <= 0) return;
    cuda_resize_planes(cuda_of(be), out, in, (size_t)B, h, w, h0, w0);
}

/* one block per image: finite min and max; {0, 0} when there is none */
static __global__ void __launch_bounds__(MM_THREADS)
k_minmax(float *range, const float *depth, size_t n) {
    __shared__ float smin[32], smax[32];
    const float *d = depth + (size_t)blockIdx.x * n;
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
        float v = d[i];
        if (!isfinite(v)) continue;
        mn = fminf(mn, v);
        mx = fmaxf(mx, v);
    }
    mn = warp_min(mn);
    mx = warp_max(mx);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) smin[wid] = mn, smax[wid] = mx;
    __syncthreads();
    if (wid == 0) {
        mn = lane < nw ? smin[lane] : INFINITY;
        mx = lane < nw ? smax[lane] : -INFINITY;
        mn = warp_min(mn);
        mx = warp_max(mx);
        if (lane == 0) {
            if (mn > mx) mn = mx = 0.0f;
            range[2 * blockIdx.x] = mn;
            range[2 * blockIdx.x + 1] = mx;
        }
    }
}

extern "C" void fathom_cuda_minmax(fathom_backend *be, float *range, const float *depth, int B,
                                   size_t n) {
    cuda_ctx *c = cuda_of(be);
    if (B <= 0) return;
    k_minmax<<<(unsigned)B, MM_THREADS, 0, c->stream>>>(range, depth, n);
    cuda_check_launch(c, "minmax");
}

/* t in [0, 1] exactly as normalize.c's unit(): NaN and -Inf -> 0, +Inf -> 1 */
static __device__ __forceinline__ float unit(float v, float lo, float range) {
    if (isnan(v)) return 0.0f;
    if (!(range > 0.0f)) return 0.0f;
    float t = __fdiv_rn(__fsub_rn(v, lo), range);
    if (!(t > 0.0f)) return 0.0f;
    return t < 1.0f ? t : 1.0f;
}

static __device__ __forceinline__ float range_of(const float *r) {
    float range = __fsub_rn(r[1], r[0]);
    return isfinite(range) ? range : 0.0f;
}

static __global__ void k_quant_u8(uint8_t *out, const float *depth, const float *rg, size_t n,
                                  size_t total, int invert) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const float *r = rg + 2 * (i / n);
        uint8_t q = (uint8_t)__fmul_rn(unit(depth[i], r[0], range_of(r)), 255.0f);
        out[i] = invert ? (uint8_t)(255 - q) : q;
    }
}

static __global__ void k_quant_u16(uint16_t *out, const float *depth, const float *rg, size_t n,
                                   size_t total, int invert) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const float *r = rg + 2 * (i / n);
        uint16_t q =
            (uint16_t)__fadd_rn(__fmul_rn(unit(depth[i], r[0], range_of(r)), 65535.0f), 0.5f);
        out[i] = invert ? (uint16_t)(65535 - q) : q;
    }
}

static __global__ void k_colormap(uint8_t *rgb, const uint8_t *q, const uint8_t *lut, size_t n) {
    __shared__ uint8_t s[256 * 3];
    for (int i = threadIdx.x; i < 256 * 3; i += blockDim.x) s[i] = lut[i];
    __syncthreads();
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const uint8_t *e = s + 3 * q[i];
        rgb[3 * i] = e[0];
        rgb[3 * i + 1] = e[1];
        rgb[3 * i + 2] = e[2];
    }
}

extern "C" void fathom_cuda_quantize_u8(fathom_backend *be, uint8_t *out, const float *depth,
                                        const float *range, int B, size_t n, int invert) {
    cuda_ctx *c = cuda_of(be);
    size_t total = (size_t)(B > 0 ? B : 0) * n;
    if (!total) return;
    k_quant_u8<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(out, depth, range, n, total, invert);
    cuda_check_launch(c, "quantize_u8");
}

extern "C" void fathom_cuda_quantize_u16(fathom_backend *be, uint16_t *out, const float *depth,
                                         const float *range, int B, size_t n, int invert) {
    cuda_ctx *c = cuda_of(be);
    size_t total = (size_t)(B > 0 ? B : 0) * n;
    if (!total) return;
    k_quant_u16<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(out, depth, range, n, total, invert);
    cuda_check_launch(c, "quantize_u16");
}

extern "C" void fathom_cuda_colormap(fathom_backend *be, uint8_t *rgb, const uint8_t *q,
                                     const uint8_t *lut, size_t n) {
    cuda_ctx *c = cuda_of(be);
    if (!n) return;
    k_colormap<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(rgb, q, lut, n);
    cuda_check_launch(c, "colormap");
}
