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

#include "backend/cpu/cpu_internal.h"

_Static_assert(FATHOM_CPU_CONV_N * FATHOM_CPU_CONV_K <= FATHOM_CPU_SCRATCH,
               "conv tile must fit the per-thread scratch");

typedef struct conv_shape {
    int Ci, H, W, Co, k, stride, pad, Ho, Wo, flags;
} conv_shape;

/* col rows [r0, r0 + nr) for output pixels [p0, p0 + np), row-major (nr, np) */
static void im2col_tile(float *col, const float *in, const conv_shape *cs, int r0, int nr,
                        int p0, int np) {
    int kk = cs->k * cs->k, relu = cs->flags & FATHOM_CONV_RELU_IN;
    for (int r = 0; r < nr; r++) {
        int ci = (r0 + r) / kk, ky = (r0 + r) % kk / cs->k, kx = (r0 + r) % cs->k;
        const float *plane = in + (size_t)ci * cs->H * cs->W;
        float *dst = col + (size_t)r * np;
        int j = 0;
        while (j < np) {
            int p = p0 + j, oy = p / cs->Wo, ox0 = p % cs->Wo;
            int n = cs->Wo - ox0 < np - j ? cs->Wo - ox0 : np - j; /* rest of this output row */
            int iy = oy * cs->stride - cs->pad + ky;
            if (iy < 0 || iy >= cs->H) {
                memset(dst + j, 0, sizeof(float) * n);
            } else {
                const float *src = plane + (size_t)iy * cs->W;
                if (cs->stride == 1) {
                    /* contiguous run: zero the padding, copy the inside */
                    int ix0 = ox0 - cs->pad + kx, lo = ix0 < 0 ? -ix0 : 0;
                    int hi = cs->W - ix0 < n ? cs->W - ix0 : n;
                    if (hi < lo) hi = lo;
                    float *d = dst + j;
                    for (int t = 0; t < lo; t++) d[t] = 0.0f;
                    if (relu)
                        for (int t = lo; t < hi; t++) d[t] = src[ix0 + t] > 0.0f ? src[ix0 + t] : 0.0f;
                    else if (hi > lo)
                        memcpy(d + lo, src + ix0 + lo, sizeof(float) * (hi - lo));
                    for (int t = hi; t < n; t++) d[t] = 0.0f;
                } else {
                    for (int t = 0; t < n; t++) {
                        int ix = (ox0 + t) * cs->stride - cs->pad + kx;
                        float v = ix >= 0 && ix < cs->W ? src[ix] : 0.0f;
                        dst[j + t] = relu && v < 0.0f ? 0.0f : v;
                    }
                }
            }
            j += n;
        }
    }
}

static void conv_task(fathom_backend *be, float *out, const float *in, const float *w,
                      const float *b, const float *residual, const conv_shape *cs, int p0,
                      int np) {
    size_t HWo = (size_t)cs->Ho * cs->Wo;
    int Kt = cs->Ci * cs->k * cs->k;
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
            im2col_tile(col, in, cs, r0, nr, p0, np);
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
    conv_shape cs = {Ci, H, W, Co, k, stride, pad, (H + 2 * pad - k) / stride + 1,
                     (W + 2 * pad - k) / stride + 1, flags};
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
