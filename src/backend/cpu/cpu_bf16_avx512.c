/* cpu_bf16_avx512.c - bf16 GEMM with AVX512-BF16 (vdpbf16ps), 12 x 32 register tiles.
 *
 * 24 fp32 accumulators + 2 B vectors + 1 broadcast fit the 32 zmm registers. Each step reads
 * one k-pair row of the panel (128 bytes) and broadcasts one bf16 pair per A row; each
 * vdpbf16ps adds two products per lane in fp32. The B panel (32 x Kp bf16) is reused from L1/L2
 * across the row tiles of a block. */
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* A's rows for tap t at a->a + toff[t] (cpu_bf16.h); a plain GEMM is one tap of kt = Kp */
TGT static inline void tile12x32(float *c, size_t ldc, const fathom_bf16_taps *a, size_t m,
                                 int ntaps, const uint16_t *bp, int mv, __mmask16 k0, __mmask16 k1) {
    __m512 acc[12][2];
    for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int t = 0; t < ntaps; t++) {
        const uint16_t *at = a->a + m * a->lda + a->toff[t];
        for (int kk = 0; kk < a->kt / 2; kk++, bp += 64) {
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp);
            __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + 32);
            for (int r = 0; r < 12; r++) {
                int32_t pair;
                memcpy(&pair, at + (size_t)r * a->lda + 2 * kk, sizeof pair);
                __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
            }
        }
    }
    for (int r = 0; r < 12 && r < mv; r++) {
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, k0, acc[r][0]);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, k1, acc[r][1]);
    }
}

TGT void fathom_cpu_gemm_bf16_taps_avx512(float *c, size_t ldc, const fathom_bf16_taps *a,
                                          const fathom_bf16_mat *w, int n0, int ncols, int M) {
    const int Kp = w->Kp;
    for (int j = 0; j < ncols; j += FATHOM_BF16_NR) {
        int v = ncols - j;
        __mmask16 k0 = v >= 16 ? 0xffff : (__mmask16)((1u << v) - 1);
        __mmask16 k1 = v >= 32 ? 0xffff : v <= 16 ? 0 : (__mmask16)((1u << (v - 16)) - 1);
        const uint16_t *bp = w->w + (size_t)((n0 + j) / FATHOM_BF16_NR) * Kp * FATHOM_BF16_NR;
        for (int m = 0; m < M; m += 12)
            tile12x32(c + (size_t)m * ldc + j, ldc, a, (size_t)m, Kp / a->kt, bp, M - m, k0, k1);
    }
}

void fathom_cpu_gemm_bf16_avx512(float *c, size_t ldc, const uint16_t *a,
                                 const fathom_bf16_mat *w, int n0, int ncols, int M) {
    const size_t off = 0;
    const fathom_bf16_taps at = {a, (size_t)w->Kp, &off, w->Kp};
    fathom_cpu_gemm_bf16_taps_avx512(c, ldc, &at, w, n0, ncols, M);
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

TGT void fathom_cpu_bf16_scale_avx512(uint16_t *dst, const float *src, int n, float scale) {
    const __m512 s = _mm512_set1_ps(scale);
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_mul_ps(s, _mm512_loadu_ps(src + i + 16)),
                                         _mm512_mul_ps(s, _mm512_loadu_ps(src + i)));
        _mm512_storeu_si512(dst + i, (__m512i)v);
    }
    for (; i < n; i++) dst[i] = fathom_f32_to_bf16(scale * src[i]);
}

/* word i of the pair row is v0[i / 2] (even i) or v1[i / 2] (odd i): one permute per half */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void
fathom_cpu_bf16_pair_rows_avx512(uint16_t *dst, const float *v0, const float *v1) {
    __m512i a = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(v0 + 16), _mm512_loadu_ps(v0));
    __m512i b = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(v1 + 16), _mm512_loadu_ps(v1));
    static const uint16_t lo[32] = {0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
                                    8,  40, 9,  41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
    static const uint16_t hi[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                    24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
    _mm512_storeu_si512(dst, _mm512_permutex2var_epi16(a, _mm512_loadu_si512(lo), b));
    _mm512_storeu_si512(dst + 32, _mm512_permutex2var_epi16(a, _mm512_loadu_si512(hi), b));
}

/* exp(x) for x <= 0 (softmax: x = s - max), for results that are rounded to bf16 next:
 * n = round(x log2 e), r = x - n ln2 (|r| <= ln2 / 2), exp(r) by its degree-4 Taylor
 * polynomial (relative error <= r^5 / 120 = 4.2e-5, 1/90 of bf16's half step), then
 * vscalefps multiplies by 2^n; results below fp32's normal range (x < -87) become 0.
 * 9 vector operations per 16 lanes where cpu_math.c's fp32 exp_kernel takes ~20. */
TGT static inline __m512 exp16(__m512 x) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693147180559945309f), x);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24), r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

TGT float fathom_cpu_exp_bf16_avx512(uint16_t *p, const float *x, int n, int np, float m) {
    const __m512 vm = _mm512_set1_ps(m);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm));
        s0 = _mm512_add_ps(s0, e0), s1 = _mm512_add_ps(s1, e1);
        _mm512_storeu_si512(p + i, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    for (; i < n; i += 16) { /* masked tail: lanes past n are neither summed nor stored */
        int v = n - i < 16 ? n - i : 16;
        __mmask16 k = (__mmask16)((1u << v) - 1);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm));
        s0 = _mm512_add_ps(s0, _mm512_maskz_mov_ps(k, e));
        _mm256_mask_storeu_epi16(p + i, k, (__m256i)_mm512_cvtneps_pbh(e));
    }
    for (i = n; i < np; i++) p[i] = 0;
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* x = gelu(x + b) (b may be NULL) with erf from Abramowitz & Stegun 7.1.28: erf(a) =
 * 1 - t^-16, t = 1 + a1 a + ... + a6 a^6, |error| <= 3e-7 for a >= 0 (a clamped at 5, where
 * erf is 1 in fp32), 1 / t^16 by vrcp14ps and one Newton step. About 20 vector operations
 * per 16 outputs where cpu_math.c's two-branch erf takes ~40: for the bf16 and q4 engines,
 * whose next GEMM rounds these outputs to bf16 (2^-9). */
__attribute__((target("avx512f"))) void fathom_cpu_bias_gelu_avx512(float *x, const float *b, size_t n) {
    const __m512 c1 = _mm512_set1_ps(0.0705230784f), c2 = _mm512_set1_ps(0.0422820123f),
                 c3 = _mm512_set1_ps(0.0092705272f), c4 = _mm512_set1_ps(0.0001520143f),
                 c5 = _mm512_set1_ps(0.0002765672f), c6 = _mm512_set1_ps(0.0000430638f);
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f), half = _mm512_set1_ps(0.5f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + i));
        __m512 a = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f));
        __m512i s = _mm512_and_si512(_mm512_castps_si512(a), sign);
        a = _mm512_min_ps(_mm512_abs_ps(a), _mm512_set1_ps(5.0f));
        __m512 t = _mm512_fmadd_ps(c6, a, c5);
        t = _mm512_fmadd_ps(t, a, c4);
        t = _mm512_fmadd_ps(t, a, c3);
        t = _mm512_fmadd_ps(t, a, c2);
        t = _mm512_fmadd_ps(t, a, c1);
        t = _mm512_fmadd_ps(t, a, one);
        t = _mm512_mul_ps(t, t), t = _mm512_mul_ps(t, t), t = _mm512_mul_ps(t, t), t = _mm512_mul_ps(t, t);
        __m512 r = _mm512_rcp14_ps(t);
        r = _mm512_mul_ps(r, _mm512_fnmadd_ps(t, r, two));
        __m512 erf = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_sub_ps(one, r)), s));
        __m512 hv = _mm512_mul_ps(half, v);
        _mm512_mask_storeu_ps(x + i, k, _mm512_fmadd_ps(hv, erf, hv));
    }
}

/* x[i] += g[i] * (t[i] + b[i]) (b may be NULL): LayerScale + residual, fathom_cpu_residual's
 * bits (a product and a sum, each rounded; no fused multiply-add) */
__attribute__((target("avx512f"))) void fathom_cpu_residual_avx512(float *x, const float *t, const float *b,
                                                                   const float *g, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(k, t + i);
        if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + i));
        /* the _round forms: GCC would contract a plain mul + add into one FMA */
        __m512 p = _mm512_mul_round_ps(_mm512_maskz_loadu_ps(k, g + i), v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm512_mask_storeu_ps(x + i, k, _mm512_add_round_ps(_mm512_maskz_loadu_ps(k, x + i), p,
                                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
}

#else /* no AVX512-BF16 compiler support: never picked (fathom_cpu_features reports it only on x86-64) */

void fathom_cpu_gemm_bf16_avx512(float *c, size_t ldc, const uint16_t *a,
                                 const fathom_bf16_mat *w, int n0, int ncols, int M) {
    fathom_cpu_gemm_bf16_portable(c, ldc, a, w, n0, ncols, M);
}

void fathom_cpu_gemm_bf16_taps_avx512(float *c, size_t ldc, const fathom_bf16_taps *a,
                                      const fathom_bf16_mat *w, int n0, int ncols, int M) {
    fathom_cpu_gemm_bf16_taps_portable(c, ldc, a, w, n0, ncols, M);
}

void fathom_cpu_bf16_rows_avx512(uint16_t *a, const float *in, int rows, int K, int Kp) {
    fathom_cpu_bf16_rows(a, in, rows, K, Kp);
}

void fathom_cpu_bf16_scale_avx512(uint16_t *dst, const float *src, int n, float scale) {
    fathom_cpu_bf16_scale(dst, src, n, scale);
}

void fathom_cpu_bf16_pair_rows_avx512(uint16_t *dst, const float *v0, const float *v1) {
    fathom_cpu_bf16_pair_rows(dst, v0, v1);
}

float fathom_cpu_exp_bf16_avx512(uint16_t *p, const float *x, int n, int np, float m) {
    return fathom_cpu_exp_shift_sum_bf16(p, x, (size_t)n, (size_t)np, m);
}

void fathom_cpu_residual_avx512(float *x, const float *t, const float *b, const float *g, size_t n) {
    fathom_cpu_residual(x, t, b, g, n);
}

void fathom_cpu_bias_gelu_avx512(float *x, const float *b, size_t n) {
    fathom_cpu_bias_act(x, b, n, FATHOM_ACT_GELU);
}

#endif
