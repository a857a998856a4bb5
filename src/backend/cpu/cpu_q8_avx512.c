/* cpu_q8_avx512.c - int8 GEMM with AVX512-VNNI (vpdpbusd) and the AVX-512 row quantizer.
 *
 * vpdpbusd multiplies unsigned by signed bytes, so activation bytes are biased by +128 (xor
 * 0x80) as they are broadcast and 128 * (column sum of w) comes off the int32 sum after:
 * exact, the same integers as the portable kernel. 12 x 32 tiles as in the bf16 kernel. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_q8.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vnni")))

TGT static inline void tile12x32(float *c, size_t ldc, const int8_t *a, const float *sa, int Kp,
                                 const int8_t *bp, const float *sw, const int32_t *cs, int mv,
                                 __mmask16 k0, __mmask16 k1) {
    __m512i acc[12][2];
    for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    const __m512i bias = _mm512_set1_epi32((int)0x80808080u);
    for (int kq = 0; kq < Kp / 4; kq++) {
        __m512i b0 = _mm512_loadu_si512(bp + (size_t)kq * 128);
        __m512i b1 = _mm512_loadu_si512(bp + (size_t)kq * 128 + 64);
        for (int r = 0; r < 12; r++) {
            int32_t quad;
            memcpy(&quad, a + (size_t)r * Kp + 4 * kq, sizeof quad);
            __m512i av = _mm512_xor_si512(_mm512_set1_epi32(quad), bias);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
        }
    }
    __m512i c0 = _mm512_slli_epi32(_mm512_loadu_si512(cs), 7);
    __m512i c1 = _mm512_slli_epi32(_mm512_loadu_si512(cs + 16), 7);
    __m512 s0 = _mm512_loadu_ps(sw), s1 = _mm512_loadu_ps(sw + 16);
    for (int r = 0; r < 12 && r < mv; r++) {
        __m512 sr = _mm512_set1_ps(sa[r]);
        /* (float)acc * sa * sw, in the portable kernel's order */
        __m512 v0 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][0], c0)), sr), s0);
        __m512 v1 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][1], c1)), sr), s1);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, k0, v0);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, k1, v1);
    }
}

TGT void fathom_cpu_gemm_q8_vnni(float *c, size_t ldc, const int8_t *a, const float *sa,
                                 const fathom_q8_mat *w, int n0, int ncols, int M) {
    const int Kp = w->Kp;
    for (int j = 0; j < ncols; j += 32) {
        int v = ncols - j;
        __mmask16 k0 = v >= 16 ? 0xffff : (__mmask16)((1u << v) - 1);
        __mmask16 k1 = v >= 32 ? 0xffff : v <= 16 ? 0 : (__mmask16)((1u << (v - 16)) - 1);
        const int8_t *bp = w->w + (size_t)((n0 + j) / 32) * Kp * 32;
        for (int m = 0; m < M; m += 12)
            tile12x32(c + (size_t)m * ldc + j, ldc, a + (size_t)m * Kp, sa + m, Kp, bp,
                      w->scale + n0 + j, w->colsum + n0 + j, M - m, k0, k1);
    }
}

/* the same bytes as fathom_cpu_q8_rows: vcvtps2dq rounds to nearest even (default MXCSR) */
__attribute__((target("avx512f,avx512bw"))) void
fathom_cpu_q8_rows_avx512(int8_t *a, float *scale, const float *in, int rows, int K, int Kp) {
    for (int r = 0; r < rows; r++) {
        const float *ir = in + (size_t)r * K;
        int8_t *ar = a + (size_t)r * Kp;
        __m512 vmax = _mm512_setzero_ps();
        int k = 0;
        for (; k + 16 <= K; k += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(ir + k)));
        float amax = _mm512_reduce_max_ps(vmax);
        for (; k < K; k++) amax = fmaxf(amax, fabsf(ir[k]));
        float s = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        __m512 vi = _mm512_set1_ps(inv);
        for (k = 0; k + 16 <= K; k += 16) {
            __m512i qv = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(ir + k), vi));
            qv = _mm512_max_epi32(_mm512_min_epi32(qv, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
            _mm_storeu_si128((__m128i *)(ar + k), _mm512_cvtepi32_epi8(qv));
        }
        for (; k < K; k++) {
            float v = nearbyintf(ir[k] * inv);
            ar[k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
        }
        memset(ar + K, 0, (size_t)(Kp - K));
        scale[r] = s;
    }
}

#else

void fathom_cpu_gemm_q8_vnni(float *c, size_t ldc, const int8_t *a, const float *sa,
                             const fathom_q8_mat *w, int n0, int ncols, int M) {
    fathom_cpu_gemm_q8_portable(c, ldc, a, sa, w, n0, ncols, M);
}

void fathom_cpu_q8_rows_avx512(int8_t *a, float *scale, const float *in, int rows, int K, int Kp) {
    fathom_cpu_q8_rows(a, scale, in, rows, K, Kp);
}

#endif
