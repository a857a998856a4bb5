/* normalize.c - min..max normalization of depth maps to 8/16-bit codes. */
#include "media/normalize.h"

#include <math.h>

void fathom_norm_range(const float *depth, size_t n, const fathom_write_opts *opts, float *lo,
                       float *hi) {
    if (opts && isfinite(opts->norm_min) && isfinite(opts->norm_max) &&
        opts->norm_min < opts->norm_max) {
        *lo = opts->norm_min;
        *hi = opts->norm_max;
        return;
    }
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float v = depth[i];
        if (!isfinite(v)) continue;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    if (mn > mx) mn = mx = 0.0f; /* no finite value */
    *lo = mn;
    *hi = mx;
}

/* t in [0, 1]; the division matches numpy's float32 (d - min) / (max - min). */
static inline float unit(float v, float lo, float range) {
    if (isnan(v)) return 0.0f;
    if (!(range > 0.0f)) return 0.0f;
    float t = (v - lo) / range;
    if (!(t > 0.0f)) return 0.0f; /* also -Inf */
    return t < 1.0f ? t : 1.0f;   /* also +Inf */
}

int fathom_norm_flip(const fathom_write_opts *opts) {
    return opts ? !opts->invert != !opts->metric : 0; /* meters: small = near, so flip */
}

void fathom_normalize_u8(const float *depth, size_t n, float lo, float hi, int invert, uint8_t *out) {
    float range = hi - lo;
    if (!isfinite(range)) range = 0.0f;
    for (size_t i = 0; i < n; i++) {
        uint8_t q = (uint8_t)(unit(depth[i], lo, range) * 255.0f);
        out[i] = invert ? (uint8_t)(255 - q) : q;
    }
}

void fathom_normalize_u16(const float *depth, size_t n, float lo, float hi, int invert,
                          uint16_t *out) {
    float range = hi - lo;
    if (!isfinite(range)) range = 0.0f;
    for (size_t i = 0; i < n; i++) {
        uint16_t q = (uint16_t)(unit(depth[i], lo, range) * 65535.0f + 0.5f);
        out[i] = invert ? (uint16_t)(65535 - q) : q;
    }
}
