/* cpu_bf16_amx.c - bf16 GEMM with AMX-BF16 tiles: 32 x 32 outputs per step.
 *
 * Tiles 0-3 hold a 2 x 2 grid of 16 x 16 fp32 accumulators, 4-5 two A tiles (16 rows x 32
 * bf16), 6-7 two B tiles (16 k-pairs x 16 columns x 2 bf16) read straight from the packed
 * panel at its 128-byte row stride. Row blocks are the outer loop: a block's 32 A rows stay
 * in L1 while every panel streams past (B tiles loaded with the streaming hint, so that they
 * do not push A out: +20-30 % on the ViT-S shapes at K 384, loaded), and each tile load sits
 * next to the first product that needs it.
 * With an epilogue (fathom_gemm_ep) each finished 32 x 32 block is handed to it while it is
 * in L1, instead of a second pass over C. Tile state is per thread, so each call loads the
 * config and releases it. Linux grants the tile state per process (fathom_cpu_features asks). */
#include <string.h>

#include "backend/cpu/cpu_bf16.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#include <immintrin.h>

#include "backend/cpu/cpu_amx_tiles.h"

/* A's rows for tap t at a->a + toff[t] (cpu_bf16.h); a plain GEMM is one tap of kt = Kp */
__attribute__((target("amx-tile,amx-bf16"))) static void
gemm_amx(float *c, size_t ldc, const fathom_bf16_taps *a, const fathom_bf16_mat *w, int n0, int ncols,
         int M, const fathom_gemm_ep *ep) {
    fathom_amx_config();
    const int Kp = w->Kp, kt = a->kt, ntaps = Kp / kt;
    const size_t sa = a->lda * sizeof(uint16_t);
    float buf[32 * 32] __attribute__((aligned(64)));
    /* one panel (q4's dequantized one, a conv's narrow weight) is reused by every row block:
     * keep it in L1 */
    const int stream = ncols > FATHOM_BF16_NR;
    for (int m = 0; m < M; m += 32) {
        const uint16_t *am = a->a + (size_t)m * a->lda;
        int mv = M - m < 32 ? M - m : 32;
        for (int j = 0; j < ncols; j += FATHOM_BF16_NR) {
            const uint16_t *b = w->w + (size_t)((n0 + j) / FATHOM_BF16_NR) * Kp * FATHOM_BF16_NR;
            int nv = ncols - j < 32 ? ncols - j : 32;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int t = 0; t < ntaps; t++) {
                const uint16_t *a0 = am + a->toff[t], *a1 = a0 + 16 * a->lda;
                for (int k = 0; k < kt; k += 32, b += 32 * 32) fathom_amx_bf16_2x2_hint(a0 + k, a1 + k, sa, b, stream);
            }
            int whole = mv == 32 && nv == 32;
            float *d = whole ? c + (size_t)m * ldc + j : buf;
            size_t ld = whole ? ldc * sizeof(float) : 128;
            size_t half = whole ? 16 * ldc : 16 * 32;
            fathom_amx_store_2x2(d, d + half, ld);
            if (!whole)
                for (int r = 0; r < mv; r++)
                    memcpy(c + (size_t)(m + r) * ldc + j, buf + r * 32, (size_t)nv * sizeof(float));
            if (ep) ep->fn(ep, c + (size_t)m * ldc + j, ldc, m, ep->col0 + j, mv, nv);
        }
    }
    _tile_release();
}

void fathom_cpu_gemm_bf16_taps_amx(float *c, size_t ldc, const fathom_bf16_taps *a,
                                   const fathom_bf16_mat *w, int n0, int ncols, int M) {
    gemm_amx(c, ldc, a, w, n0, ncols, M, NULL);
}

void fathom_cpu_gemm_bf16_amx_ep(float *c, size_t ldc, const uint16_t *a, const fathom_bf16_mat *w,
                                 int n0, int ncols, int M, const fathom_gemm_ep *ep) {
    const size_t off = 0;
    const fathom_bf16_taps at = {a, (size_t)w->Kp, &off, w->Kp};
    gemm_amx(c, ldc, &at, w, n0, ncols, M, ep);
}

#else

void fathom_cpu_gemm_bf16_amx_ep(float *c, size_t ldc, const uint16_t *a, const fathom_bf16_mat *w,
                                 int n0, int ncols, int M, const fathom_gemm_ep *ep) {
    fathom_cpu_gemm_bf16_portable(c, ldc, a, w, n0, ncols, M);
    if (ep) ep->fn(ep, c, ldc, 0, ep->col0, M, ncols);
}

void fathom_cpu_gemm_bf16_taps_amx(float *c, size_t ldc, const fathom_bf16_taps *a,
                                   const fathom_bf16_mat *w, int n0, int ncols, int M) {
    fathom_cpu_gemm_bf16_taps_portable(c, ldc, a, w, n0, ncols, M);
}

#endif

void fathom_cpu_gemm_bf16_amx(float *c, size_t ldc, const uint16_t *a, const fathom_bf16_mat *w,
                              int n0, int ncols, int M) {
    fathom_cpu_gemm_bf16_amx_ep(c, ldc, a, w, n0, ncols, M, NULL);
}
