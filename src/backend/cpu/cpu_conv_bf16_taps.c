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

int fathom_cpu_taps_open(fathom_backend *be, fathom_taps_conv *c, const fathom_bf16_mat *wb,
                         const fathom_q4_mat *w4, int kern, int Ci, int H, int W, int Co, int k, int pad) {
    const int Hp = H + 2 * pad, Wp = W + 2 * pad, Ho = Hp - k + 1, Wo = Wp - k + 1, kk = k * k;
    const int Cp = (Ci + 31) / 32 * 32, Np = wb ? wb->Np : w4->Np, K = wb ? wb->K : w4->K;
    if (k > 8 || Ho <= 0 || Wo <= 0 || K != Ci * kk) return 0;
    /* the task's fp32 tile (and q4's dequantized panel) in the scratch */
    if ((size_t)(QB + 16) * Np + (size_t)kk * Cp * FATHOM_BF16_NR > FATHOM_CPU_SCRATCH) return 0;
    /* taps read up to QB + k pixel rows past the padded image (the last task's whole tiles) */
    const size_t xrows = (size_t)Hp * Wp + QB + k, xbytes = xrows * Cp * sizeof(uint16_t);
    if (xbytes > ((size_t)FATHOM_CPU_CONV_COPY_MB << 20)) return 0; /* the gather path then */
    *c = (fathom_taps_conv){.t = {NULL, NULL, Co, kk * Cp, Np, kk * Cp}, .xbytes = xbytes, .kern = kern,
                            .Ci = Ci, .H = H, .W = W, .Co = Co, .pad = pad, .Hp = Hp, .Wp = Wp,
                            .Ho = Ho, .Wo = Wo, .Cp = Cp, .nq = Ho * Wp};
    c->nblk = (c->nq + QB - 1) / QB;
    c->tbytes = (size_t)Np * c->t.Kp * sizeof(uint16_t);
    c->x = fathom_alloc(xbytes);
    c->t.w = fathom_calloc(c->tbytes);
    if (!c->x || !c->t.w) {
        fathom_cpu_taps_close(c);
        return 0;
    }
    reorder(be, &c->t, wb, w4, kern, Ci, kk, Cp);
    memset(c->x + (size_t)Hp * Wp * Cp, 0, (xrows - (size_t)Hp * Wp) * Cp * sizeof *c->x);
    for (int tap = 0; tap < kk; tap++) c->toff[tap] = ((size_t)(tap / k) * Wp + tap % k) * Cp;
    return 1;
}

void fathom_cpu_taps_close(fathom_taps_conv *c) {
    fathom_free_sized(c->x, c->xbytes);
    fathom_free_sized(c->t.w, c->tbytes);
    c->x = NULL, c->t.w = NULL;
}

void fathom_cpu_taps_fill(const fathom_taps_conv *c, const float *in, int relu, int y0, int y1) {
    fathom_conv_hwc h = {c->x, in, c->Ci, c->H, c->W, c->pad, c->Cp, relu};
    if (c->kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_conv_hwc_rows(&h, y0, y1);
    else fathom_cpu_conv_hwc_rows_avx512(&h, y0, y1); /* AVX512-BF16 CPUs */
}

float *fathom_cpu_taps_tile(fathom_backend *be, const fathom_taps_conv *c, int blk, int *q0, int *np) {
    *q0 = blk * QB, *np = c->nq - *q0 < QB ? c->nq - *q0 : QB;
    float *tile = fathom_cpu_scratch(be);
    fathom_bf16_taps a = {c->x + (size_t)*q0 * c->Cp, (size_t)c->Cp, c->toff, c->Cp};
    fathom_cpu_gemm_bf16_taps(c->kern, tile, (size_t)c->t.Np, &a, &c->t, 0, c->Co, *np);
    return tile;
}

int fathom_cpu_conv2d_taps(fathom_backend *be, float *out, const float *in,
                           const fathom_bf16_mat *wb, const fathom_q4_mat *w4, int kern,
                           const float *b, const float *residual, int B, int Ci, int H, int W,
                           int Co, int k, int pad, int flags) {
    fathom_taps_conv c;
    if (!fathom_cpu_taps_open(be, &c, wb, w4, kern, Ci, H, W, Co, k, pad)) return 0;
    const size_t HWo = (size_t)c.Ho * c.Wo;
    const int relu = flags & FATHOM_CONV_RELU_OUT;
    for (int bt = 0; bt < B; bt++) {
        fathom_conv_tile ot = {out + (size_t)bt * Co * HWo, b,
                               residual ? residual + (size_t)bt * Co * HWo : NULL, Co, c.t.Np, c.Wp, c.Wo, relu, HWo};
        const float *img = in + (size_t)bt * Ci * H * W;
#pragma omp parallel num_threads(be->threads)
        {
#pragma omp for schedule(static)
            for (int y = 0; y < c.Hp; y += 4)
                fathom_cpu_taps_fill(&c, img, flags & FATHOM_CONV_RELU_IN, y, y + 4 < c.Hp ? y + 4 : c.Hp);
#pragma omp for schedule(dynamic, 1)
            for (int blk = 0; blk < c.nblk; blk++) {
                int q0, np;
                const float *tile = fathom_cpu_taps_tile(be, &c, blk, &q0, &np);
                if (kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_conv_tile_out(&ot, tile, q0, np);
                else fathom_cpu_conv_tile_out_avx512(&ot, tile, q0, np);
            }
        }
    }
    fathom_cpu_taps_close(&c);
    return 1;
}
