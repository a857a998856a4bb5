/* cpu_conv2d.c - conv2d as tiled im2col + sgemm.
 *
 * Per batch image, out (Co, Ho*Wo) = w (Co, Ci k k) . col (Ci k k, Ho*Wo). The col matrix is
 * never built whole (3x3x32 at 518x518 would be 300 MB): one task owns CONV_N output pixels
 * and builds their columns CONV_K rows at a time in its scratch tile, accumulating with
 * beta = 1 into out, which was first filled with bias + residual. RELU_IN is applied while
 * gathering, RELU_OUT on the finished tile while it is in cache. A 1x1 stride-1 conv reads
 * the input directly (no copy). `out` may alias `residual` but not `in`. */
#include <cblas.h>
#include <string.h>

#include "backend/cpu/cpu_conv_f32.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"
#include "core/alloc.h"

_Static_assert(FATHOM_CPU_CONV_N * FATHOM_CPU_CONV_K <= FATHOM_CPU_SCRATCH,
               "conv tile must fit the per-thread scratch");

typedef struct conv_shape {
    int Ci, H, W, Co, k, stride, pad, Ho, Wo, flags;
    int fast; /* AVX-512 panel kernel: its panels and row pointers fit the scratch */
} conv_shape;

/* col rows [r0, r0 + nr) for output pixels [p0, p0 + np), row-major (nr, np), ld ldcol.
 * The pixel range is cut once into runs within one output row; each col row is then a few
 * run copies with the padding zeroed. */
static void im2col_tile(float *col, int ldcol, const float *in, const conv_shape *cs, int r0,
                        int nr, int p0, int np) {
    enum { MAXRUN = 64 };
    int kk = cs->k * cs->k, relu = cs->flags & FATHOM_CONV_RELU_IN;
    int run_oy[MAXRUN], run_ox[MAXRUN], run_n[MAXRUN], run_j[MAXRUN], nrun = 0;
    for (int j0 = 0; j0 < np; j0 += MAXRUN) { /* runs in batches of at most MAXRUN pixels */
        int npb = np - j0 < MAXRUN ? np - j0 : MAXRUN;
        nrun = 0;
        for (int j = 0; j < npb;) {
            int p = p0 + j0 + j, ox0 = p % cs->Wo;
            int n = cs->Wo - ox0 < npb - j ? cs->Wo - ox0 : npb - j;
            run_oy[nrun] = p / cs->Wo, run_ox[nrun] = ox0, run_n[nrun] = n, run_j[nrun] = j0 + j;
            nrun++;
            j += n;
        }
        for (int r = 0; r < nr; r++) {
            int ci = (r0 + r) / kk, ky = (r0 + r) % kk / cs->k, kx = (r0 + r) % cs->k;
            const float *plane = in + (size_t)ci * cs->H * cs->W;
            float *dst = col + (size_t)r * ldcol;
            for (int q = 0; q < nrun; q++) {
                int n = run_n[q], iy = run_oy[q] * cs->stride - cs->pad + ky;
                float *d = dst + run_j[q];
                if (iy < 0 || iy >= cs->H) {
                    for (int t = 0; t < n; t++) d[t] = 0.0f;
                    continue;
                }
                const float *src = plane + (size_t)iy * cs->W;
                int ix0 = run_ox[q] * cs->stride - cs->pad + kx;
                if (cs->stride == 1) {
                    /* contiguous: zero the padding, copy the inside */
                    int lo = ix0 < 0 ? -ix0 : 0, hi = cs->W - ix0 < n ? cs->W - ix0 : n;
                    if (hi < lo) hi = lo;
                    const float *s = src + ix0;
                    for (int t = 0; t < lo; t++) d[t] = 0.0f;
                    if (relu)
                        for (int t = lo; t < hi; t++) d[t] = s[t] > 0.0f ? s[t] : 0.0f;
                    else
                        for (int t = lo; t < hi; t++) d[t] = s[t];
                    for (int t = hi; t < n; t++) d[t] = 0.0f;
                } else {
                    for (int t = 0; t < n; t++) {
                        int ix = ix0 + t * cs->stride;
                        float v = ix >= 0 && ix < cs->W ? src[ix] : 0.0f;
                        d[t] = relu && v < 0.0f ? 0.0f : v;
                    }
                }
            }
        }
    }
}

/* AVX-512 path for pixels [p0, p0 + np): per 64-pixel panel, im2col of all Ci k k rows, the
 * register-tiled product into a contiguous (Co x 64) tile (accumulating straight into the
 * strided out rows was 1.5x slower: one page per channel), then bias, residual and ReLU on
 * the way out. */
static void conv_task_fast(fathom_backend *be, float *out, const float *in, const float *w,
                           const float *b, const float *residual, const conv_shape *cs, int p0,
                           int np) {
    size_t HWo = (size_t)cs->Ho * cs->Wo;
    int Kt = cs->Ci * cs->k * cs->k, relu = cs->flags & FATHOM_CONV_RELU_OUT;
    int direct = cs->k == 1 && cs->stride == 1 && cs->pad == 0 && !(cs->flags & FATHOM_CONV_RELU_IN);
    int shifted = cs->stride == 1 && !(cs->flags & FATHOM_CONV_RELU_IN);
    float *col = fathom_cpu_scratch(be), *ct = col + (size_t)Kt * 64;
    for (int j = 0; j < np; j += 64) {
        int n = np - j < 64 ? np - j : 64;
        memset(ct, 0, sizeof(float) * 64 * cs->Co);
        int p = p0 + j, oy = p / cs->Wo, ox0 = p % cs->Wo;
        if (direct && n == 64) { /* 1x1: the input rows are the panel */
            fathom_cpu_panel_gemm(ct, 64, w, Kt, in + p0 + j, HWo, Kt, cs->Co, n);
        } else if (shifted && n == 64 && ox0 + 64 <= cs->Wo && oy >= cs->pad &&
                   oy - cs->pad + cs->k <= cs->H && ox0 >= cs->pad &&
                   ox0 - cs->pad + 63 + cs->k <= cs->W) {
            /* stride 1, panel inside one output row, no padding touched: every col row is
             * 64 consecutive input floats, so point at them instead of copying */
            const float **rows = (const float **)(ct + (size_t)64 * cs->Co);
            size_t HW = (size_t)cs->H * cs->W;
            int r = 0;
            for (int ci = 0; ci < cs->Ci; ci++)
                for (int ky = 0; ky < cs->k; ky++) {
                    const float *row = in + ci * HW + (size_t)(oy - cs->pad + ky) * cs->W + ox0 - cs->pad;
                    for (int kx = 0; kx < cs->k; kx++) rows[r++] = row + kx;
                }
            fathom_cpu_panel_gemm_rows(ct, 64, w, Kt, rows, Kt, cs->Co, n);
        } else {
            im2col_tile(col, 64, in, cs, 0, Kt, p0 + j, n);
            fathom_cpu_panel_gemm(ct, 64, w, Kt, col, 64, Kt, cs->Co, n);
        }
        for (int co = 0; co < cs->Co; co++) {
            float *o = out + co * HWo + p0 + j, bias = b ? b[co] : 0.0f;
            const float *t = ct + (size_t)co * 64;
            const float *res = residual ? residual + co * HWo + p0 + j : NULL;
            for (int x = 0; x < n; x++) {
                float v = t[x] + bias;
                if (res) v += res[x];
                o[x] = relu && v < 0.0f ? 0.0f : v;
            }
        }
    }
}

/* Stride-1 convs on the AVX-512 panels without im2col (cpu_conv_f32.h): the input is copied
 * once, with its zero padding and RELU_IN, to planes of Hp x Wp; output pixels are numbered in
 * the padded width (q = oy Wp + ox), so col row (ci, ky, kx) of 64 consecutive q is 64
 * consecutive floats of plane ci at q + ky Wp + kx and every panel reads the copy in place
 * (the same products in the same order as im2col's, so the same bits). The Wp - Wo columns
 * past each output row are computed and dropped. */
static int fast_fits(int Ci, int k, int Co) {
    /* scratch: col panel (Ci k k x 64), C tile (Co x 64), Ci k k row pointers */
    return ((size_t)Ci * k * k + Co) * 64 + (size_t)Ci * k * k * (sizeof(void *) / sizeof(float)) <=
               FATHOM_CPU_SCRATCH && fathom_cpu_has_avx512();
}

int fathom_cpu_conv_f32_open(fathom_conv_f32 *c, int Ci, int H, int W, int Co, int k, int pad) {
    const int Hp = H + 2 * pad, Wp = W + 2 * pad;
    if (!fast_fits(Ci, k, Co) || Hp - k + 1 <= 0 || Wp - k + 1 <= 0) return 0;
    const size_t plane = (size_t)Hp * Wp, tail = 64 + (size_t)k;
    const size_t bytes = ((size_t)Ci * plane + tail) * sizeof(float);
    if (bytes > ((size_t)FATHOM_CPU_CONV_COPY_MB << 20)) return 0;
    *c = (fathom_conv_f32){fathom_alloc(bytes), bytes, plane, Ci, H, W, Co, k, pad, Hp, Wp,
                           Hp - k + 1, Wp - k + 1, (Hp - k + 1) * Wp, 0};
    if (!c->x) return 0;
    c->ntiles = (c->nq + FATHOM_CPU_CONV_N - 1) / FATHOM_CPU_CONV_N;
    memset(c->x + (size_t)Ci * plane, 0, tail * sizeof *c->x);
    return 1;
}

void fathom_cpu_conv_f32_close(fathom_conv_f32 *c) {
    fathom_free_sized(c->x, c->bytes);
    c->x = NULL;
}

void fathom_cpu_conv_f32_fill(const fathom_conv_f32 *c, const float *in, int relu, int ci) {
    float *d = c->x + (size_t)ci * c->plane;
    const float *s = in + (size_t)ci * c->H * c->W;
    const int pad = c->pad, Wp = c->Wp;
    memset(d, 0, (size_t)pad * Wp * sizeof *d);
    for (int y = 0; y < c->H; y++) {
        float *dr = d + (size_t)(y + pad) * Wp;
        const float *sr = s + (size_t)y * c->W;
        memset(dr, 0, (size_t)pad * sizeof *dr);
        if (relu)
            for (int x = 0; x < c->W; x++) dr[pad + x] = sr[x] > 0.0f ? sr[x] : 0.0f;
        else
            memcpy(dr + pad, sr, (size_t)c->W * sizeof *dr);
        memset(dr + pad + c->W, 0, (size_t)pad * sizeof *dr);
    }
    memset(d + (size_t)(pad + c->H) * Wp, 0, (size_t)pad * Wp * sizeof *d);
}

float *fathom_cpu_conv_f32_panel(fathom_backend *be, const fathom_conv_f32 *c, const float *w, int q, int n) {
    const int Kt = c->Ci * c->k * c->k;
    float *ct = fathom_cpu_scratch(be);
    const float **rows = (const float **)(ct + (size_t)64 * c->Co);
    int r = 0;
    for (int ci = 0; ci < c->Ci; ci++)
        for (int ky = 0; ky < c->k; ky++)
            for (int kx = 0; kx < c->k; kx++) rows[r++] = c->x + ci * c->plane + (size_t)ky * c->Wp + kx + q;
    memset(ct, 0, sizeof(float) * 64 * c->Co);
    fathom_cpu_panel_gemm_rows(ct, 64, w, Kt, rows, Kt, c->Co, n);
    return ct;
}

void fathom_cpu_conv_f32_store(const fathom_conv_f32 *c, float *out, const float *b, const float *residual,
                               int relu, const float *ct, int q, int n) {
    const size_t HWo = (size_t)c->Ho * c->Wo;
    for (int x = 0; x < n;) { /* runs of the panel inside one output row */
        int oy = (q + x) / c->Wp, ox = (q + x) % c->Wp;
        if (ox >= c->Wo) {
            x += c->Wp - ox;
            continue;
        }
        int len = c->Wo - ox < n - x ? c->Wo - ox : n - x;
        size_t dst = (size_t)oy * c->Wo + ox;
        for (int co = 0; co < c->Co; co++) {
            float *o = out + co * HWo + dst, bias = b ? b[co] : 0.0f;
            const float *t = ct + (size_t)co * 64 + x;
            const float *res = residual ? residual + co * HWo + dst : NULL;
            for (int i = 0; i < len; i++) {
                float v = t[i] + bias;
                if (res) v += res[i];
                o[i] = relu && v < 0.0f ? 0.0f : v;
            }
        }
        x += len;
    }
}

/* padded pixels [q0, q0 + nq) of one image */
static void padded_task(fathom_backend *be, float *out, const fathom_conv_f32 *px, const float *w,
                        const float *b, const float *residual, const conv_shape *cs, int q0, int nq) {
    for (int j = 0; j < nq; j += 64) {
        int n = nq - j < 64 ? nq - j : 64, q = q0 + j;
        const float *ct = fathom_cpu_conv_f32_panel(be, px, w, q, n);
        fathom_cpu_conv_f32_store(px, out, b, residual, cs->flags & FATHOM_CONV_RELU_OUT, ct, q, n);
    }
}

/* 0 when the copy cannot be allocated (nothing written) */
static int conv_padded(fathom_backend *be, float *out, const float *in, const float *w,
                       const float *b, const float *residual, int B, const conv_shape *cs) {
    fathom_conv_f32 px;
    if (!fathom_cpu_conv_f32_open(&px, cs->Ci, cs->H, cs->W, cs->Co, cs->k, cs->pad)) return 0;
    const size_t HWo = (size_t)cs->Ho * cs->Wo;
    for (int bt = 0; bt < B; bt++) {
        const float *ib = in + (size_t)bt * cs->Ci * cs->H * cs->W;
#pragma omp parallel num_threads(be->threads)
        {
#pragma omp for schedule(static)
            for (int ci = 0; ci < cs->Ci; ci++) fathom_cpu_conv_f32_fill(&px, ib, cs->flags & FATHOM_CONV_RELU_IN, ci);
#pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < px.ntiles; t++) {
                int q0 = t * FATHOM_CPU_CONV_N, n = px.nq - q0 < FATHOM_CPU_CONV_N ? px.nq - q0 : FATHOM_CPU_CONV_N;
                padded_task(be, out + (size_t)bt * cs->Co * HWo, &px, w, b,
                            residual ? residual + (size_t)bt * cs->Co * HWo : NULL, cs, q0, n);
            }
        }
    }
    fathom_cpu_conv_f32_close(&px);
    return 1;
}

static void conv_task(fathom_backend *be, float *out, const float *in, const float *w,
                      const float *b, const float *residual, const conv_shape *cs, int p0,
                      int np) {
    size_t HWo = (size_t)cs->Ho * cs->Wo;
    int Kt = cs->Ci * cs->k * cs->k;
    if (cs->fast) {
        conv_task_fast(be, out, in, w, b, residual, cs, p0, np);
        return;
    }
    /* out tile (Co, np), ld HWo: start from bias (+ residual), then accumulate */
    for (int co = 0; co < cs->Co; co++) {
        float *o = out + co * HWo + p0, bias = b ? b[co] : 0.0f;
        if (residual) {
            const float *res = residual + co * HWo + p0;
            for (int j = 0; j < np; j++) o[j] = res[j] + bias;
        } else {
            for (int j = 0; j < np; j++) o[j] = bias;
        }
    }
    int direct = cs->k == 1 && cs->stride == 1 && cs->pad == 0 && !(cs->flags & FATHOM_CONV_RELU_IN);
    if (direct) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cs->Co, np, Kt, 1.0f, w, Kt,
                    in + p0, (int)HWo, 1.0f, out + p0, (int)HWo);
    } else {
        float *col = fathom_cpu_scratch(be);
        for (int r0 = 0; r0 < Kt; r0 += FATHOM_CPU_CONV_K) {
            int nr = Kt - r0 < FATHOM_CPU_CONV_K ? Kt - r0 : FATHOM_CPU_CONV_K;
            im2col_tile(col, np, in, cs, r0, nr, p0, np);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cs->Co, np, nr, 1.0f, w + r0,
                        Kt, col, np, 1.0f, out + p0, (int)HWo);
        }
    }
    if (cs->flags & FATHOM_CONV_RELU_OUT)
        for (int co = 0; co < cs->Co; co++) {
            float *o = out + co * HWo + p0;
            for (int j = 0; j < np; j++) o[j] = o[j] > 0.0f ? o[j] : 0.0f;
        }
}

void fathom_cpu_conv2d(fathom_backend *be, float *out, const float *in, const float *w,
                       const float *b, const float *residual, int B, int Ci, int H, int W, int Co,
                       int k, int stride, int pad, int flags) {
    /* bf16 / int8 / q4 engines: the packed weights (cpu_conv_bf16.c) */
    if (fathom_cpu_conv2d_packed(be, out, in, w, b, residual, B, Ci, H, W, Co, k, stride, pad, flags))
        return;
    conv_shape cs = {Ci, H, W, Co, k, stride, pad, (H + 2 * pad - k) / stride + 1,
                     (W + 2 * pad - k) / stride + 1, flags, 0};
    cs.fast = fast_fits(Ci, k, Co);
    if (B <= 0 || cs.Ho <= 0 || cs.Wo <= 0) return; /* kernel larger than the padded input */
    /* stride 1 past 1x1 (which reads its input in place already): no im2col */
    if (cs.fast && stride == 1 && k > 1 && conv_padded(be, out, in, w, b, residual, B, &cs)) return;
    size_t HWo = (size_t)cs.Ho * cs.Wo;
    int ptiles = (int)((HWo + FATHOM_CPU_CONV_N - 1) / FATHOM_CPU_CONV_N);
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < B * ptiles; t++) {
        int bt = t / ptiles, p0 = (t % ptiles) * FATHOM_CPU_CONV_N;
        int np = HWo - p0 < FATHOM_CPU_CONV_N ? (int)(HWo - p0) : FATHOM_CPU_CONV_N;
        conv_task(be, out + (size_t)bt * Co * HWo, in + (size_t)bt * Ci * H * W, w, b,
                  residual ? residual + (size_t)bt * Co * HWo : NULL, &cs, p0, np);
    }
}
