/* cpu_bf16_avx512.c - bf16 GEMM with AVX512-BF16 (vdpbf16ps), 12 x 32 register tiles.
 *
 * 24 fp32 accumulators + 2 B vectors + 1 broadcast fit the 32 zmm registers. Each step reads
 * one k-pair row of the panel (128 bytes) and broadcasts one bf16 pair per A row; each
 * vdpbf16ps adds two products per lane in fp32. The B panel (32 x Kp bf16) is reused from L1/L2
 * across the row tiles of a block. */
#include <string.h>

#include "backend/cpu/cpu_bf16.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bf16")))

TGT static inline void tile12x32(float *c, size_t ldc, const uint16_t *a, int Kp,
                                 const uint16_t *bp, int mv, __mmask16 k0, __mmask16 k1) {
    __m512 acc[12][2];
    for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int kk = 0; kk < Kp / 2; kk++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + (size_t)kk * 64);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + (size_t)kk * 64 + 32);
        for (int r = 0; r < 12; r++) {
            int32_t pair;
            memcpy(&pair, a + (size_t)r * Kp + 2 * kk, sizeof pair);
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
        }
    }
    for (int r = 0; r < 12 && r < mv; r++) {
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, k0, acc[r][0]);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, k1, acc[r][1]);
    }
}

TGT void fathom_cpu_gemm_bf16_avx512(float *c, size_t ldc, const uint16_t *a,
                                     const fathom_bf16_mat *w, int n0, int ncols, int M) {
    const int Kp = w->Kp;
    for (int j = 0; j < ncols; j += FATHOM_BF16_NR) {
        int v = ncols - j;
        __mmask16 k0 = v >= 16 ? 0xffff : (__mmask16)((1u << v) - 1);
        __mmask16 k1 = v >= 32 ? 0xffff : v <= 16 ? 0 : (__mmask16)((1u << (v - 16)) - 1);
        const uint16_t *bp = w->w + (size_t)((n0 + j) / FATHOM_BF16_NR) * Kp * FATHOM_BF16_NR;
        for (int m = 0; m < M; m += 12)
            tile12x32(c + (size_t)m * ldc + j, ldc, a + (size_t)m * Kp, Kp, bp, M - m, k0, k1);
    }
}

/* vcvtne2ps2bf16: nearest-even like fathom_f32_to_bf16 (it also flushes fp32 denormals) */
TGT void fathom_cpu_bf16_rows_avx512(uint16_t *a, const float *in, int rows, int K, int Kp) {
    for (int r = 0; r < rows; r++) {
        uint16_t *ar = a + (size_t)r * Kp;
        const float *ir = in + (size_t)r * K;
        int k = 0;
        for (; k + 32 <= K; k += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(ir + k + 16), _mm512_loadu_ps(ir + k));
            _mm512_storeu_si512(ar + k, (__m512i)v);
        }
        for (; k < K; k++) ar[k] = fathom_f32_to_bf16(ir[k]);
        for (; k < Kp; k++) ar[k] = 0;
    }
}

#else /* no AVX512-BF16 compiler support: never picked (fathom_cpu_features reports it only on x86-64) */

void fathom_cpu_gemm_bf16_avx512(float *c, size_t ldc, const uint16_t *a,
                                 const fathom_bf16_mat *w, int n0, int ncols, int M) {
    fathom_cpu_gemm_bf16_portable(c, ldc, a, w, n0, ncols, M);
}

void fathom_cpu_bf16_rows_avx512(uint16_t *a, const float *in, int rows, int K, int Kp) {
    fathom_cpu_bf16_rows(a, in, rows, K, Kp);
}

#endif
