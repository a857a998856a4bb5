/* posembed.c - bicubic resampling of the position-embedding grid, as PyTorch's CPU
 * upsample_bicubic2d does it when the official code passes scale_factor = (g + 0.1) / G. */
#include "model/posembed.h"

#include <math.h>
#include <string.h>

/* Source tap base (unclamped first tap) and the 4 weights of output index d. */
static void bicubic_coeffs(float step, int d, int *first, float w[4]) {
    const float A = -0.75f;
    float src = step * ((float)d + 0.5f) - 0.5f; /* not clamped: negative is fine */
    float fl = floorf(src);
    float t = src - fl;
    float x1 = t + 1.f, x2 = 1.f - t, x3 = 2.f - t;
    w[0] = ((A * x1 - 5 * A) * x1 + 8 * A) * x1 - 4 * A;
    w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    w[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
    w[3] = ((A * x3 - 5 * A) * x3 + 8 * A) * x3 - 4 * A;
    *first = (int)fl - 1;
}

static inline int clampg(int v, int G) { return v < 0 ? 0 : v >= G ? G - 1 : v; }

void fathom_posembed_interp(float *out, const float *table, int G, int D, int gh, int gw) {
    memcpy(out, table, sizeof(float) * D); /* class position, unchanged */
    if (gh == G && gw == G) {
        memcpy(out + D, table + D, sizeof(float) * (size_t)G * G * D);
        return;
    }
    /* PyTorch: scale = float(1.0 / scale_factor), scale_factor = (g + 0.1) / G in double */
    float sy = (float)(1.0 / (((double)gh + 0.1) / G));
    float sx = (float)(1.0 / (((double)gw + 0.1) / G));
    const float *grid = table + D;
    for (int r = 0; r < gh; r++) {
        int y0;
        float wy[4];
        bicubic_coeffs(sy, r, &y0, wy);
        for (int c = 0; c < gw; c++) {
            int x0;
            float wx[4];
            bicubic_coeffs(sx, c, &x0, wx);
            float *o = out + (size_t)(1 + r * gw + c) * D;
            const float *p[4][4];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                    p[a][b] = grid + ((size_t)clampg(y0 + a, G) * G + clampg(x0 + b, G)) * D;
            /* x first (4 row interpolations), then y, as PyTorch */
            for (int k = 0; k < D; k++) {
                float acc = 0.f;
                for (int a = 0; a < 4; a++) {
                    float rv = p[a][0][k] * wx[0] + p[a][1][k] * wx[1] + p[a][2][k] * wx[2] +
                               p[a][3][k] * wx[3];
                    acc += rv * wy[a];
                }
                o[k] = acc;
            }
        }
    }
}
