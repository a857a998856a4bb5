/* q8_gemm.cu - linear on int8 weights (q4q8.cuh): activations quantized per row into the
 * scratch, then a dp4a GEMM on the CPU's int8 panels with the epilogue fused. */
#include "backend/cuda/q4q8.cuh"
#include "backend/cuda/reduce.cuh"

/* a (rows, Kp) int8 and sa (rows) <- in (rows, K): s = max|x| / 127 (1 for a zero row),
 * q = round-to-even(x * (1 / s)) clamped to +-127, zeros past K (fathom_cpu_q8_rows) */
static __global__ void k_quant_rows(int8_t *a, float *sa, const float *in, int K, int Kp) {
    __shared__ float sh[32];
    const float *x = in + (size_t)blockIdx.x * K;
    int8_t *q = a + (size_t)blockIdx.x * Kp;
    float m = 0.0f;
    for (int k = threadIdx.x; k < K; k += blockDim.x) m = fmaxf(m, fabsf(x[k]));
    m = warp_max(m);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = m;
    __syncthreads();
    m = (int)threadIdx.x < (int)(blockDim.x >> 5) ? sh[threadIdx.x] : 0.0f;
    m = warp_max(m); /* every warp reduces the same partials */
    const float s = m > 0.0f ? __fdiv_rn(m, 127.0f) : 1.0f, inv = __fdiv_rn(1.0f, s);
    for (int k = threadIdx.x; k < Kp; k += blockDim.x) {
        float v = k < K ? rintf(__fmul_rn(x[k], inv)) : 0.0f;
        q[k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
    if (threadIdx.x == 0) sa[blockIdx.x] = s;
}

/* out (M, N) from a (M, Kp) int8 rows and the panels w [Np/32][Kp/4][32] (one int32 = four
 * k of one column): a 64 x 64 tile per block, 16 k-quads (64 k) of each side in shared
 * memory per step; thread (ty, tx) owns rows ty + 16 i and columns tx + 16 j. */
static __global__ void __launch_bounds__(Q_THREADS)
k_gemm_q8(float *out, const int *a, const float *sa, const int *w, const float *sw, const float *b,
          const float *gamma, int M, int N, int Np, int Kq, fathom_act act) {
    __shared__ int As[16][Q_BM + 1], Ws[16][Q_BN + 1];
    const int m0 = blockIdx.y * Q_BM, n0 = blockIdx.x * Q_BN, tid = threadIdx.x;
    int acc[4][4] = {{0}};
    for (int kq0 = 0; kq0 < Kq; kq0 += 16) {
        for (int i = tid; i < 16 * Q_BM; i += Q_THREADS) {
            int r = i / 16, kq = i % 16, m = m0 + r;
            As[kq][r] = m < M ? a[(size_t)m * Kq + kq0 + kq] : 0;
            int col = i % Q_BN, kw = i / Q_BN, n = n0 + col; /* 32 consecutive words per panel row */
            Ws[kw][col] = n < Np ? w[((size_t)(n / 32) * Kq + kq0 + kw) * 32 + n % 32] : 0;
        }
        __syncthreads();
        q_tile_mac(acc, As, Ws, [](int x, int y, int s) { return __dp4a(x, y, s); });
        __syncthreads();
    }
    /* the CPU's scaling: (float)acc * s_row * s_col, unfused */
    q_store_tile(out, [&](int i, int j, int m, int n) { return __fmul_rn(__fmul_rn((float)acc[i][j], sa[m]), sw[n]); },
                 b, gamma, m0, n0, M, N, act);
}

void cuda_linear_q8(cuda_ctx *c, const cuda_qmat *q, float *out, const float *in, const float *b,
                    const float *gamma, int M, fathom_act act) {
    /* rows per pass: their int8 copy and scales fit the scratch (ops never allocate) */
    size_t per_row = (size_t)q->Kp + sizeof(float);
    size_t rows = c->scratch_bytes / per_row / 64 * 64;
    if (!rows) {
        cuda_set_error(c, FATHOM_ERR_INTERNAL, "cuda int8 linear: K %d exceeds the scratch", q->K);
        return;
    }
    for (int m0 = 0; m0 < M; m0 += (int)rows) {
        int mc = M - m0 < (int)rows ? M - m0 : (int)rows;
        int8_t *a = (int8_t *)c->scratch;
        float *sa = (float *)(a + (size_t)mc * q->Kp); /* Kp is a multiple of 64: aligned */
        k_quant_rows<<<mc, 256, 0, c->stream>>>(a, sa, in + (size_t)m0 * q->K, q->K, q->Kp);
        cuda_check_launch(c, "int8 row quantization");
        dim3 grid((unsigned)((q->N + Q_BN - 1) / Q_BN), (unsigned)((mc + Q_BM - 1) / Q_BM));
        k_gemm_q8<<<grid, Q_THREADS, 0, c->stream>>>(out + (size_t)m0 * q->N, (const int *)a, sa,
                                                     (const int *)q->a, (const float *)q->b, b, gamma, mc,
                                                     q->N, q->Np, q->Kp / 4, act);
        cuda_check_launch(c, "int8 gemm");
    }
}
