/* cpu_q8_amx.c - int8 GEMM with AMX-INT8 (tdpbssd: signed x signed bytes into int32 tiles).
 *
 * The bf16 AMX kernel's 2 x 2 grid of 16 x 16 accumulators; A tiles are 16 rows x 64 int8, B
 * tiles 16 k-quads x 16 columns x 4 int8 at the packed panel's 128-byte stride, loaded with
 * the streaming hint as in cpu_bf16_amx.c. The int32 block is scaled as in the portable
 * kernel (so the outputs are bit-identical) from an L1 buffer, and the epilogue (if any) runs
 * on it there. */
#include <string.h>

#include "backend/cpu/cpu_q8.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#include <immintrin.h>

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

#define TGT __attribute__((target("amx-tile,amx-int8,avx512f")))

/* c rows r < mv, columns < nv (ld ldc) = buf (32 x 32 int32) * sa[r] * sw[col], in the
 * portable kernel's order */
TGT static inline void scale_block(float *c, size_t ldc, const int32_t *buf, const float *sa,
                                   const float *sw, int mv, int nv) {
    __mmask16 k0 = nv >= 16 ? 0xffff : (__mmask16)((1u << nv) - 1);
    __mmask16 k1 = nv >= 32 ? 0xffff : nv <= 16 ? 0 : (__mmask16)((1u << (nv - 16)) - 1);
    __m512 s0 = _mm512_maskz_loadu_ps(k0, sw), s1 = _mm512_maskz_loadu_ps(k1, sw + 16);
    for (int r = 0; r < mv; r++) {
        __m512 sr = _mm512_set1_ps(sa[r]);
        __m512 v0 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(buf + r * 32)), sr), s0);
        __m512 v1 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(buf + r * 32 + 16)), sr), s1);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, k0, v0);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, k1, v1);
    }
}

TGT void fathom_cpu_gemm_q8_amx_ep(float *c, size_t ldc, const int8_t *a, const float *sa,
                                   const fathom_q8_mat *w, int n0, int ncols, int M, const fathom_gemm_ep *ep) {
    tile_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    const int Kp = w->Kp;
    int32_t buf[32 * 32] __attribute__((aligned(64)));
    for (int m = 0; m < M; m += 32) { /* row blocks outer, as in cpu_bf16_amx.c */
        const int8_t *a0 = a + (size_t)m * Kp, *a1 = a0 + (size_t)16 * Kp;
        int mv = M - m < 32 ? M - m : 32;
        for (int j = 0; j < ncols; j += 32) {
            const int8_t *bp = w->w + (size_t)((n0 + j) / 32) * Kp * 32;
            int nv = ncols - j < 32 ? ncols - j : 32;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int k = 0; k < Kp; k += 64) {
                const int8_t *b = bp + (size_t)(k / 4) * 128;
                _tile_stream_loadd(6, b, 128);
                _tile_loadd(4, a0 + k, Kp);
                _tile_dpbssd(0, 4, 6);
                _tile_stream_loadd(7, b + 64, 128);
                _tile_dpbssd(1, 4, 7);
                _tile_loadd(5, a1 + k, Kp);
                _tile_dpbssd(2, 5, 6);
                _tile_dpbssd(3, 5, 7);
            }
            _tile_stored(0, buf, 128);
            _tile_stored(1, buf + 16, 128);
            _tile_stored(2, buf + 16 * 32, 128);
            _tile_stored(3, buf + 16 * 32 + 16, 128);
            float *cb = c + (size_t)m * ldc + j;
            scale_block(cb, ldc, buf, sa + m, w->scale + n0 + j, mv, nv);
            if (ep) ep->fn(ep, cb, ldc, m, ep->col0 + j, mv, nv);
        }
    }
    _tile_release();
}

#else

void fathom_cpu_gemm_q8_amx_ep(float *c, size_t ldc, const int8_t *a, const float *sa,
                               const fathom_q8_mat *w, int n0, int ncols, int M, const fathom_gemm_ep *ep) {
    fathom_cpu_gemm_q8_portable(c, ldc, a, sa, w, n0, ncols, M);
    if (ep) ep->fn(ep, c, ldc, 0, ep->col0, M, ncols);
}

#endif

void fathom_cpu_gemm_q8_amx(float *c, size_t ldc, const int8_t *a, const float *sa,
                            const fathom_q8_mat *w, int n0, int ncols, int M) {
    fathom_cpu_gemm_q8_amx_ep(c, ldc, a, sa, w, n0, ncols, M, NULL);
}
