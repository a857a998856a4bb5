/* cpu_conv_bf16_taps.c - stride-1 packed convs as shifted-row GEMMs (cpu_conv_bf16.h).
 *
 * The im2col path (cpu_conv_bf16.c) gathered every input value k x k times, once per tap,
 * with a scatter per 16 pixels: 23 % of a bf16 ViT-S pass against 5 % in the conv GEMMs
 * themselves. Here each value is converted once (to the padded pixel-major copy X) and the
 * GEMM kernels read X in place. The reordered weights (K = (ky, kx, ci), Cp per tap) are
 * built per call from the packed twin: Co x Ci k k values, a few hundred times fewer than the
 * activations the conv reads. */
#include <string.h>

#include "backend/cpu/cpu_conv_bf16.h"
#include "backend/cpu/cpu_internal.h"
#include "core/alloc.h"

enum { QB = FATHOM_BF16_RB }; /* pixel rows per task: a multiple of both kernels' row tiles */

void fathom_cpu_conv_hwc_rows(const fathom_conv_hwc *h, int y0, int y1) {
    const int Wp = h->W + 2 * h->pad;
    for (int y = y0; y < y1; y++) {
        uint16_t *xr = h->x + (size_t)y * Wp * h->Cp;
        const int iy = y - h->pad;
        memset(xr, 0, (size_t)Wp * h->Cp * sizeof *xr);
        if (iy < 0 || iy >= h->H) continue;
        for (int ci = 0; ci < h->Ci; ci++) {
            const float *src = h->in + ((size_t)ci * h->H + iy) * h->W;
            for (int ix = 0; ix < h->W; ix++) {
                float v = src[ix];
                if (h->relu && v < 0.0f) v = 0.0f;
                xr[(size_t)(ix + h->pad) * h->Cp + ci] = fathom_f32_to_bf16(v);
            }
        }
    }
}

/* panel pi of the packed twin in its (Co, Ci k k) order: the bf16 panel itself, or q4
 * dequantized into room */
static const uint16_t *src_panel(const fathom_bf16_mat *wb, const fathom_q4_mat *w4, int kern,
                                 int pi, uint16_t *room) {
    if (wb) return wb->w + (size_t)pi * wb->Kp * FATHOM_BF16_NR;
    if (kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_q4_dequant_panel(room, w4, pi);
    else fathom_cpu_q4_dequant_panel_avx512(room, w4, pi);
    return room;
}

/* t (Np, kk Cp) <- the twin with K reordered from (ci, ky, kx) to (ky, kx, ci) */
static void reorder(fathom_backend *be, const fathom_bf16_mat *t, const fathom_bf16_mat *wb,
                    const fathom_q4_mat *w4, int kern, int Ci, int kk, int Cp) {
    const int NR = FATHOM_BF16_NR;
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int pi = 0; pi < t->Np / NR; pi++) {
        const uint16_t *s = src_panel(wb, w4, kern, pi, (uint16_t *)fathom_cpu_scratch(be));
        uint16_t *d = t->w + (size_t)pi * t->Kp * NR;
        for (int ci = 0; ci < Ci; ci++)
            for (int tap = 0; tap < kk; tap++) {
                int ko = ci * kk + tap, kn = tap * Cp + ci;
                const uint16_t *sr = s + (size_t)(ko / 2) * 2 * NR + ko % 2;
                uint16_t *dr = d + (size_t)(kn / 2) * 2 * NR + kn % 2;
                for (int n = 0; n < NR; n++) dr[2 * n] = sr[2 * n];
            }
    }
}

void fathom_cpu_conv_tile_out(const fathom_conv_tile *o, const float *tile, int q0, int np) {
    for (int j = 0; j < np; j++) {
        int q = q0 + j, ox = q % o->Wp;
        if (ox >= o->Wo) continue;
        size_t dst = (size_t)(q / o->Wp) * o->Wo + ox;
        for (int co = 0; co < o->Co; co++) {
            float v = tile[(size_t)j * o->ldt + co] + (o->b ? o->b[co] : 0.0f);
            if (o->res) v += o->res[co * o->HWo + dst];
            o->out[co * o->HWo + dst] = o->relu && v < 0.0f ? 0.0f : v;
        }
    }
}

int fathom_cpu_conv2d_taps(fathom_backend *be, float *out, const float *in,
                           const fathom_bf16_mat *wb, const fathom_q4_mat *w4, int kern,
                           const float *b, const float *residual, int B, int Ci, int H, int W,
                           int Co, int k, int pad, int flags) {
    const int Hp = H + 2 * pad, Wp = W + 2 * pad, Ho = Hp - k + 1, Wo = Wp - k + 1, kk = k * k;
    const int Cp = (Ci + 31) / 32 * 32, Np = wb ? wb->Np : w4->Np, K = wb ? wb->K : w4->K;
    if (Ho <= 0 || Wo <= 0 || K != Ci * kk) return 0;
    /* the task's fp32 tile (and q4's dequantized panel) in the scratch */
    if ((size_t)(QB + 16) * Np + (size_t)kk * Cp * FATHOM_BF16_NR > FATHOM_CPU_SCRATCH) return 0;
    /* taps read up to QB + k pixel rows past the padded image (the last task's whole tiles) */
    const size_t xrows = (size_t)Hp * Wp + QB + k, xbytes = xrows * Cp * sizeof(uint16_t);
    if (xbytes > ((size_t)FATHOM_CPU_CONV_COPY_MB << 20)) return 0; /* the gather path then */
    fathom_bf16_mat t = {NULL, NULL, Co, kk * Cp, Np, kk * Cp};
    const size_t tbytes = (size_t)t.Np * t.Kp * sizeof(uint16_t);
    uint16_t *x = fathom_alloc(xbytes); /* owned here: the padded pixel-major input */
    t.w = fathom_calloc(tbytes);        /* owned here: the reordered weights */
    if (!x || !t.w) {
        fathom_free_sized(x, xbytes);
        fathom_free_sized(t.w, tbytes);
        return 0;
    }
    reorder(be, &t, wb, w4, kern, Ci, kk, Cp);
    memset(x + (size_t)Hp * Wp * Cp, 0, (xrows - (size_t)Hp * Wp) * Cp * sizeof *x);
    size_t toff[8 * 8]; /* k <= 8 (the caller) */
    for (int tap = 0; tap < kk; tap++) toff[tap] = ((size_t)(tap / k) * Wp + tap % k) * Cp;
    const size_t HWo = (size_t)Ho * Wo;
    const int nq = Ho * Wp, nblk = (nq + QB - 1) / QB, relu = flags & FATHOM_CONV_RELU_OUT;
    for (int bt = 0; bt < B; bt++) {
        fathom_conv_tile ot = {out + (size_t)bt * Co * HWo, b,
                               residual ? residual + (size_t)bt * Co * HWo : NULL, Co, Np, Wp, Wo, relu, HWo};
        fathom_conv_hwc h = {x, in + (size_t)bt * Ci * H * W, Ci, H, W, pad, Cp, flags & FATHOM_CONV_RELU_IN};
#pragma omp parallel num_threads(be->threads)
        {
#pragma omp for schedule(static)
            for (int y = 0; y < Hp; y += 4) {
                int y1 = y + 4 < Hp ? y + 4 : Hp;
                if (kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_conv_hwc_rows(&h, y, y1);
                else fathom_cpu_conv_hwc_rows_avx512(&h, y, y1); /* AVX512-BF16 CPUs */
            }
#pragma omp for schedule(dynamic, 1)
            for (int blk = 0; blk < nblk; blk++) {
                int q0 = blk * QB, np = nq - q0 < QB ? nq - q0 : QB;
                float *tile = fathom_cpu_scratch(be);
                fathom_bf16_taps a = {x + (size_t)q0 * Cp, (size_t)Cp, toff, Cp};
                fathom_cpu_gemm_bf16_taps(kern, tile, (size_t)Np, &a, &t, 0, Co, np);
                if (kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_conv_tile_out(&ot, tile, q0, np);
                else fathom_cpu_conv_tile_out_avx512(&ot, tile, q0, np);
            }
        }
    }
    fathom_free_sized(x, xbytes);
    fathom_free_sized(t.w, tbytes);
    return 1;
}
