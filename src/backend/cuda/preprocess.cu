/* preprocess.cu - RGB8 frames -> network input on the device: /255, OpenCV INTER_CUBIC
 * (A = -0.75, taps clamped at the border, no antialias, overshoot kept), ImageNet mean/std.
 *
 * Twin: fathom_preprocess (src/model/preprocess.c), which follows OpenCV in float64. Here the
 * tap positions and weights use the same float32 formulas (the scale in double, as OpenCV) and
 * the 4 x 4 sums run in fp32: results agree to ~1e-6 after normalization. One thread per output
 * pixel computes its 4 horizontal sums per channel, then the vertical one. */
#include <math.h>

#include "backend/cuda/common.cuh"

struct cubic_tap {
    int i0;     /* first source index (unclamped) */
    float w[4];
};

static __device__ __forceinline__ cubic_tap cubic_at(int d, int src, int dst) {
    const float A = -0.75f;
    cubic_tap c;
    double scale = 1.0 / ((double)dst / src);
    float fx = (float)((d + 0.5) * scale - 0.5);
    int i = (int)floorf(fx);
    float t = fx - (float)i;
    c.w[0] = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
    c.w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    c.w[2] = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
    c.w[3] = 1.f - c.w[0] - c.w[1] - c.w[2];
    c.i0 = i - 1;
    return c;
}

static __device__ __forceinline__ int clampi(int v, int n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

static __global__ void k_preprocess(float *out, const uint8_t *rgb, int h0, int w0, size_t stride,
                                    int net_h, int net_w, size_t n) {
    const float mean[3] = {0.485f, 0.456f, 0.406f};
    const float inv_std[3] = {1.0f / 0.229f, 1.0f / 0.224f, 1.0f / 0.225f};
    const size_t plane = (size_t)net_h * net_w;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(i % net_w), y = (int)((i / net_w) % net_h);
        size_t b = i / plane;
        const uint8_t *img = rgb + b * (size_t)h0 * stride;
        cubic_tap tx = cubic_at(x, w0, net_w), ty = cubic_at(y, h0, net_h);
        int xs[4];
        for (int k = 0; k < 4; k++) xs[k] = 3 * clampi(tx.i0 + k, w0);
        float acc[3] = {0.0f, 0.0f, 0.0f};
        for (int r = 0; r < 4; r++) {
            const uint8_t *row = img + (size_t)clampi(ty.i0 + r, h0) * stride;
            for (int ch = 0; ch < 3; ch++) {
                float hsum = row[xs[0] + ch] * tx.w[0] + row[xs[1] + ch] * tx.w[1] +
                             row[xs[2] + ch] * tx.w[2] + row[xs[3] + ch] * tx.w[3];
                acc[ch] += hsum * ty.w[r];
            }
        }
        float *o = out + b * 3 * plane + (size_t)y * net_w + x;
        for (int ch = 0; ch < 3; ch++)
            o[ch * plane] = (acc[ch] * (1.0f / 255.0f) - mean[ch]) * inv_std[ch];
    }
}

extern "C" void fathom_cuda_preprocess(fathom_backend *be, float *out, const uint8_t *rgb, int B,
                                       int h0, int w0, size_t stride, int net_h, int net_w) {
    cuda_ctx *c = cuda_of(be);
    if (B <= 0 || h0 <= 0 || w0 <= 0 || net_h <= 0 || net_w <= 0) {
        cuda_set_error(c, FATHOM_ERR_SHAPE, "cuda preprocess: bad size %dx%d -> %dx%d (batch %d)",
                       h0, w0, net_h, net_w, B);
        return;
    }
    if (stride < (size_t)w0 * 3) {
        cuda_set_error(c, FATHOM_ERR_INVALID_ARG, "cuda preprocess: stride %zu < 3 * width %d",
                       stride, w0);
        return;
    }
    size_t n = (size_t)B * net_h * net_w;
    k_preprocess<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(out, rgb, h0, w0, stride, net_h, net_w, n);
    cuda_check_launch(c, "preprocess");
}
