/* attention.cu - flash-style attention forward (no L x L matrix anywhere), fp32 on CUDA cores.
 *
 * One block per (batch * head, 64-query tile); each of its 64 threads owns one query: q and the
 * output accumulator live in registers, K and V tiles of 64 keys (32 for HD 128) are staged in shared memory
 * (every thread reads the same K/V row at a time: broadcasts, no bank conflicts). Softmax is
 * online in fp32 with base-2 exponentials (q pre-scaled by scale * log2 e), rescaling the
 * accumulator once per 16 keys. Head sizes up to HD lanes are zero-padded: padded lanes add 0
 * to q.k and are never written out. Instantiated for HD 64 (every Depth Anything V2 model) and
 * HD 128. */
#include <math.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"

#define ATT_Q 64   /* queries per block = threads per block */
#define ATT_C 16   /* keys per online-softmax step */

template <int HD>
static __global__ void __launch_bounds__(ATT_Q)
k_attention(float *out, const float *qkv, int L, int D, int heads, int hd, float scale_log2) {
    constexpr int ATT_K = HD <= 64 ? 64 : 32; /* keys per tile: 2 tiles stay within 32 KiB */
    __shared__ float4 Ks[ATT_K][HD / 4];
    __shared__ float4 Vs[ATT_K][HD / 4];
    const int bh = blockIdx.y, b = bh / heads, h = bh % heads;
    const int t = blockIdx.x * ATT_Q + threadIdx.x;
    const size_t row = (size_t)3 * D;
    const float *base = qkv + (size_t)b * L * row + (size_t)h * hd;
    const bool active = t < L;

    float q[HD], o[HD];
#pragma unroll
    for (int d = 0; d < HD; d++) {
        q[d] = (active && d < hd) ? base[(size_t)t * row + d] * scale_log2 : 0.0f;
        o[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;

    for (int k0 = 0; k0 < L; k0 += ATT_K) {
        const int nk = L - k0 < ATT_K ? L - k0 : ATT_K;
        __syncthreads(); /* previous tile fully consumed */
        float *kf = (float *)Ks, *vf = (float *)Vs;
        for (int e = threadIdx.x; e < ATT_K * HD; e += ATT_Q) {
            int j = e / HD, d = e % HD;
            float kv = 0.0f, vv = 0.0f;
            if (j < nk && d < hd) {
                const float *src = base + (size_t)(k0 + j) * row + d;
                kv = src[D];
                vv = src[2 * D];
            }
            kf[e] = kv;
            vf[e] = vv;
        }
        __syncthreads();
        if (active) {
            for (int j0 = 0; j0 < nk; j0 += ATT_C) {
                float s[ATT_C];
                float cmax = -INFINITY;
#pragma unroll
                for (int j = 0; j < ATT_C; j++) {
                    float acc = 0.0f;
                    if (j0 + j < nk) {
#pragma unroll
                        for (int d4 = 0; d4 < HD / 4; d4++) {
                            float4 kk = Ks[j0 + j][d4];
                            acc += q[4 * d4] * kk.x + q[4 * d4 + 1] * kk.y + q[4 * d4 + 2] * kk.z +
                                   q[4 * d4 + 3] * kk.w;
                        }
                        cmax = fmaxf(cmax, acc);
                    }
                    s[j] = acc;
                }
                const float mn = fmaxf(m, cmax); /* finite: chunk has >= 1 valid key */
                const float corr = exp2f(m - mn); /* m = -inf on the first chunk: 0 */
                l *= corr;
#pragma unroll
                for (int d = 0; d < HD; d++) o[d] *= corr;
#pragma unroll
                for (int j = 0; j < ATT_C; j++) {
                    if (j0 + j < nk) {
                        const float p = exp2f(s[j] - mn);
                        l += p;
#pragma unroll
                        for (int d4 = 0; d4 < HD / 4; d4++) {
                            float4 vv = Vs[j0 + j][d4];
                            o[4 * d4] += p * vv.x;
                            o[4 * d4 + 1] += p * vv.y;
                            o[4 * d4 + 2] += p * vv.z;
                            o[4 * d4 + 3] += p * vv.w;
                        }
                    }
                }
                m = mn;
            }
        }
    }
    if (active) {
        const float inv = 1.0f / l; /* l >= 1: the maximum key contributes exp2(0) */
        float *dst = out + ((size_t)b * L + t) * D + (size_t)h * hd;
#pragma unroll
        for (int d = 0; d < HD; d++)
            if (d < hd) dst[d] = o[d] * inv;
    }
}

void fathom_cuda_attention(fathom_backend *be, float *out, const float *qkv, int B, int L, int D,
                           int heads, float scale) {
    cuda_ctx *c = cuda_of(be);
    if (B <= 0 || L <= 0 || heads <= 0) return;
    if (D % heads != 0) {
        cuda_set_error(c, FATHOM_ERR_SHAPE, "cuda attention: width %d is not a multiple of %d heads",
                       D, heads);
        return;
    }
    const int hd = D / heads;
    if ((long long)B * heads > 65535) {
        cuda_set_error(c, FATHOM_ERR_TOO_LARGE, "cuda attention: %d x %d heads exceeds the grid",
                       B, heads);
        return;
    }
    dim3 grid((unsigned)((L + ATT_Q - 1) / ATT_Q), (unsigned)(B * heads));
    const float sl2 = scale * 1.4426950408889634f;
    if (hd <= 64)
        k_attention<64><<<grid, ATT_Q, 0, c->stream>>>(out, qkv, L, D, heads, hd, sl2);
    else if (hd <= 128)
        k_attention<128><<<grid, ATT_Q, 0, c->stream>>>(out, qkv, L, D, heads, hd, sl2);
    else {
        cuda_set_error(c, FATHOM_ERR_UNSUPPORTED, "cuda attention: head size %d (> 128)", hd);
        return;
    }
    cuda_check_launch(c, "attention");
}
