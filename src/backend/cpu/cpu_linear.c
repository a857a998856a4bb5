/* cpu_linear.c - linear (+bias/GELU/ReLU) and LayerScale residual linear on sgemm.
 *
 * Rows are split into about two blocks per thread; each block is one single-threaded sgemm
 * followed at once by its epilogue (bias, activation, or gamma-scaled residual add) while the
 * block is still in cache, instead of a separate pass over the whole output. Blocks stay
 * large so the per-call packing of w costs a few percent at most. */
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/cpu_sgemm.h"

/* rows per block: ~M / (2 threads), a multiple of 16, within [16, cap] */
static int row_block(int M, int threads, int cap) {
    int rb = (M + 2 * threads - 1) / (2 * threads);
    rb = (rb + 15) / 16 * 16;
    if (rb > cap) rb = cap;
    return rb < 16 ? 16 : rb;
}

/* whether w has a packed twin of this shape (the op is then run by fathom_cpu_linear_packed) */
static int packed(fathom_backend *be, const float *w, int N, int K) {
    const fathom_bf16_mat *m = fathom_cpu_bf16_find(be, w);
    const fathom_q8_mat *q = fathom_cpu_q8_find(be, w);
    const fathom_q4_mat *q4 = fathom_cpu_q4_find(be, w);
    return (m && m->N == N && m->K == K) || (q && q->N == N && q->K == K) ||
           (q4 && q4->N == N && q4->K == K);
}

static void run_packed(fathom_backend *be, float *out, const float *in, const float *w,
                       const float *b, const float *gamma, int M, int N, int K, fathom_act act) {
    fathom_cpu_linear_packed(be, out, in, fathom_cpu_bf16_find(be, w), fathom_cpu_q8_find(be, w),
                             fathom_cpu_q4_find(be, w), b, gamma, M, N, K, act);
}

void fathom_cpu_linear(fathom_backend *be, float *out, const float *in, const float *w,
                       const float *b, int M, int N, int K, fathom_act act) {
    if (packed(be, w, N, K)) { /* bf16 / int8 / q4 weights (cpu_packed.h) */
        run_packed(be, out, in, w, b, NULL, M, N, K, act);
        return;
    }
    const fathom_sgemm_mat *sm = fathom_cpu_sgemm_find(be, w, N, K);
    if (sm) { /* fp32 weight panels (cpu_sgemm.h) */
        fathom_cpu_sgemm_linear(be, out, in, NULL, sm, b, NULL, M, act);
        return;
    }
    int rb = row_block(M, be->threads, 1 << 20);
    int nblk = (M + rb - 1) / rb;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int blk = 0; blk < nblk; blk++) {
        int m0 = blk * rb, rows = M - m0 < rb ? M - m0 : rb;
        float *o = out + (size_t)m0 * N;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.0f,
                    in + (size_t)m0 * K, K, w, K, 0.0f, o, N);
        if (b || act != FATHOM_ACT_NONE)
            for (int r = 0; r < rows; r++) fathom_cpu_bias_act(o + (size_t)r * N, b, N, act);
    }
}

void fathom_cpu_linear_residual(fathom_backend *be, float *x, const float *in, const float *w,
                                const float *b, const float *gamma, int M, int N, int K) {
    if (packed(be, w, N, K)) { /* as in linear */
        run_packed(be, x, in, w, b, gamma, M, N, K, FATHOM_ACT_NONE);
        return;
    }
    const fathom_sgemm_mat *sm = fathom_cpu_sgemm_find(be, w, N, K);
    if (sm) { /* as in linear */
        fathom_cpu_sgemm_linear(be, x, in, NULL, sm, b, gamma, M, FATHOM_ACT_NONE);
        return;
    }
    /* the gemm result goes to a scratch tile of rows x nc, then x += gamma * (t + b) */
    int nc = N < FATHOM_CPU_SCRATCH / 16 ? N : FATHOM_CPU_SCRATCH / 16;
    int rb = row_block(M, be->threads, FATHOM_CPU_SCRATCH / nc / 16 * 16);
    int nrow = (M + rb - 1) / rb, ncol = (N + nc - 1) / nc;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < nrow * ncol; t++) {
        int m0 = (t / ncol) * rb, n0 = (t % ncol) * nc;
        int rows = M - m0 < rb ? M - m0 : rb, cols = N - n0 < nc ? N - n0 : nc;
        float *tile = fathom_cpu_scratch(be);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, K, 1.0f,
                    in + (size_t)m0 * K, K, w + (size_t)n0 * K, K, 0.0f, tile, cols);
        for (int r = 0; r < rows; r++) {
            float *xr = x + (size_t)(m0 + r) * N + n0;
            const float *tr = tile + (size_t)r * cols, *g = gamma + n0;
            if (b) {
                const float *br = b + n0;
                for (int c = 0; c < cols; c++) xr[c] += g[c] * (tr[c] + br[c]);
            } else {
                for (int c = 0; c < cols; c++) xr[c] += g[c] * tr[c];
            }
        }
    }
}
