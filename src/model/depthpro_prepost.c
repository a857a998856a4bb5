/* depthpro_prepost.c - Depth Pro pre- and post-processing exactly as the official code
 * (DepthPro.infer, golden-depthpro README "The computation"): float32 throughout, PyTorch's
 * bilinear index recipe, and the focal-length arithmetic in the order torch evaluates it. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/ref_ops.h"
#include "core/alloc.h"
#include "core/status.h"
#include "model/depthpro.h"

fathom_status fathom_dp_preprocess(const uint8_t *rgb, int h0, int w0, size_t stride, float *x) {
    if (!rgb || !x || h0 < 1 || w0 < 1 || stride < (size_t)w0 * 3)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "Depth Pro preprocess: bad image %d x %d (stride %zu)", w0, h0, stride);
    size_t plane = (size_t)h0 * w0, bytes = 3 * plane * sizeof(float);
    float *t = fathom_alloc(bytes); /* owned: the normalized image before the resize */
    if (!t) return fathom_fail(FATHOM_ERR_NOMEM, "Depth Pro preprocess: cannot allocate %zu bytes", bytes);
    for (int y = 0; y < h0; y++)
        for (int xx = 0; xx < w0; xx++)
            for (int c = 0; c < 3; c++) {
                float u = (float)rgb[(size_t)y * stride + (size_t)xx * 3 + c] / 255.0f;
                t[c * plane + (size_t)y * w0 + xx] = (u - 0.5f) / 0.5f;
            }
    fathom_ref_resize_bilinear_pt(x, t, 3, h0, w0, FATHOM_DP_NET, FATHOM_DP_NET, 0.0f, 0.0f);
    fathom_free_sized(t, bytes);
    return FATHOM_OK;
}

float fathom_dp_focal_from_fov(float fov_deg, int w0) {
    float half = 0.5f * (fov_deg * (float)(M_PI / 180.0));
    return (1.0f / tanf(half)) * (float)(0.5 * w0);
}

double fathom_dp_focal_from_f35(int w0, int h0, double f35) {
    return f35 * sqrt((double)w0 * w0 + (double)h0 * h0) / sqrt(36.0 * 36.0 + 24.0 * 24.0);
}

fathom_status fathom_dp_postprocess(const float *canon, float fov_deg, double f_given, int h0, int w0, float *depth,
                                    double *f_used) {
    const int N = FATHOM_DP_NET;
    if (!canon || !depth || h0 < 1 || w0 < 1)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "Depth Pro postprocess: bad output size %d x %d", w0, h0);
    float ratio; /* W / f_px as torch computes it */
    double f;
    if (f_given > 0 && isfinite(f_given)) {
        f = f_given;
        ratio = (float)((double)w0 / f_given);
    } else {
        /* as the official code: a FOV <= 0 (possible with untrained weights) gives a focal length
         * <= 0 or infinite, inverse depth <= 0 and depth clamped to 1e4 m; only NaN is refused */
        if (isnan(fov_deg)) return fathom_fail(FATHOM_ERR_INTERNAL, "Depth Pro: no FOV for this image");
        float fp = fathom_dp_focal_from_fov(fov_deg, w0);
        f = fp;
        ratio = (1.0f / fp) * (float)w0;
    }
    size_t nn = (size_t)N * N, bytes = nn * sizeof(float);
    float *inv = fathom_alloc(bytes); /* owned */
    if (!inv) return fathom_fail(FATHOM_ERR_NOMEM, "Depth Pro postprocess: cannot allocate %zu bytes", bytes);
    for (size_t i = 0; i < nn; i++) inv[i] = canon[i] * ratio;
    fathom_ref_resize_bilinear_pt(depth, inv, 1, N, N, h0, w0, 0.0f, 0.0f);
    fathom_free_sized(inv, bytes);
    for (size_t i = 0; i < (size_t)h0 * w0; i++) {
        float v = depth[i];
        v = v < 1e-4f ? 1e-4f : v > 1e4f ? 1e4f : v;
        depth[i] = 1.0f / v;
    }
    if (f_used) *f_used = f;
    return FATHOM_OK;
}
