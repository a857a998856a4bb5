/* cpu_head_rcu.c - the DPT residual conv unit as one op (ops.def dpt_rcu): out = conv2(ReLU(
 * conv1(ReLU(in)) + b1)) + b2 + residual, both convs 3x3, pad 1, C -> C.
 *
 * As two conv2d ops, the first conv's tile went to NCHW fp32 planes that the second conv
 * copied straight back to its padded pixel-major bf16 image X2. With packed weights the first
 * conv's tile now ends in X2: output pixel q (= oy Wp + ox) is X2's pixel q + Wp + 1, so the
 * Wp - Wo dropped columns of each row land on X2's right and left padding and are written as
 * zeros; bias, ReLU and the bf16 rounding are the epilogue. fp32 engines (AVX-512 panels) do
 * the same on the padded planes (cpu_conv_f32.h): conv1's panel is conv2's plane run at q +
 * Wp + 1, the same values as the two conv2d ops give. Shapes neither path takes run the two
 * convs. */
#include <string.h>

#include "backend/cpu/cpu_conv_bf16.h"
#include "backend/cpu/cpu_conv_f32.h"
#include "backend/cpu/cpu_internal.h"

/* tile rows of conv1 (np pixels from q0, ld ldt) -> X2's pixels, Cp bf16 channels each */
typedef struct mid_out {
    uint16_t *x; /* X2 */
    const float *b;
    int Co, Cp, ldt, Wp, Wo;
} mid_out;

static void mid_rows(const mid_out *m, const float *tile, int q0, int np) {
    for (int j = 0; j < np; j++) {
        int q = q0 + j;
        uint16_t *d = m->x + (size_t)(q + m->Wp + 1) * m->Cp;
        if (q % m->Wp >= m->Wo) {
            memset(d, 0, (size_t)m->Cp * sizeof *d);
            continue;
        }
        for (int c = 0; c < m->Cp; c++) {
            float v = c < m->Co ? tile[(size_t)j * m->ldt + c] + (m->b ? m->b[c] : 0.0f) : 0.0f;
            d[c] = fathom_f32_to_bf16(v > 0.0f ? v : 0.0f);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

/* 32 channels per 64-byte store, rounded as the conv's input copy (vcvtne2ps2bf16) */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void mid_rows_avx512(const mid_out *m,
                                                                                    const float *tile, int q0,
                                                                                    int np) {
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < np; j++) {
        int q = q0 + j;
        uint16_t *d = m->x + (size_t)(q + m->Wp + 1) * m->Cp;
        int live = q % m->Wp < m->Wo;
        for (int c = 0; c < m->Cp; c += 32) {
            __m512 v[2] = {zero, zero};
            for (int hf = 0; hf < 2 && live; hf++) {
                int c0 = c + 16 * hf, n = m->Co - c0;
                __mmask16 k = n >= 16 ? (__mmask16)0xffff : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
                __m512 t = _mm512_maskz_loadu_ps(k, tile + (size_t)j * m->ldt + c0);
                if (m->b) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(k, m->b + c0));
                v[hf] = _mm512_max_ps(t, zero);
            }
            _mm512_storeu_si512(d + c, (__m512i)_mm512_cvtne2ps_pbh(v[1], v[0]));
        }
    }
}
#else
static void mid_rows_avx512(const mid_out *m, const float *tile, int q0, int np) {
    mid_rows(m, tile, q0, np); /* no AVX-512 kernels are picked here */
}
#endif

static int fused(fathom_backend *be, float *out, const float *in, const float *w1, const float *b1,
                 const float *w2, const float *b2, const float *residual, int B, int C, int H, int W) {
    const fathom_bf16_mat *wb1, *wb2;
    const fathom_q4_mat *w41, *w42;
    int kern1, kern2;
    fathom_taps_conv c1, c2;
    if (!fathom_cpu_conv_find(be, w1, &wb1, &w41, &kern1) || !fathom_cpu_conv_find(be, w2, &wb2, &w42, &kern2))
        return 0;
    if (!fathom_cpu_taps_open(be, &c1, wb1, w41, kern1, C, H, W, C, 3, 1)) return 0;
    if (!fathom_cpu_taps_open(be, &c2, wb2, w42, kern2, C, H, W, C, 3, 1)) {
        fathom_cpu_taps_close(&c1);
        return 0;
    }
    /* X2's pixels no tile writes: the top row with the next row's left padding, and the
     * bottom row past its first pixel */
    const size_t Cp = c2.Cp, HWo = (size_t)H * W, last = (size_t)(H + 1) * c2.Wp + 1;
    memset(c2.x, 0, (size_t)(c2.Wp + 1) * Cp * sizeof *c2.x);
    memset(c2.x + last * Cp, 0, ((size_t)c2.Hp * c2.Wp - last) * Cp * sizeof *c2.x);
    const mid_out m = {c2.x, b1, C, c2.Cp, c1.t.Np, c1.Wp, c1.Wo};
    for (int bt = 0; bt < B; bt++) {
        const float *img = in + (size_t)bt * C * HWo;
        fathom_conv_tile ot = {out + (size_t)bt * C * HWo, b2, residual ? residual + (size_t)bt * C * HWo : NULL,
                               C, c2.t.Np, c2.Wp, c2.Wo, 0, HWo};
#pragma omp parallel num_threads(be->threads)
        {
#pragma omp for schedule(static)
            for (int y = 0; y < c1.Hp; y += 4)
                fathom_cpu_taps_fill(&c1, img, 1, y, y + 4 < c1.Hp ? y + 4 : c1.Hp);
#pragma omp for schedule(dynamic, 1)
            for (int blk = 0; blk < c1.nblk; blk++) {
                int q0, np;
                const float *tile = fathom_cpu_taps_tile(be, &c1, blk, &q0, &np);
                if (kern1 == FATHOM_CPU_BF16_PORTABLE) mid_rows(&m, tile, q0, np);
                else mid_rows_avx512(&m, tile, q0, np);
            }
#pragma omp for schedule(dynamic, 1)
            for (int blk = 0; blk < c2.nblk; blk++) {
                int q0, np;
                const float *tile = fathom_cpu_taps_tile(be, &c2, blk, &q0, &np);
                if (kern2 == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_conv_tile_out(&ot, tile, q0, np);
                else fathom_cpu_conv_tile_out_avx512(&ot, tile, q0, np);
            }
        }
    }
    fathom_cpu_taps_close(&c1);
    fathom_cpu_taps_close(&c2);
    return 1;
}

/* conv1's (C x 64) panel of pixels [q, q + n) -> conv2's planes, with bias and ReLU */
static void mid_panel(const fathom_conv_f32 *c2, const float *b1, const float *ct, int q, int n) {
    for (int co = 0; co < c2->Co; co++) {
        float *d = c2->x + co * c2->plane + (size_t)q + c2->Wp + 1, bias = b1 ? b1[co] : 0.0f;
        const float *t = ct + (size_t)co * 64;
        for (int x = 0, ox = q % c2->Wp; x < n; x++, ox = ox + 1 < c2->Wp ? ox + 1 : 0) {
            float v = t[x] + bias;
            d[x] = ox < c2->Wo && v > 0.0f ? v : 0.0f;
        }
    }
}

static int fused_f32(fathom_backend *be, float *out, const float *in, const float *w1, const float *b1,
                     const float *w2, const float *b2, const float *residual, int B, int C, int H, int W) {
    fathom_conv_f32 c1, c2;
    if (!fathom_cpu_conv_f32_open(&c1, C, H, W, C, 3, 1)) return 0;
    if (!fathom_cpu_conv_f32_open(&c2, C, H, W, C, 3, 1)) {
        fathom_cpu_conv_f32_close(&c1);
        return 0;
    }
    /* each plane's pixels no panel writes: the top row with the next row's left padding, and
     * the bottom row past its first pixel */
    const size_t HW = (size_t)H * W, last = (size_t)(H + 1) * c2.Wp + 1;
    for (int ci = 0; ci < C; ci++) {
        memset(c2.x + ci * c2.plane, 0, (size_t)(c2.Wp + 1) * sizeof *c2.x);
        memset(c2.x + ci * c2.plane + last, 0, (c2.plane - last) * sizeof *c2.x);
    }
    for (int bt = 0; bt < B; bt++) {
        const float *img = in + (size_t)bt * C * HW;
        float *o = out + (size_t)bt * C * HW;
        const float *res = residual ? residual + (size_t)bt * C * HW : NULL;
#pragma omp parallel num_threads(be->threads)
        {
#pragma omp for schedule(static)
            for (int ci = 0; ci < C; ci++) fathom_cpu_conv_f32_fill(&c1, img, 1, ci);
#pragma omp for schedule(dynamic, 1)
            for (int q = 0; q < c1.nq; q += 64) {
                int n = c1.nq - q < 64 ? c1.nq - q : 64;
                mid_panel(&c2, b1, fathom_cpu_conv_f32_panel(be, &c1, w1, q, n), q, n);
            }
#pragma omp for schedule(dynamic, 1)
            for (int q = 0; q < c2.nq; q += 64) {
                int n = c2.nq - q < 64 ? c2.nq - q : 64;
                fathom_cpu_conv_f32_store(&c2, o, b2, res, 0, fathom_cpu_conv_f32_panel(be, &c2, w2, q, n), q, n);
            }
        }
    }
    fathom_cpu_conv_f32_close(&c1);
    fathom_cpu_conv_f32_close(&c2);
    return 1;
}

void fathom_cpu_dpt_rcu(fathom_backend *be, float *out, const float *in, const float *w1, const float *b1,
                        const float *w2, const float *b2, const float *residual, float *mid, int B, int C,
                        int H, int W) {
    if (B <= 0 || H <= 0 || W <= 0) return;
    const int packed = fathom_cpu_conv_find(be, w1, &(const fathom_bf16_mat *){NULL},
                                            &(const fathom_q4_mat *){NULL}, &(int){0});
    if (packed && fused(be, out, in, w1, b1, w2, b2, residual, B, C, H, W)) return;
    if (!packed && !fathom_cpu_conv_find(be, w2, &(const fathom_bf16_mat *){NULL}, &(const fathom_q4_mat *){NULL},
                                         &(int){0}) &&
        fused_f32(be, out, in, w1, b1, w2, b2, residual, B, C, H, W))
        return;
    fathom_cpu_conv2d(be, mid, in, w1, b1, NULL, B, C, H, W, C, 3, 1, 1,
                      FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
    fathom_cpu_conv2d(be, out, mid, w2, b2, residual, B, C, H, W, C, 3, 1, 1, 0);
}
