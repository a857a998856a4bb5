/* align.c - least-squares scale/shift over a chunk overlap and cross-fade (see align.h). */
#include "cluster/align.h"

#include <math.h>

void fathom_align_init(fathom_align_acc *acc) {
    *acc = (fathom_align_acc){0};
    acc->amin = INFINITY;
    acc->amax = -INFINITY;
}

void fathom_align_add(fathom_align_acc *acc, const float *a, const float *b, size_t n) {
    /* per-frame partial sums in double keep the rounding far below a depth map's noise */
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, cnt = 0;
    float lo = acc->amin, hi = acc->amax;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) continue;
        double x = b[i], y = a[i];
        sa += y, sb += x, saa += y * y, sbb += x * x, sab += x * y, cnt++;
        if (a[i] < lo) lo = a[i];
        if (a[i] > hi) hi = a[i];
    }
    acc->n += cnt, acc->sa += sa, acc->sb += sb, acc->saa += saa, acc->sbb += sbb, acc->sab += sab;
    acc->amin = lo, acc->amax = hi;
}

void fathom_align_solve(const fathom_align_acc *acc, double *s, double *t, double *residual) {
    *s = 1, *t = 0;
    if (residual) *residual = 0;
    if (acc->n < 1) return;
    double n = acc->n, ma = acc->sa / n, mb = acc->sb / n;
    double vb = acc->sbb / n - mb * mb, cab = acc->sab / n - ma * mb;
    if (vb > 1e-12 * (acc->sbb / n + 1e-30)) *s = cab / vb;
    *t = ma - *s * mb;
    if (!residual) return;
    /* sum (s b + t - a)^2 expanded over the sums (no second pass over the frames) */
    double ss = *s, tt = *t;
    double e = ss * ss * acc->sbb + tt * tt * n + acc->saa + 2 * ss * tt * acc->sb -
               2 * ss * acc->sab - 2 * tt * acc->sa;
    double range = (double)acc->amax - acc->amin;
    *residual = e > 0 && range > 0 ? sqrt(e / n) / range : 0;
}

void fathom_align_apply(float *out, const float *b, size_t n, double s, double t) {
    if (s == 1 && t == 0) {
        if (out != b)
            for (size_t i = 0; i < n; i++) out[i] = b[i];
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)(s * b[i] + t);
}

void fathom_align_fade(float *out, const float *a, const float *b_aligned, size_t n, int j, int k) {
    const float w = (float)(j + 1) / (float)(k + 1);
    /* a + w (b - a): exactly a where the chunks agree (per-frame models: bit-exact seams) */
    for (size_t i = 0; i < n; i++) out[i] = a[i] + w * (b_aligned[i] - a[i]);
}
