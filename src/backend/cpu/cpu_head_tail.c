/* cpu_head_tail.c - the DPT head's resize-then-conv steps (ops.def conv2d_resized: each
 * fusion block's out_conv; dpt_head_tail: resize to the image size, output_conv2's 3x3 conv,
 * its ReLU and the 1x1 conv to depth).
 *
 * These run at full resolution (518² at ViT-S 518) and were the largest layout passes of a
 * packed pass: the resize wrote C NCHW fp32 planes that the conv copied to its padded
 * pixel-major bf16 image X, and the conv's tile went back to Ch NCHW fp32 planes that the
 * 1x1 conv (one output channel, fp32) read again. With packed weights the resize now writes
 * X's rows itself (one fp32 row of C channels in the scratch, then the same rounding as the
 * conv's copy), and each GEMM tile ends in depth directly: bias, ReLU and the 1x1 dot product
 * per pixel; a fusion block's out_conv ends in the usual NCHW tile output. fp32 engines, and
 * shapes the taps path does not take, run the composition. */
#include <string.h>

#include "backend/cpu/cpu_conv_bf16.h"
#include "backend/cpu/cpu_conv_f32.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_resize.h"

/* The 1x1 conv to depth on a tile of output_conv2 (cpu_conv_bf16.h's fathom_taps_conv tile) */
typedef struct head_out {
    float *depth;            /* one image (H, W) */
    const float *b2, *w3;    /* b2 may be NULL */
    float b3;
    int Ch, ldt, Wp, Wo;
} head_out;

static void head_out_rows(const head_out *o, const float *tile, int q0, int np) {
    for (int j = 0; j < np; j++) {
        int q = q0 + j, ox = q % o->Wp;
        if (ox >= o->Wo) continue;
        float v = 0.0f;
        for (int c = 0; c < o->Ch; c++) {
            float t = tile[(size_t)j * o->ldt + c] + (o->b2 ? o->b2[c] : 0.0f);
            v += t > 0.0f ? o->w3[c] * t : 0.0f;
        }
        o->depth[(size_t)(q / o->Wp) * o->Wo + ox] = v + o->b3;
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

/* 16 channels per vector, one horizontal sum per pixel; the same products in another order */
__attribute__((target("avx512f"))) static void head_out_rows_avx512(const head_out *o, const float *tile,
                                                                     int q0, int np) {
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < np; j++) {
        int q = q0 + j, ox = q % o->Wp;
        if (ox >= o->Wo) continue;
        __m512 acc = zero;
        for (int c = 0; c < o->Ch; c += 16) {
            __mmask16 m = o->Ch - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (o->Ch - c)) - 1);
            __m512 t = _mm512_maskz_loadu_ps(m, tile + (size_t)j * o->ldt + c);
            if (o->b2) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, o->b2 + c));
            acc = _mm512_fmadd_ps(_mm512_max_ps(t, zero), _mm512_maskz_loadu_ps(m, o->w3 + c), acc);
        }
        o->depth[(size_t)(q / o->Wp) * o->Wo + ox] = _mm512_reduce_add_ps(acc) + o->b3;
    }
}
#else
static void head_out_rows_avx512(const head_out *o, const float *tile, int q0, int np) {
    head_out_rows(o, tile, q0, np); /* no AVX-512 kernels are picked here */
}
#endif

/* The resize's output row oy (C channels of W) as row oy + 1 of X (pad 1). The thread keeps
 * the horizontally interpolated input rows of its last two source rows (all channels) in
 * its scratch, as the resize op does per plane. */
typedef struct resize_rows {
    float *lx, *h[2], *row; /* scratch: W, 2 x C W, C W floats */
    int *x0, *x1;           /* scratch: W ints each */
    int key[2];             /* the source row each slot holds, -1 none */
} resize_rows;

static const float *hrows(resize_rows *s, const float *img, int C, int h, int w, int W, int want, int keep) {
    if (s->key[0] == want) return s->h[0];
    if (s->key[1] == want) return s->h[1];
    int k = s->key[0] == keep ? 1 : 0;
    for (int c = 0; c < C; c++)
        fathom_cpu_resize_hrow(s->h[k] + (size_t)c * W, img + ((size_t)c * h + want) * w, s->x0, s->x1, s->lx, W);
    s->key[k] = want;
    return s->h[k];
}

/* conv (stride 1) of the resized input, packed: the resize fills X, then every tile goes to
 * `ot` (NCHW, bias, ReLU) or, with ho, to depth (the head tail). 0: it does not apply. */
typedef struct resize_conv {
    const float *in, *w;
    int B, C, h, w_, H, W, Co, k, pad, relu_in;
    fathom_conv_tile ot; /* per image: out advanced by Co Ho Wo */
    const head_out *ho;  /* per image: depth advanced by H W */
} resize_conv;

static int fused(fathom_backend *be, const resize_conv *rc) {
    const fathom_bf16_mat *wb;
    const fathom_q4_mat *w4;
    int kern;
    fathom_taps_conv c;
    const int C = rc->C, h = rc->h, w = rc->w_, H = rc->H, W = rc->W, pad = rc->pad;
    if ((size_t)(3 + 3 * (size_t)C) * W > FATHOM_CPU_SCRATCH) return 0; /* the resize rows */
    if (!fathom_cpu_conv_find(be, rc->w, &wb, &w4, &kern)) return 0;
    if (!fathom_cpu_taps_open(be, &c, wb, w4, kern, C, H, W, rc->Co, rc->k, pad)) return 0;
    const float sy = H > 1 ? (float)(h - 1) / (float)(H - 1) : 0.0f;
    const float sx = W > 1 ? (float)(w - 1) / (float)(W - 1) : 0.0f;
    const size_t xrow = (size_t)c.Wp * c.Cp, HWo = (size_t)c.Ho * c.Wo;
    for (int bt = 0; bt < rc->B; bt++) {
        const float *img = rc->in + (size_t)bt * C * h * w;
        fathom_conv_tile ot = rc->ot;
        head_out ho = rc->ho ? *rc->ho : (head_out){0};
        ot.out += (size_t)bt * rc->Co * HWo, ot.ldt = c.t.Np;
        ho.depth += rc->ho ? (size_t)bt * HWo : 0, ho.ldt = c.t.Np;
#pragma omp parallel num_threads(be->threads)
        {
            float *sc = fathom_cpu_scratch(be);
            resize_rows s = {sc, {sc + W, sc + W + (size_t)C * W}, sc + W + 2 * (size_t)C * W,
                             (int *)(sc + W + 3 * (size_t)C * W), (int *)(sc + W + 3 * (size_t)C * W) + W, {-1, -1}};
            for (int x = 0; x < W; x++) fathom_cpu_resize_index(x, sx, w, &s.x0[x], &s.x1[x], &s.lx[x]);
#pragma omp for schedule(static)
            for (int y = 0; y < c.Hp; y++) {
                const int oy = y - pad;
                if (oy < 0 || oy >= H) {
                    memset(c.x + y * xrow, 0, xrow * sizeof *c.x);
                    continue;
                }
                int y0, y1;
                float ly;
                fathom_cpu_resize_index(oy, sy, h, &y0, &y1, &ly);
                const float *top = hrows(&s, img, C, h, w, W, y0, y1), *bot = hrows(&s, img, C, h, w, W, y1, y0);
                for (size_t i = 0; i < (size_t)C * W; i++) s.row[i] = (1.0f - ly) * top[i] + ly * bot[i];
                /* the row as a one-row image: fill's row `pad` is X's row y */
                fathom_taps_conv one = c;
                one.x = c.x + (y - pad) * xrow, one.H = 1;
                fathom_cpu_taps_fill(&one, s.row, rc->relu_in, pad, pad + 1);
            }
#pragma omp for schedule(dynamic, 1)
            for (int blk = 0; blk < c.nblk; blk++) {
                int q0, np;
                const float *tile = fathom_cpu_taps_tile(be, &c, blk, &q0, &np);
                if (rc->ho && kern == FATHOM_CPU_BF16_PORTABLE) head_out_rows(&ho, tile, q0, np);
                else if (rc->ho) head_out_rows_avx512(&ho, tile, q0, np);
                else if (kern == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_conv_tile_out(&ot, tile, q0, np);
                else fathom_cpu_conv_tile_out_avx512(&ot, tile, q0, np);
            }
        }
    }
    fathom_cpu_taps_close(&c);
    return 1;
}

/* The fp32 twin (weights without a packed twin, AVX-512 panels): the resize writes the padded
 * planes of the conv's copy (cpu_conv_f32.h) and each 64-pixel panel ends in depth (the head
 * tail) or in the NCHW output. The conv's products are the conv2d op's, in its order; the 1x1
 * conv to depth sums in another order. */
static int fused_f32(fathom_backend *be, const resize_conv *rc) {
    fathom_conv_f32 c;
    const int C = rc->C, h = rc->h, w = rc->w_, H = rc->H, W = rc->W, pad = rc->pad;
    if ((size_t)(3 + 2 * (size_t)C) * W > FATHOM_CPU_SCRATCH) return 0; /* the resize rows */
    if (!fathom_cpu_conv_f32_open(&c, C, H, W, rc->Co, rc->k, pad)) return 0;
    const float sy = H > 1 ? (float)(h - 1) / (float)(H - 1) : 0.0f;
    const float sx = W > 1 ? (float)(w - 1) / (float)(W - 1) : 0.0f;
    for (int ci = 0; ci < C; ci++) { /* the padding rows (the resize writes the rest) */
        memset(c.x + ci * c.plane, 0, (size_t)pad * c.Wp * sizeof *c.x);
        memset(c.x + ci * c.plane + (size_t)(pad + H) * c.Wp, 0, (size_t)pad * c.Wp * sizeof *c.x);
    }
    const head_out *ho = rc->ho;
    for (int bt = 0; bt < rc->B; bt++) {
        const float *img = rc->in + (size_t)bt * C * h * w;
        float *depth = ho ? ho->depth + (size_t)bt * H * W : NULL;
        float *out = ho ? NULL : rc->ot.out + (size_t)bt * rc->Co * c.Ho * c.Wo;
#pragma omp parallel num_threads(be->threads)
        {
            float *sc = fathom_cpu_scratch(be);
            resize_rows s = {sc, {sc + W, sc + W + (size_t)C * W}, NULL, (int *)(sc + W + 2 * (size_t)C * W),
                             (int *)(sc + W + 2 * (size_t)C * W) + W, {-1, -1}};
            for (int x = 0; x < W; x++) fathom_cpu_resize_index(x, sx, w, &s.x0[x], &s.x1[x], &s.lx[x]);
#pragma omp for schedule(static)
            for (int oy = 0; oy < H; oy++) {
                int y0, y1;
                float ly;
                fathom_cpu_resize_index(oy, sy, h, &y0, &y1, &ly);
                const float *top = hrows(&s, img, C, h, w, W, y0, y1), *bot = hrows(&s, img, C, h, w, W, y1, y0);
                for (int ci = 0; ci < C; ci++) {
                    float *d = c.x + ci * c.plane + (size_t)(oy + pad) * c.Wp;
                    const float *t = top + (size_t)ci * W, *b = bot + (size_t)ci * W;
                    for (int x = 0; x < pad; x++) d[x] = d[pad + W + x] = 0.0f;
                    for (int x = 0; x < W; x++) d[pad + x] = (1.0f - ly) * t[x] + ly * b[x];
                    if (rc->relu_in)
                        for (int x = 0; x < W; x++) d[pad + x] = d[pad + x] > 0.0f ? d[pad + x] : 0.0f;
                }
            }
#pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < c.ntiles; t++)
                for (int q = t * FATHOM_CPU_CONV_N; q < c.nq && q < (t + 1) * FATHOM_CPU_CONV_N; q += 64) {
                    int n = c.nq - q < 64 ? c.nq - q : 64;
                    const float *ct = fathom_cpu_conv_f32_panel(be, &c, rc->w, q, n);
                    if (!ho) {
                        fathom_cpu_conv_f32_store(&c, out, rc->ot.b, NULL, rc->ot.relu, ct, q, n);
                        continue;
                    }
                    float acc[64] = {0};
                    for (int co = 0; co < ho->Ch; co++) {
                        const float bias = ho->b2 ? ho->b2[co] : 0.0f, wc = ho->w3[co];
                        for (int x = 0; x < 64; x++) {
                            float v = ct[(size_t)co * 64 + x] + bias;
                            acc[x] += v > 0.0f ? wc * v : 0.0f;
                        }
                    }
                    for (int x = 0; x < n; x++) {
                        int ox = (q + x) % c.Wp;
                        if (ox < c.Wo) depth[(size_t)((q + x) / c.Wp) * c.Wo + ox] = acc[x] + ho->b3;
                    }
                }
        }
    }
    fathom_cpu_conv_f32_close(&c);
    return 1;
}

void fathom_cpu_dpt_head_tail(fathom_backend *be, float *depth, const float *in, const float *w2,
                              const float *b2, const float *w3, const float *b3, float *r, float *u,
                              int B, int C, int h, int w, int H, int W, int Ch) {
    if (B <= 0 || H <= 0 || W <= 0) return;
    head_out ho = {depth, b2, w3, b3 ? b3[0] : 0.0f, Ch, 0, W + 2, W};
    resize_conv rc = {in, w2, B, C, h, w, H, W, Ch, 3, 1, 0, {0}, &ho};
    if (fathom_cpu_conv_find(be, w2, &(const fathom_bf16_mat *){NULL}, &(const fathom_q4_mat *){NULL}, &(int){0})) {
        if (fused(be, &rc)) return; /* else the convs below use the packed twin too */
    } else if (fused_f32(be, &rc)) {
        return;
    }
    fathom_cpu_resize_bilinear(be, r, in, B * C, h, w, H, W);
    fathom_cpu_conv2d(be, u, r, w2, b2, NULL, B, C, H, W, Ch, 3, 1, 1, 0);
    fathom_cpu_conv2d(be, depth, u, w3, b3, NULL, B, Ch, H, W, 1, 1, 1, 0, FATHOM_CONV_RELU_IN);
}

void fathom_cpu_conv2d_resized(fathom_backend *be, float *out, const float *in, const float *w,
                               const float *b, float *r, int B, int Ci, int hi, int wi, int H, int W,
                               int Co, int k, int pad, int flags) {
    const int Ho = H + 2 * pad - k + 1, Wo = W + 2 * pad - k + 1;
    if (B <= 0 || Ho <= 0 || Wo <= 0) return;
    fathom_conv_tile ot = {out, b, NULL, Co, 0, W + 2 * pad, Wo, flags & FATHOM_CONV_RELU_OUT, (size_t)Ho * Wo};
    resize_conv rc = {in, w, B, Ci, hi, wi, H, W, Co, k, pad, flags & FATHOM_CONV_RELU_IN, ot, NULL};
    if (fathom_cpu_conv_find(be, w, &(const fathom_bf16_mat *){NULL}, &(const fathom_q4_mat *){NULL}, &(int){0})) {
        if (fused(be, &rc)) return;
    } else if (fused_f32(be, &rc)) {
        return;
    }
    fathom_cpu_resize_bilinear(be, r, in, B * Ci, hi, wi, H, W);
    fathom_cpu_conv2d(be, out, r, w, b, NULL, B, Ci, H, W, Co, k, 1, pad, flags);
}
