/* cpu_sgemm_avx512.c - the fp32 encoder GEMM's register tile (cpu_sgemm.h): 14 rows x 32
 * columns in 28 zmm accumulators over the whole K, the weight panel (K x 32, packed at load)
 * as two aligned loads a step, each A value broadcast into the FMA: 28 FMAs for 2 + 14
 * loads. A is read in place (14 row streams) or packed k-major (one stream). The epilogue
 * runs on the tile in registers: bias, then GELU / ReLU, or c += gamma * (acc + bias)
 * (LayerScale + residual). */
#include "backend/cpu/cpu_sgemm.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f")))

/* PF: the panel rows are prefetched this many k steps ahead (the panel comes from L2 while
 * the tile's FMAs run; +3-8 % per shape against none, loaded; past the panel's end it
 * touches the next panel, which never faults) */
enum { MR = FATHOM_SGEMM_MR, NR = FATHOM_SGEMM_NR, PF = 16 };

#define PS(x) _mm512_set1_ps(x)

/* c[0] x^(n-1) + ... + c[n-1], Horner's rule in FMAs */
TGT static inline __m512 horner(__m512 x, const float *c, int n) {
    __m512 p = PS(c[0]);
    for (int i = 1; i < n; i++) p = _mm512_fmadd_ps(p, x, PS(c[i]));
    return p;
}

/* exp and erf as cpu_math.c's exp_kernel / erf_kernel (the same polynomials and clamps), 16
 * lanes: GELU in the store, where the tile is in registers (a pass after the task found
 * fc1's outputs evicted from L2 by the panels streamed meanwhile: 3.6 % of an fp32 pass) */
TGT static inline __m512 exp16(__m512 x) {
    static const float c[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                              4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    x = _mm512_max_ps(_mm512_min_ps(x, PS(88.3762626647949f)), PS(-86.6f));
    const __m512 shifter = PS(12582912.0f);
    const __m512 t = _mm512_fmadd_ps(x, PS(1.44269504088896341f), shifter);
    const __m512 n = _mm512_sub_ps(t, shifter);
    __m512 r = _mm512_fnmadd_ps(n, PS(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, PS(-2.12194440e-4f), r);
    __m512 p = horner(r, c, 6);
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), PS(1.0f));
    const __m512i ni = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(shifter));
    const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(126)), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, scale), PS(2.0f));
}

TGT static inline __m512 gelu16(__m512 x) {
    static const float cp[] = {-0.00067564795686800468f, 0.0051153321125322259f, -0.026835114568609705f,
                               0.11283386538414544f,     -0.37612619469437675f,  1.1283791655787516f};
    static const float cq[] = {-0.00013762878055155706f, 0.00033683725516700123f, -0.00039362745756274894f,
                               0.00087661881763514873f,  -0.0023547752746558427f, 0.0050693377993745528f,
                               -0.010337060480867011f,   0.02075208770128471f,    -0.040158167746066599f,
                               0.074427975468440558f,    -0.13158782427680657f,   0.22050566531503996f};
    const __m512 z = _mm512_mul_ps(x, PS(0.70710678118654752f));
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000u));
    const __m512 a = _mm512_min_ps(_mm512_abs_ps(z), PS(4.0f)), u = _mm512_mul_ps(a, a);
    const __m512 p = _mm512_mul_ps(horner(u, cp, 6), a);
    const __m512 s = _mm512_mul_ps(_mm512_sub_ps(a, PS(2.375f)), PS(1.0f / 1.625f));
    const __m512 q = horner(s, cq, 12);
    const __m512 big = _mm512_fnmadd_ps(exp16(_mm512_sub_ps(_mm512_setzero_ps(), u)), q, PS(1.0f));
    const __m512 e = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, PS(0.75f), _CMP_LT_OQ), big, p);
    const __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(e), sign));
    return _mm512_mul_ps(_mm512_mul_ps(PS(0.5f), x), _mm512_add_ps(PS(1.0f), erf));
}

TGT static inline __m512 act16(__m512 v, fathom_act act) {
    if (act == FATHOM_ACT_GELU) return gelu16(v);
    if (act == FATHOM_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    return v;
}

TGT static inline void store_row(float *c, __m512 v0, __m512 v1, __mmask16 m0, __mmask16 m1,
                                 const fathom_sgemm_epi *e) {
    if (e->bias) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, e->bias));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, e->bias + 16));
    }
    if (e->gamma) {
        v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, e->gamma), v0, _mm512_maskz_loadu_ps(m0, c));
        v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, e->gamma + 16), v1, _mm512_maskz_loadu_ps(m1, c + 16));
    } else if (e->act != FATHOM_ACT_NONE) {
        v0 = act16(v0, e->act);
        v1 = act16(v1, e->act);
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
}

TGT static inline __attribute__((always_inline)) void store_tile(float *c, size_t ldc, const __m512 *acc, int rows,
                                                                 int cols, const fathom_sgemm_epi *e) {
    const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    for (int r = 0; r < rows; r++) store_row(c + (size_t)r * ldc, acc[2 * r], acc[2 * r + 1], m0, m1, e);
}

/* Two row groups of 7 (a0: rows 0-6, a1: rows 7-13) keep the addresses in a few registers:
 * row r of a group is at base + r lda, which x86 addressing reaches from lda, 3 lda. */
TGT void fathom_cpu_sgemm_tile_avx512(float *c, size_t ldc, const float *a, size_t lda, const float *bp, int K,
                                      int rows, int cols, const fathom_sgemm_epi *e) {
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
    store_tile(c, ldc, acc, rows, cols, e);
}

/* The same on A packed k-major, ap[k * 14 + r] (one stream instead of 14; rows past `rows`
 * zero). */
TGT void fathom_cpu_sgemm_tile_packed_avx512(float *c, size_t ldc, const float *ap, const float *bp, int K,
                                             int rows, int cols, const fathom_sgemm_epi *e) {
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
    store_tile(c, ldc, acc, rows, cols, e);
}
#else

void fathom_cpu_sgemm_tile_avx512(float *c, size_t ldc, const float *a, size_t lda, const float *bp, int K,
                                  int rows, int cols, const fathom_sgemm_epi *e) {
    (void)c, (void)ldc, (void)a, (void)lda, (void)bp, (void)K, (void)rows, (void)cols, (void)bias, (void)gamma;
}

#endif
