/* attention.cu - flash-style attention forward (no L x L matrix anywhere), fp32 on CUDA cores.
 *
 * One block per (batch * head, 64-query tile) with 128 threads: thread (half, i) owns query i
 * of the tile for the keys of its half of every K/V tile (half 0: keys 0..KT/2-1 of the tile,
 * half 1: the rest), so a batch-1 pass still has 4 warps per block. q and the output
 * accumulator live in registers; K and V tiles of KT keys (64; 32 for HD 128) are staged in
 * shared memory, and a warp reads one K/V row at a time (broadcast, no bank conflicts).
 * Softmax is online in fp32 with base-2 exponentials (q pre-scaled by scale * log2 e),
 * rescaling the accumulator once per 16 keys. At the end the two halves' (max, sum, output)
 * are merged through shared memory like two flash-attention splits. Head sizes up to HD are
 * zero-padded: padded lanes add 0 to q.k and are never written. Instantiated for HD 64 (every
 * Depth Anything V2 model) and HD 128. */
#include <math.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"

#define ATT_Q 64            /* queries per block */
#define ATT_T (2 * ATT_Q)   /* threads per block: two key halves per query */
#define ATT_C 16            /* keys per online-softmax step */

template <int HD>
static __global__ void __launch_bounds__(ATT_T)
k_attention(float *out, const float *qkv, int L, int D, int heads, int hd, float scale_log2) {
    constexpr int KT = HD <= 64 ? 64 : 32; /* keys per tile: K + V tiles = 32 KiB */
    constexpr int KH = KT / 2;             /* keys per half; a multiple of ATT_C */
    /* one buffer: K tile, V tile; reused for the merge (ATT_Q * HD floats <= 2 KT HD) */
    __shared__ float4 tiles[2 * KT * (HD / 4)];
    __shared__ float xm[ATT_Q], xl[ATT_Q];
    float4 (*Ks)[HD / 4] = (float4 (*)[HD / 4])tiles;
    float4 (*Vs)[HD / 4] = (float4 (*)[HD / 4])(tiles + KT * (HD / 4));
    static_assert(ATT_Q * HD <= 2 * KT * HD, "merge buffer must fit the tiles");
    const int bh = blockIdx.y, b = bh / heads, h = bh % heads;
    const int qi = threadIdx.x % ATT_Q, half = threadIdx.x / ATT_Q; /* half is warp-uniform */
    const int t = blockIdx.x * ATT_Q + qi;
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

    for (int k0 = 0; k0 < L; k0 += KT) {
        const int nk = L - k0 < KT ? L - k0 : KT;
        __syncthreads(); /* the previous tile is fully consumed */
        float *kf = (float *)&Ks[0][0], *vf = (float *)&Vs[0][0];
        for (int e = threadIdx.x; e < KT * HD; e += ATT_T) {
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
        const int jb = half * KH, je = jb + KH < nk ? jb + KH : nk; /* this half's keys */
        if (!active) continue;
        for (int j0 = jb; j0 < je; j0 += ATT_C) {
            float s[ATT_C];
            float cmax = -INFINITY;
#pragma unroll
            for (int j = 0; j < ATT_C; j++) {
                float acc = 0.0f;
                if (j0 + j < je) {
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
            const float mn = fmaxf(m, cmax);  /* finite: j0 < je, so one key is valid */
            const float corr = exp2f(m - mn); /* 0 while m is still -inf */
            l *= corr;
#pragma unroll
            for (int d = 0; d < HD; d++) o[d] *= corr;
#pragma unroll
            for (int j = 0; j < ATT_C; j++) {
                if (j0 + j < je) {
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

    /* merge: half 1 leaves (m, l, o) in shared memory, half 0 combines and writes. Half 0
     * always saw key 0, so its m is finite; half 1's m is -inf when L <= KH (weight 0). */
    __syncthreads(); /* all reads of Ks / Vs are done: reuse them */
    float *xo = (float *)tiles; /* ATT_Q x HD floats */
    if (half == 1) {
#pragma unroll
        for (int d = 0; d < HD; d++) xo[d * ATT_Q + qi] = o[d]; /* column-major: no conflicts */
        xm[qi] = m;
        xl[qi] = l;
    }
    __syncthreads();
    if (half == 0 && active) {
        const float m1 = xm[qi], l1 = xl[qi];
        const float mm = fmaxf(m, m1);
        const float c0 = exp2f(m - mm), c1 = exp2f(m1 - mm);
        const float inv = 1.0f / (l * c0 + l1 * c1); /* >= 1: the maximum key gives exp2(0) */
        float *dst = out + ((size_t)b * L + t) * D + (size_t)h * hd;
#pragma unroll
        for (int d = 0; d < HD; d++)
            if (d < hd) dst[d] = (o[d] * c0 + xo[d * ATT_Q + qi] * c1) * inv;
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
        k_attention<64><<<grid, ATT_T, 0, c->stream>>>(out, qkv, L, D, heads, hd, sl2);
    else if (hd <= 128)
        k_attention<128><<<grid, ATT_T, 0, c->stream>>>(out, qkv, L, D, heads, hd, sl2);
    else {
        cuda_set_error(c, FATHOM_ERR_UNSUPPORTED, "cuda attention: head size %d (> 128)", hd);
        return;
    }
    cuda_check_launch(c, "attention");
}
