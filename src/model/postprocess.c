/* postprocess.c - depth map back to the image size: bilinear, align_corners=True, with the
 * coordinate math of PyTorch's CPU upsample_bilinear2d in float32 (spec section 8.2). */
#include "fathom.h"

/* Source index and weight of output index d along one axis. */
static inline void lin_coord(float scale, int d, int n_in, int *i0, int *i1, float *l1) {
    float src = scale * (float)d;
    int i = (int)src; /* src >= 0: truncation == floor */
    if (i > n_in - 1) i = n_in - 1;
    *i0 = i;
    *i1 = i + (i < n_in - 1 ? 1 : 0);
    *l1 = src - (float)i;
}

void fathom_resize_depth(const float *in, int h, int w, float *out, int h0, int w0) {
    if (!in || !out || h <= 0 || w <= 0 || h0 <= 0 || w0 <= 0) return;
    float sy = h0 > 1 ? (float)(h - 1) / (float)(h0 - 1) : 0.f;
    float sx = w0 > 1 ? (float)(w - 1) / (float)(w0 - 1) : 0.f;
    for (int y = 0; y < h0; y++) {
        int y0, y1;
        float ly1;
        lin_coord(sy, y, h, &y0, &y1, &ly1);
        float ly0 = 1.f - ly1;
        const float *r0 = in + (size_t)y0 * w, *r1 = in + (size_t)y1 * w;
        float *o = out + (size_t)y * w0;
        for (int x = 0; x < w0; x++) {
            int x0, x1;
            float lx1;
            lin_coord(sx, x, w, &x0, &x1, &lx1);
            float lx0 = 1.f - lx1;
            o[x] = ly0 * (lx0 * r0[x0] + lx1 * r0[x1]) + ly1 * (lx0 * r1[x0] + lx1 * r1[x1]);
        }
    }
}
