/* cpu_conv_bf16_avx512.c - the A rows of a packed conv (cpu_conv_bf16.c) with AVX-512: per
 * k pair and 16 pixels, two loads from the input planes (plain loads for 16 pixels of one
 * output row clear of the padding at stride 1, else masked gathers, the mask being the
 * padding), one vcvtne2ps2bf16 and one dword scatter into the 16 pixel rows. The scalar gather did one
 * bounds check, rounding and 2-byte store per value: 40% of a bf16 ViT-S pass. */
#include <string.h>

#include "backend/cpu/cpu_packed.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512bf16")))

TGT void fathom_cpu_conv_rows_avx512(uint16_t *a, int kcp, const fathom_conv_gather *g, int K, int p0,
                                     int np, int k0) {
    enum { RB = FATHOM_BF16_RB, NG = RB / 16 };
    const int ng = (np + 15) / 16, kk = g->k * g->k;
    const size_t HW = (size_t)g->H * g->W;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i oy[NG], ox[NG], sidx[NG];
    __mmask16 live[NG];
    int row_y[NG], row_x[NG]; /* stride 1, 16 pixels of one output row: their y, first x; else y -1 << 30 */
    for (int q = 0; q < ng; q++) {
        int y[16], x[16];
        for (int l = 0; l < 16; l++) {
            int p = p0 + q * 16 + l;
            y[l] = p / g->Wo * g->stride - g->pad, x[l] = p % g->Wo * g->stride - g->pad;
        }
        oy[q] = _mm512_loadu_si512(y), ox[q] = _mm512_loadu_si512(x);
        int left = np - q * 16;
        live[q] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        row_y[q] = left >= 16 && g->stride == 1 && y[15] == y[0] ? y[0] : -(1 << 30);
        row_x[q] = x[0];
        /* dword index of pixel row j: j * kcp / 2 */
        sidx[q] = _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(q * 16)), _mm512_set1_epi32(kcp / 2));
    }
    /* bf16 lanes (v0 0..15 | v1 0..15) -> pairs (v0 j, v1 j) */
    uint16_t pidx[32];
    for (int j = 0; j < 16; j++) pidx[2 * j] = (uint16_t)j, pidx[2 * j + 1] = (uint16_t)(16 + j);
    const __m512i perm = _mm512_loadu_si512(pidx), vH = _mm512_set1_epi32(g->H), vW = _mm512_set1_epi32(g->W);
    const __m512 zero = _mm512_setzero_ps();
    for (int r = 0; r < kcp; r += 2) {
        int ci[2], ky[2], kx[2], in_k[2];
        for (int t = 0; t < 2; t++) {
            int rr = k0 + r + t;
            in_k[t] = rr < K;
            ci[t] = rr / kk, ky[t] = rr % kk / g->k, kx[t] = rr % g->k;
        }
        for (int q = 0; q < ng; q++) {
            __m512 v[2];
            for (int t = 0; t < 2; t++) {
                if (!in_k[t]) {
                    v[t] = zero;
                    continue;
                }
                int ry = row_y[q] + ky[t], rx = row_x[q] + kx[t];
                if (ry >= 0 && ry < g->H && rx >= 0 && rx + 16 <= g->W) { /* inside: one load */
                    v[t] = _mm512_loadu_ps(g->in + (size_t)ci[t] * HW + (size_t)ry * g->W + rx);
                    if (g->relu) v[t] = _mm512_max_ps(v[t], zero);
                    continue;
                }
                __m512i iy = _mm512_add_epi32(oy[q], _mm512_set1_epi32(ky[t]));
                __m512i ix = _mm512_add_epi32(ox[q], _mm512_set1_epi32(kx[t]));
                /* unsigned compares: negative coordinates are huge */
                __mmask16 m = _mm512_mask_cmplt_epu32_mask(live[q], iy, vH);
                m = _mm512_mask_cmplt_epu32_mask(m, ix, vW);
                __m512i off = _mm512_add_epi32(_mm512_mullo_epi32(iy, vW), ix);
                v[t] = _mm512_mask_i32gather_ps(zero, m, off, g->in + (size_t)ci[t] * HW, 4);
                if (g->relu) v[t] = _mm512_max_ps(v[t], zero);
            }
            __m512i b = (__m512i)_mm512_cvtne2ps_pbh(v[1], v[0]);
            _mm512_mask_i32scatter_epi32(a + r, live[q], sidx[q], _mm512_permutexvar_epi16(perm, b), 4);
        }
    }
    if (np < RB) memset(a + (size_t)np * kcp, 0, (size_t)(RB - np) * kcp * sizeof *a);
}

#else
void fathom_cpu_conv_rows_avx512(uint16_t *a, int kcp, const fathom_conv_gather *g, int K, int p0,
                                 int np, int k0) {
    fathom_cpu_conv_rows(a, kcp, g, K, p0, np, k0); /* no AVX-512 kernels are picked here */
}
#endif
