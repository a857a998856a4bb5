/* cpu_conv_bf16_avx512.c - the A rows of a packed conv (cpu_conv_bf16.c) with AVX-512: per
 * k pair and 16 pixels, two loads from the input planes (plain loads for 16 pixels of one
 * output row clear of the padding at stride 1, else masked gathers, the mask being the
 * padding), one vcvtne2ps2bf16 and one dword scatter into the 16 pixel rows. The scalar gather did one
 * bounds check, rounding and 2-byte store per value: 40% of a bf16 ViT-S pass. */
#include <string.h>

#include "backend/cpu/cpu_conv_bf16.h"

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

/* r[c] <- column c of the 16 x 16 matrix of 32-bit rows r[0..15] */
TGT static inline void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* r[4 i + j], 128-bit lane L: column 4 L + j, rows 4 i .. 4 i + 3 */
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_i32x4(t[j], t[8 + j], 0xdd);
    }
}

/* The padded pixel-major copy (cpu_conv_bf16.h): per 16 pixels of an input row and 32
 * channels, 16 channel pairs are loaded, rounded (vcvtne2ps2bf16) and interleaved to one
 * dword per pixel, then transposed so each pixel's 32 channels are one 64-byte store. */
TGT void fathom_cpu_conv_hwc_rows_avx512(const fathom_conv_hwc *h, int y0, int y1) {
    const int Wp = h->W + 2 * h->pad, Cp = h->Cp;
    const size_t HW = (size_t)h->H * h->W;
    uint16_t pidx[32];
    for (int j = 0; j < 16; j++) pidx[2 * j] = (uint16_t)j, pidx[2 * j + 1] = (uint16_t)(16 + j);
    const __m512i perm = _mm512_loadu_si512(pidx);
    const __m512 zero = _mm512_setzero_ps();
    for (int y = y0; y < y1; y++) {
        uint16_t *xr = h->x + (size_t)y * Wp * Cp;
        const int iy = y - h->pad;
        if (iy < 0 || iy >= h->H) {
            memset(xr, 0, (size_t)Wp * Cp * sizeof *xr);
            continue;
        }
        memset(xr, 0, (size_t)h->pad * Cp * sizeof *xr);
        memset(xr + (size_t)(h->pad + h->W) * Cp, 0, (size_t)h->pad * Cp * sizeof *xr);
        for (int ix = 0; ix < h->W; ix += 16) {
            int left = h->W - ix < 16 ? h->W - ix : 16;
            __mmask16 m = (__mmask16)((1u << left) - 1);
            uint16_t *px = xr + (size_t)(ix + h->pad) * Cp;
            const float *src = h->in + (size_t)iy * h->W + ix;
            for (int c0 = 0; c0 < Cp; c0 += 32) {
                __m512i r[16];
                for (int p = 0; p < 16; p++) {
                    int c = c0 + 2 * p;
                    __m512 v0 = c < h->Ci ? _mm512_maskz_loadu_ps(m, src + (size_t)c * HW) : zero;
                    __m512 v1 = c + 1 < h->Ci ? _mm512_maskz_loadu_ps(m, src + (size_t)(c + 1) * HW) : zero;
                    if (h->relu) v0 = _mm512_max_ps(v0, zero), v1 = _mm512_max_ps(v1, zero);
                    r[p] = _mm512_permutexvar_epi16(perm, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
                }
                transpose16(r);
                for (int l = 0; l < left; l++) _mm512_storeu_si512(px + (size_t)l * Cp + c0, r[l]);
            }
        }
    }
}

/* fathom_cpu_conv_tile_out with 16 x 16 transposes: per run of pixels in one output row,
 * 16 pixels x 16 channels of the tile become 16 contiguous (masked) stores, one per channel */
TGT void fathom_cpu_conv_tile_out_avx512(const fathom_conv_tile *o, const float *tile, int q0, int np) {
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < np;) {
        int q = q0 + j, oy = q / o->Wp, ox = q % o->Wp;
        if (ox >= o->Wo) {
            j += o->Wp - ox;
            continue;
        }
        int len = o->Wo - ox < np - j ? o->Wo - ox : np - j;
        for (int j0 = 0; j0 < len; j0 += 16) {
            int nv = len - j0 < 16 ? len - j0 : 16;
            __mmask16 m = (__mmask16)((1u << nv) - 1);
            size_t dst = (size_t)oy * o->Wo + ox + j0;
            for (int co0 = 0; co0 < o->Co; co0 += 16) {
                __m512i r[16];
                for (int p = 0; p < 16; p++) /* rows past np are scratch: read, never stored */
                    r[p] = _mm512_loadu_si512(tile + (size_t)(j + j0 + p) * o->ldt + co0);
                transpose16(r);
                for (int c = 0; c < 16 && co0 + c < o->Co; c++) {
                    int co = co0 + c;
                    __m512 v = _mm512_add_ps((__m512)r[c], _mm512_set1_ps(o->b ? o->b[co] : 0.0f));
                    if (o->res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, o->res + co * o->HWo + dst));
                    if (o->relu) v = _mm512_max_ps(v, zero);
                    _mm512_mask_storeu_ps(o->out + co * o->HWo + dst, m, v);
                }
            }
        }
        j += len;
    }
}

#else
void fathom_cpu_conv_rows_avx512(uint16_t *a, int kcp, const fathom_conv_gather *g, int K, int p0,
                                 int np, int k0) {
    fathom_cpu_conv_rows(a, kcp, g, K, p0, np, k0); /* no AVX-512 kernels are picked here */
}

void fathom_cpu_conv_hwc_rows_avx512(const fathom_conv_hwc *h, int y0, int y1) {
    fathom_cpu_conv_hwc_rows(h, y0, y1);
}

void fathom_cpu_conv_tile_out_avx512(const fathom_conv_tile *o, const float *tile, int q0, int np) {
    fathom_cpu_conv_tile_out(o, tile, q0, np);
}
#endif
