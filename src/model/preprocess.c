/* preprocess.c - the official Depth Anything V2 input path (image2tensor): network size rule,
 * OpenCV INTER_CUBIC resize on float64 [0,1] data, ImageNet normalization, HWC -> CHW float32.
 *
 * The resize follows OpenCV's generic cubic path bit for bit (../shared/golden/README.md):
 * coordinates and weights in float32, horizontal pass first with double accumulation, then the
 * vertical pass in double. Results are not clamped (bicubic overshoot is kept). */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "fathom.h"

/* 14 * round_half_even(x / 14); lower-bound guard: ceil when below the minimum. */
static int multiple_of_14(double x, int min_val) {
    double y = nearbyint(x / 14.0) * 14.0; /* default rounding mode: half to even, like np.round */
    if (y < min_val) y = ceil(x / 14.0) * 14.0;
    return y < INT_MAX - 14 ? (int)y : 0; /* absurd aspect ratios: 0, refused downstream */
}

void fathom_network_size(int h0, int w0, int input_size, int *net_h, int *net_w) {
    if (h0 <= 0 || w0 <= 0 || input_size <= 0) {
        *net_h = *net_w = 0;
        return;
    }
    /* official Resize: keep_aspect_ratio + lower_bound: the larger scale for both axes */
    double sh = (double)input_size / h0, sw = (double)input_size / w0;
    double s = sh > sw ? sh : sw;
    *net_h = multiple_of_14(s * h0, input_size);
    *net_w = multiple_of_14(s * w0, input_size);
}

/* One axis of cv2 INTER_CUBIC: first tap (unclamped) and 4 float32 weights per output index. */
static void cubic_axis(int src, int dst, int *ofs, float *wt) {
    const float A = -0.75f;
    double scale = 1.0 / ((double)dst / src);
    for (int d = 0; d < dst; d++) {
        float fx = (float)((d + 0.5) * scale - 0.5);
        int i = (int)floorf(fx);
        float t = fx - (float)i;
        float w0 = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
        float w1 = ((A + 2) * t - (A + 3)) * t * t + 1;
        float w2 = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
        ofs[d] = i - 1;
        wt[4 * d + 0] = w0;
        wt[4 * d + 1] = w1;
        wt[4 * d + 2] = w2;
        wt[4 * d + 3] = 1.f - w0 - w1 - w2;
    }
}

static inline int clampi(int v, int n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

/* Horizontal pass of source row y into hrow (net_w * 3 doubles, RGB interleaved). */
static void hpass(const uint8_t *row, int w0, int net_w, const int *xofs, const float *xw,
                  const double *u8, double *hrow) {
    for (int d = 0; d < net_w; d++) {
        int xs[4];
        for (int k = 0; k < 4; k++) xs[k] = clampi(xofs[d] + k, w0);
        const float *a = xw + 4 * d;
        for (int c = 0; c < 3; c++) {
            double v = u8[row[3 * xs[0] + c]] * a[0];
            v += u8[row[3 * xs[1] + c]] * a[1];
            v += u8[row[3 * xs[2] + c]] * a[2];
            v += u8[row[3 * xs[3] + c]] * a[3];
            hrow[3 * d + c] = v;
        }
    }
}

fathom_status fathom_preprocess(const uint8_t *rgb, int h0, int w0, size_t stride, int net_h,
                                int net_w, float *out) {
    if (!rgb || !out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "preprocess: NULL buffer");
    if (h0 <= 0 || w0 <= 0 || net_h <= 0 || net_w <= 0)
        return fathom_fail(FATHOM_ERR_SHAPE, "preprocess: bad size %dx%d -> %dx%d", h0, w0,
                           net_h, net_w);
    if (stride < (size_t)w0 * 3)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "preprocess: stride %zu < 3 * width %d",
                           stride, w0);
    if ((uint64_t)net_h * net_w > (1u << 28) || (uint64_t)h0 * w0 > (1ull << 34))
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "preprocess: %dx%d -> %dx%d is too large", h0,
                           w0, net_h, net_w);

    /* One scratch block: tap tables for both axes and a ring of 4 horizontally resampled rows
     * (source rows needed by an output row are monotone in the output row). */
    size_t rowd = (size_t)net_w * 3;
    size_t bytes = sizeof(double) * 4 * rowd + sizeof(float) * 4 * ((size_t)net_w + net_h) +
                   sizeof(int) * ((size_t)net_w + net_h);
    char *scratch = fathom_alloc(bytes); /* owned */
    if (!scratch)
        return fathom_fail(FATHOM_ERR_NOMEM, "preprocess: cannot allocate %zu bytes", bytes);
    double *ring = (double *)scratch;
    float *xw = (float *)(ring + 4 * rowd);
    float *yw = xw + 4 * (size_t)net_w;
    int *xofs = (int *)(yw + 4 * (size_t)net_h);
    int *yofs = xofs + net_w;
    int ring_src[4] = {-1, -1, -1, -1};

    double u8[256]; /* v / 255.0 exactly as numpy computes it, once per value */
    for (int v = 0; v < 256; v++) u8[v] = v / 255.0;
    cubic_axis(w0, net_w, xofs, xw);
    cubic_axis(h0, net_h, yofs, yw);

    static const double mean[3] = {0.485, 0.456, 0.406}, stdv[3] = {0.229, 0.224, 0.225};
    size_t plane = (size_t)net_h * net_w;
    for (int y = 0; y < net_h; y++) {
        const double *rows[4];
        for (int k = 0; k < 4; k++) {
            int sy = clampi(yofs[y] + k, h0);
            int slot = sy & 3; /* 4 consecutive source rows never share a slot */
            if (ring_src[slot] != sy) {
                hpass(rgb + (size_t)sy * stride, w0, net_w, xofs, xw, u8, ring + slot * rowd);
                ring_src[slot] = sy;
            }
            rows[k] = ring + slot * rowd;
        }
        const float *b = yw + 4 * y;
        for (int x = 0; x < net_w; x++) {
            for (int c = 0; c < 3; c++) {
                size_t i = 3 * (size_t)x + c;
                double v = rows[0][i] * b[0] + rows[1][i] * b[1] + rows[2][i] * b[2] +
                           rows[3][i] * b[3];
                out[c * plane + (size_t)y * net_w + x] = (float)((v - mean[c]) / stdv[c]);
            }
        }
    }
    fathom_free_sized(scratch, bytes);
    return FATHOM_OK;
}

int fathom_network_size_capped(int h0, int w0, int input_size, uint64_t max_pixels, int *net_h,
                               int *net_w) {
    fathom_network_size(h0, w0, input_size, net_h, net_w);
    uint64_t px = (uint64_t)*net_h * (uint64_t)*net_w;
    if (!max_pixels || px <= max_pixels) return 0;
    double s = sqrt((double)max_pixels / (double)px);
    int h = (int)(*net_h * s / 14) * 14, w = (int)(*net_w * s / 14) * 14;
    if (h < 14) h = 14;
    if (w < 14) w = 14;
    while ((uint64_t)h * w > max_pixels && (h > 14 || w > 14)) { /* the 14 floor can overshoot */
        if (w >= h) w -= 14;
        else h -= 14;
    }
    *net_h = h;
    *net_w = w;
    return 1;
}
