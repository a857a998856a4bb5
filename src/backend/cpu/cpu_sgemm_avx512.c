/* cpu_sgemm_avx512.c - the fp32 encoder GEMM's register tile (cpu_sgemm.h): 14 rows x 32
 * columns in 28 zmm accumulators over the whole K, A read in place (14 row streams, each
 * value broadcast into the FMA), the weight panel (K x 32, packed at load) as two aligned
 * loads a step: 28 FMAs for 2 + 14 loads. The epilogue adds the bias and either stores or
 * adds gamma times the result to c (LayerScale + residual), while the tile is in registers. */
#include "backend/cpu/cpu_sgemm.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f")))

/* PF: the panel rows are prefetched this many k steps ahead (the panel comes from L2 while
 * the tile's FMAs run; +3-8 % per shape against none, loaded; past the panel's end it
 * touches the next panel, which never faults) */
enum { MR = FATHOM_SGEMM_MR, NR = FATHOM_SGEMM_NR, PF = 16 };

TGT static inline void store_row(float *c, __m512 v0, __m512 v1, __mmask16 m0, __mmask16 m1,
                                 const float *bias, const float *gamma) {
    if (bias) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, bias));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, bias + 16));
    }
    if (gamma) {
        v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, gamma), v0, _mm512_maskz_loadu_ps(m0, c));
        v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, gamma + 16), v1, _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
}

TGT static inline __attribute__((always_inline)) void store_tile(float *c, size_t ldc, const __m512 *acc, int rows, int cols, const float *bias,
                                                                 const float *gamma) {
    const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    for (int r = 0; r < rows; r++) store_row(c + (size_t)r * ldc, acc[2 * r], acc[2 * r + 1], m0, m1, bias, gamma);
}

/* Two row groups of 7 (a0: rows 0-6, a1: rows 7-13) keep the addresses in a few registers:
 * row r of a group is at base + r lda, which x86 addressing reaches from lda, 3 lda. */
TGT void fathom_cpu_sgemm_tile_avx512(float *c, size_t ldc, const float *a, size_t lda, const float *bp, int K,
                                      int rows, int cols, const float *bias, const float *gamma) {
    __m512 acc[2 * MR];
    for (int i = 0; i < 2 * MR; i++) acc[i] = _mm512_setzero_ps();
    /* rows past `rows` read row 0 again (their results are not stored) */
    const float *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = a + (size_t)(r < rows ? r : 0) * lda;
    if (rows == MR) {
        const float *a0 = a, *a1 = a + 7 * lda;
        for (int k = 0; k < K; k++) {
            const __m512 b0 = _mm512_load_ps(bp + (size_t)k * NR), b1 = _mm512_load_ps(bp + (size_t)k * NR + 16);
            _mm_prefetch((const char *)(bp + (size_t)(k + PF) * NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(bp + (size_t)(k + PF) * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 7
            for (int r = 0; r < 7; r++) {
                const __m512 x = _mm512_set1_ps(a0[r * lda + k]), y = _mm512_set1_ps(a1[r * lda + k]);
                acc[2 * r] = _mm512_fmadd_ps(x, b0, acc[2 * r]);
                acc[2 * r + 1] = _mm512_fmadd_ps(x, b1, acc[2 * r + 1]);
                acc[2 * r + 14] = _mm512_fmadd_ps(y, b0, acc[2 * r + 14]);
                acc[2 * r + 15] = _mm512_fmadd_ps(y, b1, acc[2 * r + 15]);
            }
        }
    } else {
        for (int k = 0; k < K; k++) {
            const __m512 b0 = _mm512_load_ps(bp + (size_t)k * NR), b1 = _mm512_load_ps(bp + (size_t)k * NR + 16);
#pragma GCC unroll 14
            for (int r = 0; r < MR; r++) {
                const __m512 x = _mm512_set1_ps(ar[r][k]);
                acc[2 * r] = _mm512_fmadd_ps(x, b0, acc[2 * r]);
                acc[2 * r + 1] = _mm512_fmadd_ps(x, b1, acc[2 * r + 1]);
            }
        }
    }
    store_tile(c, ldc, acc, rows, cols, bias, gamma);
}

/* The same on A packed k-major, ap[k * 14 + r] (one stream instead of 14; rows past `rows`
 * zero). */
TGT void fathom_cpu_sgemm_tile_packed_avx512(float *c, size_t ldc, const float *ap, const float *bp, int K,
                                             int rows, int cols, const float *bias, const float *gamma) {
    __m512 acc[2 * MR];
    for (int i = 0; i < 2 * MR; i++) acc[i] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const __m512 b0 = _mm512_load_ps(bp + (size_t)k * NR), b1 = _mm512_load_ps(bp + (size_t)k * NR + 16);
        _mm_prefetch((const char *)(bp + (size_t)(k + PF) * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(bp + (size_t)(k + PF) * NR + 16), _MM_HINT_T0);
        const float *a = ap + (size_t)k * MR;
#pragma GCC unroll 14
        for (int r = 0; r < MR; r++) {
            const __m512 x = _mm512_set1_ps(a[r]);
            acc[2 * r] = _mm512_fmadd_ps(x, b0, acc[2 * r]);
            acc[2 * r + 1] = _mm512_fmadd_ps(x, b1, acc[2 * r + 1]);
        }
    }
    store_tile(c, ldc, acc, rows, cols, bias, gamma);
}
#else

void fathom_cpu_sgemm_tile_avx512(float *c, size_t ldc, const float *a, size_t lda, const float *bp, int K,
                                  int rows, int cols, const float *bias, const float *gamma) {
    (void)c, (void)ldc, (void)a, (void)lda, (void)bp, (void)K, (void)rows, (void)cols, (void)bias, (void)gamma;
}

#endif
