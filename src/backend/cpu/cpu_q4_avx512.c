/* cpu_q4_avx512.c - the AVX-512 q4 panel dequantizer: one k-pair row (32 bytes, 64 values)
 * per step, nibbles widened to int32, times the column scales, to bf16 with vcvtne2ps2bf16;
 * the same bits as fathom_cpu_q4_dequant_panel. */
#include "backend/cpu/cpu_q4.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* 16 values of 8 nibbles-as-bytes (xmm) times s -> fp32 */
TGT static inline __m512 deq16(__m128i nib, __m512 s) {
    __m512i v = _mm512_sub_epi32(_mm512_cvtepu8_epi32(nib), _mm512_set1_epi32(8));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
}

TGT void fathom_cpu_q4_dequant_panel_avx512(uint16_t *panel, const fathom_q4_mat *m, int p) {
    const int Kp = m->Kp;
    const uint8_t *q = m->q + (size_t)p * (Kp / 2) * 32;
    const uint16_t *sc = m->scale + (size_t)p * (Kp / FATHOM_Q4_GROUP) * 32;
    const __m512i lo_idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    const __m256i mask = _mm256_set1_epi8(0x0f);
    for (int g = 0; g < Kp / FATHOM_Q4_GROUP; g++) {
        /* the group's 32 column scales, bf16 -> fp32, spread to value order (2 per column) */
        __m512 c0 = _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(sc + g * 32))), 16));
        __m512 c1 = _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(sc + g * 32 + 16))), 16));
        __m512 s0 = _mm512_permutexvar_ps(lo_idx, c0), s1 = _mm512_permutexvar_ps(hi_idx, c0);
        __m512 s2 = _mm512_permutexvar_ps(lo_idx, c1), s3 = _mm512_permutexvar_ps(hi_idx, c1);
        for (int kk = g * FATHOM_Q4_GROUP / 2; kk < (g + 1) * FATHOM_Q4_GROUP / 2; kk++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(q + (size_t)kk * 32));
            __m256i lo = _mm256_and_si256(b, mask), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask);
            __m512 f0 = deq16(_mm256_castsi256_si128(lo), s0);
            __m512 f1 = deq16(_mm256_extracti128_si256(lo, 1), s1);
            __m512 f2 = deq16(_mm256_castsi256_si128(hi), s2);
            __m512 f3 = deq16(_mm256_extracti128_si256(hi, 1), s3);
            _mm512_storeu_si512(panel + (size_t)kk * 64, (__m512i)_mm512_cvtne2ps_pbh(f1, f0));
            _mm512_storeu_si512(panel + (size_t)kk * 64 + 32, (__m512i)_mm512_cvtne2ps_pbh(f3, f2));
        }
    }
}

#else /* never picked without AVX512-BF16 (fathom_cpu_features reports it only on x86-64) */

void fathom_cpu_q4_dequant_panel_avx512(uint16_t *panel, const fathom_q4_mat *m, int p) {
    fathom_cpu_q4_dequant_panel(panel, m, p);
}

#endif
