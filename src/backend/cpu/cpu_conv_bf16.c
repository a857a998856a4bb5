/* cpu_conv_bf16.c - the DPT head's convolutions on packed bf16 or q4 weights (engines with
 * --precision bf16 or --weights int8|q4; cpu_packed.h), on the bf16 GEMM kernels.
 *
 * A conv is a GEMM whose rows are output pixels: T (pixels, N) = A (pixels, K) . Wm^T, with
 *   conv2d          Wm = w as (Co, Ci k k), A = im2col rows, out[co][p] = T[p][co] (+ b, res)
 *   conv_transpose  Wm = w^T as (Co k k, Ci) (kernel == stride), A = the input pixels,
 *                   T[p][(co, ky, kx)] + b[co] scattered to out[co][iy k + ky][ix k + kx].
 * A task owns FATHOM_BF16_RB pixels. It gathers their A rows as bf16 once per K chunk (the
 * activations are rounded to bf16 once, as the linear ops do), runs every 32-column panel of
 * the N chunk on them (q4: dequantized first) and accumulates over K chunks in an fp32 tile;
 * the epilogue writes NCHW. K and N are chunked so the tiles fit the per-thread scratch:
 * resize3 of ViT-L has K = 9 x 1024, resize0 N = 16 x 256. */
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_conv_bf16.h"

enum { RB = FATHOM_BF16_RB, NC_MAX = 512 };

typedef struct tiling {
    int nc;  /* N columns per chunk (multiple of 32) */
    int kc;  /* K per chunk (multiple of 32) */
    size_t a_off, t_off, tmp_off, panel_off; /* byte offsets into scratch */
} tiling;

static size_t up64(size_t b) { return (b + 63) / 64 * 64; }

/* Tiles for an (Np, Kp) matrix, 0 when even the smallest K chunk does not fit. */
static int plan(tiling *t, int Np, int Kp, int q4) {
    t->nc = Np < NC_MAX ? Np : NC_MAX;
    size_t tile = up64((size_t)RB * t->nc * sizeof(float)), tmp = up64((size_t)RB * 32 * sizeof(float));
    size_t panel = q4 ? up64((size_t)Kp * 32 * sizeof(uint16_t)) : 0;
    size_t total = (size_t)FATHOM_CPU_SCRATCH * sizeof(float);
    if (tile + tmp + panel + (size_t)RB * 32 * sizeof(uint16_t) > total) return 0;
    size_t kc = (total - tile - tmp - panel) / (RB * sizeof(uint16_t)) / 32 * 32;
    t->kc = kc < (size_t)Kp ? (int)kc : Kp;
    t->a_off = 0;
    t->t_off = up64((size_t)RB * t->kc * sizeof(uint16_t));
    t->tmp_off = t->t_off + tile;
    t->panel_off = t->tmp_off + tmp;
    return 1;
}

int fathom_cpu_conv_packed_fits(int N, int K, int q4) {
    tiling t;
    return plan(&t, (N + 31) / 32 * 32, (K + 31) / 32 * 32, q4);
}

typedef fathom_conv_gather gather;

void fathom_cpu_conv_rows(uint16_t *a, int kcp, const gather *g, int K, int p0, int np, int k0) {
    int oy0[RB], ox0[RB];
    for (int j = 0; j < np; j++) {
        int p = p0 + j;
        oy0[j] = p / g->Wo * g->stride - g->pad, ox0[j] = p % g->Wo * g->stride - g->pad;
    }
    const size_t HW = (size_t)g->H * g->W;
    const int kk = g->k * g->k;
    for (int r = 0; r < kcp; r++) {
        int rr = k0 + r;
        uint16_t *col = a + r;
        if (rr >= K) {
            for (int j = 0; j < np; j++) col[(size_t)j * kcp] = 0;
            continue;
        }
        int ci = rr / kk, ky = rr % kk / g->k, kx = rr % g->k;
        const float *plane = g->in + (size_t)ci * HW;
        for (int j = 0; j < np; j++) {
            int iy = oy0[j] + ky, ix = ox0[j] + kx;
            float v = iy >= 0 && iy < g->H && ix >= 0 && ix < g->W ? plane[(size_t)iy * g->W + ix] : 0.0f;
            if (g->relu && v < 0.0f) v = 0.0f;
            col[(size_t)j * kcp] = fathom_f32_to_bf16(v);
        }
    }
    if (np < RB) memset(a + (size_t)np * kcp, 0, (size_t)(RB - np) * kcp * sizeof *a);
}

/* T (np, ncols, ld nc) = A . Wm[n0 .. n0 + ncols)^T for one pixel tile, K in chunks */
static void tile_gemm(char *sc, const tiling *tl, const gather *g, int kern, const fathom_bf16_mat *wb,
                      const fathom_q4_mat *w4, int p0, int np, int n0, int ncols, int *gathered) {
    const int K = wb ? wb->K : w4->K, Kp = wb ? wb->Kp : w4->Kp;
    uint16_t *a = (uint16_t *)(sc + tl->a_off), *panel = (uint16_t *)(sc + tl->panel_off);
    float *t = (float *)(sc + tl->t_off), *tmp = (float *)(sc + tl->tmp_off);
    for (int k0 = 0; k0 < Kp; k0 += tl->kc) {
        int kcp = Kp - k0 < tl->kc ? Kp - k0 : tl->kc;
        if (!(*gathered && kcp == Kp)) {
            if (kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_conv_rows(a, kcp, g, K, p0, np, k0);
            else fathom_cpu_conv_rows_avx512(a, kcp, g, K, p0, np, k0); /* AVX512-BF16 CPUs */
        }
        *gathered = kcp == Kp; /* one K chunk: the rows serve every N chunk */
        for (int j = 0; j < ncols; j += 32) {
            int pi = (n0 + j) / 32, nv = ncols - j < 32 ? ncols - j : 32;
            const uint16_t *base;
            if (w4) {
                if (kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_q4_dequant_panel(panel, w4, pi);
                else fathom_cpu_q4_dequant_panel_avx512(panel, w4, pi);
                base = panel;
            } else {
                base = wb->w + (size_t)pi * Kp * 32;
            }
            /* the panel's k rows [k0, k0 + kcp) seen as one 32-column matrix */
            fathom_bf16_mat view = {NULL, (uint16_t *)base + (size_t)k0 * 32, 32, kcp, 32, kcp};
            if (k0 == 0) {
                fathom_cpu_gemm_bf16(kern, t + j, (size_t)tl->nc, a, &view, 0, nv, np);
            } else {
                fathom_cpu_gemm_bf16(kern, tmp, 32, a, &view, 0, nv, np);
                for (int r = 0; r < np; r++)
                    for (int c = 0; c < nv; c++) t[(size_t)r * tl->nc + j + c] += tmp[(size_t)r * 32 + c];
            }
        }
    }
}

/* w's packed twin, its kernel and tiles; 0: none (the op runs fp32) */
static int packed_conv(fathom_backend *be, const float *w, const fathom_bf16_mat **wb,
                       const fathom_q4_mat **w4, int *kern, tiling *tl) {
    if (!fathom_cpu_conv_find(be, w, wb, w4, kern)) return 0;
    return plan(tl, *wb ? (*wb)->Np : (*w4)->Np, *wb ? (*wb)->Kp : (*w4)->Kp, *w4 != NULL);
}

int fathom_cpu_conv2d_packed(fathom_backend *be, float *out, const float *in, const float *w,
                             const float *b, const float *residual, int B, int Ci, int H, int W,
                             int Co, int k, int stride, int pad, int flags) {
    const fathom_bf16_mat *wb;
    const fathom_q4_mat *w4;
    int kern;
    tiling tl;
    if (!packed_conv(be, w, &wb, &w4, &kern, &tl)) return 0;
    if (stride == 1 && k <= 8 && /* without im2col (cpu_conv_bf16_taps.c) */
        fathom_cpu_conv2d_taps(be, out, in, wb, w4, kern, b, residual, B, Ci, H, W, Co, k, pad, flags))
        return 1;
    const int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    if (B <= 0 || Ho <= 0 || Wo <= 0) return 1;
    const size_t HWo = (size_t)Ho * Wo;
    const int ptiles = (int)((HWo + RB - 1) / RB), relu = flags & FATHOM_CONV_RELU_OUT;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < B * ptiles; t++) {
        int bt = t / ptiles, p0 = (t % ptiles) * RB;
        int np = HWo - p0 < RB ? (int)(HWo - p0) : RB, gathered = 0;
        gather g = {in + (size_t)bt * Ci * H * W, H, W, k, stride, pad, Wo, flags & FATHOM_CONV_RELU_IN};
        char *sc = (char *)fathom_cpu_scratch(be);
        const float *tt = (const float *)(sc + tl.t_off);
        for (int n0 = 0; n0 < Co; n0 += tl.nc) {
            int ncols = Co - n0 < tl.nc ? Co - n0 : tl.nc;
            tile_gemm(sc, &tl, &g, kern, wb, w4, p0, np, n0, ncols, &gathered);
            for (int c = 0; c < ncols; c++) {
                int co = n0 + c;
                float *o = out + ((size_t)bt * Co + co) * HWo + p0, bias = b ? b[co] : 0.0f;
                const float *res = residual ? residual + ((size_t)bt * Co + co) * HWo + p0 : NULL;
                for (int j = 0; j < np; j++) {
                    float v = tt[(size_t)j * tl.nc + c] + bias;
                    if (res) v += res[j];
                    o[j] = relu && v < 0.0f ? 0.0f : v;
                }
            }
        }
    }
    return 1;
}

int fathom_cpu_conv_transpose_packed(fathom_backend *be, float *out, const float *in,
                                     const float *w, const float *b, int B, int Ci, int H, int W,
                                     int Co, int k) {
    const fathom_bf16_mat *wb;
    const fathom_q4_mat *w4;
    int kern;
    tiling tl;
    if (!packed_conv(be, w, &wb, &w4, &kern, &tl)) return 0;
    const int HW = H * W, kk = k * k, R = Co * kk, Wo = W * k;
    const int ptiles = (HW + RB - 1) / RB;
    const size_t outplane = (size_t)HW * kk;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < B * ptiles; t++) {
        int bt = t / ptiles, p0 = (t % ptiles) * RB;
        int np = HW - p0 < RB ? HW - p0 : RB, gathered = 0;
        gather g = {in + (size_t)bt * Ci * HW, H, W, 1, 1, 0, W, 0}; /* A[p][ci] = in[ci][p] */
        char *sc = (char *)fathom_cpu_scratch(be);
        const float *tt = (const float *)(sc + tl.t_off);
        float *ob = out + (size_t)bt * Co * outplane;
        for (int n0 = 0; n0 < R; n0 += tl.nc) {
            int ncols = R - n0 < tl.nc ? R - n0 : tl.nc;
            tile_gemm(sc, &tl, &g, kern, wb, w4, p0, np, n0, ncols, &gathered);
            for (int c = 0; c < ncols; c++) {
                int r = n0 + c, co = r / kk, ky = r % kk / k, kx = r % k;
                float bias = b ? b[co] : 0.0f, *plane = ob + (size_t)co * outplane;
                for (int j = 0; j < np; j++) {
                    int iy = (p0 + j) / W, ix = (p0 + j) % W;
                    plane[(size_t)(iy * k + ky) * Wo + ix * k + kx] = tt[(size_t)j * tl.nc + c] + bias;
                }
            }
        }
    }
    return 1;
}
