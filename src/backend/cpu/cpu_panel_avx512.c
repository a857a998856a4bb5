/* cpu_panel_avx512.c - C (M x n) += A (M x K) . B (K x 64 panel) with AVX-512 register tiles.
 *
 * For small-M products where sgemm is limited by packing (conv2d: M = Co = 32..64 output
 * channels, K = Ci k k, B = one 64-pixel im2col panel built contiguously by the caller).
 * 4 x 64 tiles keep 16 accumulators in registers; each step loads one B row (4 vectors)
 * and broadcasts 4 A values. n < 64 valid columns use masked loads/stores of C (B rows
 * must still have 64 readable floats). */
#include "backend/cpu/cpu_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* B row k is b + k * ldb, or rows[k] when rows is not NULL */
__attribute__((target("avx512f"))) static void tile_4x64(float *c, size_t ldc, const float *a,
                                                         int lda, const float *b, size_t ldb,
                                                         const float *const *rows, int K,
                                                         const __mmask16 mk[4]) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < 4; v++)
            acc[r][v] = _mm512_maskz_loadu_ps(mk[v], c + (size_t)r * ldc + 16 * v);
    for (int k = 0; k < K; k++) {
        const float *br = rows ? rows[k] : b + k * ldb;
        __m512 b0 = _mm512_loadu_ps(br), b1 = _mm512_loadu_ps(br + 16);
        __m512 b2 = _mm512_loadu_ps(br + 32), b3 = _mm512_loadu_ps(br + 48);
        for (int r = 0; r < 4; r++) {
            __m512 av = _mm512_set1_ps(a[(size_t)r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(av, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(av, b3, acc[r][3]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < 4; v++)
            _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16 * v, mk[v], acc[r][v]);
}

__attribute__((target("avx512f"))) static void tile_1x64(float *c, const float *a,
                                                         const float *b, size_t ldb,
                                                         const float *const *rows, int K,
                                                         const __mmask16 mk[4]) {
    __m512 acc[4];
    for (int v = 0; v < 4; v++) acc[v] = _mm512_maskz_loadu_ps(mk[v], c + 16 * v);
    for (int k = 0; k < K; k++) {
        __m512 av = _mm512_set1_ps(a[k]);
        for (int v = 0; v < 4; v++)
            acc[v] = _mm512_fmadd_ps(av, _mm512_loadu_ps((rows ? rows[k] : b + k * ldb) + 16 * v), acc[v]);
    }
    for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(c + 16 * v, mk[v], acc[v]);
}

static void panel_gemm(float *c, size_t ldc, const float *a, int lda, const float *b, size_t ldb,
                       const float *const *rows, int K, int M, int n) {
    __mmask16 mk[4];
    for (int v = 0; v < 4; v++) {
        int valid = n - 16 * v;
        mk[v] = valid >= 16 ? (__mmask16)0xffff : valid <= 0 ? 0 : (__mmask16)((1u << valid) - 1);
    }
    /* K in chunks of 64 B rows (16 KiB) so the chunk stays in L1 across all row tiles */
    for (int k0 = 0; k0 < K; k0 += 64) {
        int kc = K - k0 < 64 ? K - k0 : 64;
        const float *bk = rows ? NULL : b + (size_t)k0 * ldb;
        const float *const *rk = rows ? rows + k0 : NULL;
        int m = 0;
        for (; m + 4 <= M; m += 4)
            tile_4x64(c + (size_t)m * ldc, ldc, a + (size_t)m * lda + k0, lda, bk, ldb, rk, kc, mk);
        for (; m < M; m++)
            tile_1x64(c + (size_t)m * ldc, a + (size_t)m * lda + k0, bk, ldb, rk, kc, mk);
    }
}

void fathom_cpu_panel_gemm(float *c, size_t ldc, const float *a, int lda, const float *b,
                           size_t ldb, int K, int M, int n) {
    panel_gemm(c, ldc, a, lda, b, ldb, NULL, K, M, n);
}

void fathom_cpu_panel_gemm_rows(float *c, size_t ldc, const float *a, int lda,
                                const float *const *rows, int K, int M, int n) {
    panel_gemm(c, ldc, a, lda, NULL, 0, rows, K, M, n);
}

#else

void fathom_cpu_panel_gemm_rows(float *c, size_t ldc, const float *a, int lda,
                                const float *const *rows, int K, int M, int n) {
    (void)c, (void)ldc, (void)a, (void)lda, (void)rows, (void)K, (void)M, (void)n;
}

void fathom_cpu_panel_gemm(float *c, size_t ldc, const float *a, int lda, const float *b,
                           size_t ldb, int K, int M, int n) {
    (void)c, (void)ldc, (void)a, (void)lda, (void)b, (void)ldb, (void)K, (void)M, (void)n;
}

#endif
