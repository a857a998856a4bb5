/* ref_elementwise.c - reference bilinear resize (align_corners=True), add, depth activation. */
#include <math.h>

#include "backend/cpu/ref_ops.h"

/* PyTorch align_corners=True source index (spec §8.2): scale in float32, s = scale * d. */
static void ref_src(int d, int n_in, int n_out, int *i0, int *i1, float *lambda) {
    float scale = n_out > 1 ? (float)(n_in - 1) / (float)(n_out - 1) : 0.0f;
    float s = scale * (float)d;
    int f = (int)floorf(s);
    if (f > n_in - 1) f = n_in - 1;
    *i0 = f;
    *i1 = f < n_in - 1 ? f + 1 : f;
    *lambda = s - (float)f;
}

void fathom_ref_resize_bilinear(float *out, const float *in, int P, int Hi, int Wi, int Ho,
                                int Wo) {
    for (int p = 0; p < P; p++) {
        const float *src = in + (size_t)p * Hi * Wi;
        for (int y = 0; y < Ho; y++) {
            int y0, y1;
            float ly;
            ref_src(y, Hi, Ho, &y0, &y1, &ly);
            for (int x = 0; x < Wo; x++) {
                int x0, x1;
                float lx;
                ref_src(x, Wi, Wo, &x0, &x1, &lx);
                /* PyTorch's CPU kernel: h0lambda * (w0lambda * v00 + w1lambda * v01) + ... */
                float top = (1.0f - lx) * src[(size_t)y0 * Wi + x0] + lx * src[(size_t)y0 * Wi + x1];
                float bot = (1.0f - lx) * src[(size_t)y1 * Wi + x0] + lx * src[(size_t)y1 * Wi + x1];
                out[((size_t)p * Ho + y) * Wo + x] = (1.0f - ly) * top + ly * bot;
            }
        }
    }
}

void fathom_ref_add(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void fathom_ref_depth_act(float *x, size_t n, int metric, float max_depth) {
    for (size_t i = 0; i < n; i++) {
        if (metric)
            x[i] = (float)(1.0 / (1.0 + exp(-(double)x[i]))) * max_depth;
        else if (x[i] < 0.0f)
            x[i] = 0.0f;
    }
}
