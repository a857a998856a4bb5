/* ref_depthpro.c - plain-C twins of the Depth Pro ops (backend.h, "Depth Pro" section). */
#include <math.h>
#include <string.h>

#include "backend/cpu/ref_ops.h"

/* PyTorch's CPU source index for align_corners=False on float32 tensors: the scale is a
 * float32, the index arithmetic double, the weight rounded to float32. */
void fathom_ref_pt_index(int d, float scale, int n_in, int *i0, int *i1, float *w1) {
    double s = (double)scale * ((double)d + 0.5) - 0.5;
    if (s < 0) s = 0;
    int f = (int)floor(s);
    if (f > n_in - 1) f = n_in - 1;
    *i0 = f;
    *i1 = f < n_in - 1 ? f + 1 : f;
    *w1 = (float)(s - (double)f);
}

float fathom_ref_pt_scale(int n_in, int n_out, float inv_scale) {
    return inv_scale > 0.0f ? inv_scale : (float)n_in / (float)n_out;
}

void fathom_ref_resize_bilinear_pt(float *out, const float *in, int P, int Hi, int Wi, int Ho,
                                   int Wo, float inv_sy, float inv_sx) {
    float sy = fathom_ref_pt_scale(Hi, Ho, inv_sy), sx = fathom_ref_pt_scale(Wi, Wo, inv_sx);
    for (int p = 0; p < P; p++)
        for (int y = 0; y < Ho; y++) {
            int y0, y1;
            float ly;
            fathom_ref_pt_index(y, sy, Hi, &y0, &y1, &ly);
            const float *r0 = in + ((size_t)p * Hi + y0) * Wi, *r1 = in + ((size_t)p * Hi + y1) * Wi;
            for (int x = 0; x < Wo; x++) {
                int x0, x1;
                float lx;
                fathom_ref_pt_index(x, sx, Wi, &x0, &x1, &lx);
                float w0x = 1.0f - lx, w0y = 1.0f - ly;
                out[((size_t)p * Ho + y) * Wo + x] =
                    (r0[x0] * w0x + r0[x1] * lx) * w0y + (r1[x0] * w0x + r1[x1] * lx) * ly;
            }
        }
}

void fathom_ref_crop_tiles(float *out, const float *in, int C, int H, int W, int t, int stride,
                           int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < t; y++)
                    memcpy(out + ((((size_t)i * n + j) * C + c) * t + y) * t,
                           in + ((size_t)c * H + (size_t)i * stride + y) * W + (size_t)j * stride,
                           (size_t)t * sizeof(float));
}

/* Rows [lo, hi) of a tile that are kept: `pad` dropped on sides with a neighbour. */
static void kept(int idx, int n, int g, int pad, int *lo, int *hi) {
    *lo = idx > 0 ? pad : 0;
    *hi = idx < n - 1 ? g - pad : g;
}

void fathom_ref_merge_tiles(float *out, const float *in, int C, int g, int n, int pad) {
    int S = n * g - 2 * pad * (n - 1);
    for (int i = 0, oy = 0; i < n; i++) {
        int ylo, yhi;
        kept(i, n, g, pad, &ylo, &yhi);
        for (int j = 0, ox = 0; j < n; j++) {
            int xlo, xhi;
            kept(j, n, g, pad, &xlo, &xhi);
            for (int c = 0; c < C; c++)
                for (int y = ylo; y < yhi; y++)
                    memcpy(out + ((size_t)c * S + oy + y - ylo) * S + ox,
                           in + ((((size_t)i * n + j) * C + c) * g + y) * g + xlo,
                           (size_t)(xhi - xlo) * sizeof(float));
            ox += xhi - xlo;
        }
        oy += yhi - ylo;
    }
}
