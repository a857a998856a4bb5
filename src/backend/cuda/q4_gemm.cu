/* q4_gemm.cu - linear on 4-bit weights (q4q8.cuh): weight-only, the CPU's q4 panels
 * dequantized in registers as each tile is loaded, with the epilogue fused. */
#include <float.h>

#include "backend/cuda/q4q8.cuh"

/* bf16(q * d), fp32 denormals to signed zero (fathom_cpu_q4_dequant_panel) */
static __device__ __forceinline__ float q4_value(int nib, float d) {
    float v = __fmul_rn((float)(nib - 8), d);
    return fabsf(v) < FLT_MIN ? copysignf(0.0f, v) : q_round_bf16(v);
}

/* out (M, N) = in (M, K) . W^T: a 64 x 64 tile per block, one scale group (32 k) per step.
 * Panel p of W holds Kp/2 k-pair rows of 32 bytes; column j's pair (2 kk, 2 kk + 1) is values
 * e = 2 j, 2 j + 1 of row kk: the low nibbles of bytes e for e < 32, else the high nibbles of
 * bytes e - 32. Scales: [Np/32][Kp/32][32] bf16. */
static __global__ void __launch_bounds__(Q_THREADS)
k_gemm_q4(float *out, const float *in, const uint8_t *qw, const uint16_t *qs, const float *b,
          const float *gamma, int M, int N, int Np, int K, int Kp, fathom_act act) {
    __shared__ float As[32][Q_BM + 1], Ws[32][Q_BN + 1];
    const int m0 = blockIdx.y * Q_BM, n0 = blockIdx.x * Q_BN, tid = threadIdx.x;
    float acc[4][4] = {{0.0f}};
    for (int k0 = 0; k0 < Kp; k0 += 32) {
        for (int i = tid; i < 32 * Q_BM; i += Q_THREADS) {
            int r = i / 32, k = i % 32, m = m0 + r;
            As[k][r] = m < M && k0 + k < K ? q_round_bf16(in[(size_t)m * K + k0 + k]) : 0.0f;
        }
        for (int i = tid; i < 16 * Q_BN; i += Q_THREADS) {
            int col = i % Q_BN, kk = i / Q_BN, n = n0 + col;
            float w0 = 0.0f, w1 = 0.0f;
            if (n < Np) {
                const int p = n / 32, j = n % 32, e = 2 * j;
                const uint8_t *row = qw + ((size_t)p * (Kp / 2) + k0 / 2 + kk) * 32;
                const float d = __uint_as_float((unsigned)qs[((size_t)p * (Kp / 32) + k0 / 32) * 32 + j] << 16);
                int n0b = row[e % 32], n1b = row[(e + 1) % 32];
                w0 = q4_value(e < 32 ? n0b & 15 : n0b >> 4, d);
                w1 = q4_value(e + 1 < 32 ? n1b & 15 : n1b >> 4, d);
            }
            Ws[2 * kk][col] = w0, Ws[2 * kk + 1][col] = w1;
        }
        __syncthreads();
        /* bf16 x bf16 is exact in fp32: one rounding per step, as the twin's sum */
        q_tile_mac(acc, As, Ws, [](float x, float y, float s) { return fmaf(x, y, s); });
        __syncthreads();
    }
    q_store_tile(out, [&](int i, int j, int, int) { return acc[i][j]; }, b, gamma, m0, n0, M, N, act);
}

void cuda_linear_q4(cuda_ctx *c, const cuda_qmat *q, float *out, const float *in, const float *b,
                    const float *gamma, int M, fathom_act act) {
    const int rows = 65535 * Q_BM; /* grid.y limit */
    for (int m0 = 0; m0 < M; m0 += rows) {
        int mc = M - m0 < rows ? M - m0 : rows;
        dim3 grid((unsigned)((q->N + Q_BN - 1) / Q_BN), (unsigned)((mc + Q_BM - 1) / Q_BM));
        k_gemm_q4<<<grid, Q_THREADS, 0, c->stream>>>(out + (size_t)m0 * q->N, in + (size_t)m0 * q->K,
                                                     (const uint8_t *)q->a, (const uint16_t *)q->b, b, gamma,
                                                     mc, q->N, q->Np, q->K, q->Kp, act);
        cuda_check_launch(c, "q4 gemm");
    }
}
