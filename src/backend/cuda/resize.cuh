/* resize.cuh - the align_corners=True bilinear sample shared by resize.cu and postprocess.cu. */
#ifndef FATHOM_BACKEND_CUDA_RESIZE_CUH
#define FATHOM_BACKEND_CUDA_RESIZE_CUH

#include "backend/cuda/common.cuh"

/* Source index pair and weight along one axis: src = scale * d in float32, floor (src >= 0),
 * upper index clamped, exactly as the C twins. */
static __device__ __forceinline__ void ac_coord(float scale, int d, int n_in, int *i0, int *i1,
                                                float *l1) {
    float s = __fmul_rn(scale, (float)d);
    int f = (int)floorf(s);
    if (f > n_in - 1) f = n_in - 1;
    *i0 = f;
    *i1 = f < n_in - 1 ? f + 1 : f;
    *l1 = __fsub_rn(s, (float)f);
}

/* h0lambda * (w0lambda * v00 + w1lambda * v01) + h1lambda * (...), no FMA contraction so the
 * rounding follows the C twins. */
static __device__ __forceinline__ float bilinear_ac(const float *src, int Hi, int Wi, float sy,
                                                    float sx, int y, int x) {
    int y0, y1, x0, x1;
    float ly, lx;
    ac_coord(sy, y, Hi, &y0, &y1, &ly);
    ac_coord(sx, x, Wi, &x0, &x1, &lx);
    float lx0 = __fsub_rn(1.0f, lx), ly0 = __fsub_rn(1.0f, ly);
    const float *r0 = src + (size_t)y0 * Wi, *r1 = src + (size_t)y1 * Wi;
    float top = __fadd_rn(__fmul_rn(lx0, r0[x0]), __fmul_rn(lx, r0[x1]));
    float bot = __fadd_rn(__fmul_rn(lx0, r1[x0]), __fmul_rn(lx, r1[x1]));
    return __fadd_rn(__fmul_rn(ly0, top), __fmul_rn(ly, bot));
}

/* out (P, Ho, Wo) from in (P, Hi, Wi) on the backend stream. */
void cuda_resize_planes(cuda_ctx *c, float *out, const float *in, size_t P, int Hi, int Wi,
                        int Ho, int Wo);

#endif
