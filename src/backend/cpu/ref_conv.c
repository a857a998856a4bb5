/* ref_conv.c - reference conv2d (groups 1) and non-overlapping conv_transpose (kernel == stride). */
#include "backend/cpu/ref_ops.h"

void fathom_ref_conv2d(float *out, const float *in, const float *w, const float *b,
                       const float *residual, int B, int Ci, int H, int W, int Co, int k,
                       int stride, int pad, int flags) {
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    if (Ho <= 0 || Wo <= 0) return; /* kernel larger than the padded input */
    for (int bt = 0; bt < B; bt++)
        for (int co = 0; co < Co; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double acc = 0.0;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int ky = 0; ky < k; ky++) {
                            int iy = oy * stride - pad + ky;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < k; kx++) {
                                int ix = ox * stride - pad + kx;
                                if (ix < 0 || ix >= W) continue;
                                float v = in[(((size_t)bt * Ci + ci) * H + iy) * W + ix];
                                if ((flags & FATHOM_CONV_RELU_IN) && v < 0.0f) v = 0.0f;
                                acc += (double)v * w[(((size_t)co * Ci + ci) * k + ky) * k + kx];
                            }
                        }
                    size_t o = (((size_t)bt * Co + co) * Ho + oy) * Wo + ox;
                    float v = (float)acc;
                    if (b) v += b[co];
                    if (residual) v += residual[o];
                    if ((flags & FATHOM_CONV_RELU_OUT) && v < 0.0f) v = 0.0f;
                    out[o] = v;
                }
}

void fathom_ref_conv_transpose(float *out, const float *in, const float *w, const float *b,
                               int B, int Ci, int H, int W, int Co, int k) {
    int Wo = W * k, Ho = H * k;
    for (int bt = 0; bt < B; bt++)
        for (int co = 0; co < Co; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    int iy = oy / k, ix = ox / k, ky = oy % k, kx = ox % k;
                    double acc = 0.0;
                    for (int ci = 0; ci < Ci; ci++)
                        acc += (double)in[(((size_t)bt * Ci + ci) * H + iy) * W + ix] *
                               w[(((size_t)ci * Co + co) * k + ky) * k + kx];
                    out[(((size_t)bt * Co + co) * Ho + oy) * Wo + ox] =
                        (float)acc + (b ? b[co] : 0.0f);
                }
}

void fathom_ref_dpt_head_tail(float *depth, const float *in, const float *w2, const float *b2,
                              const float *w3, const float *b3, float *r, float *u, int B, int C,
                              int h, int w, int H, int W, int Ch) {
    fathom_ref_resize_bilinear(r, in, B * C, h, w, H, W);
    fathom_ref_conv2d(u, r, w2, b2, NULL, B, C, H, W, Ch, 3, 1, 1, 0);
    fathom_ref_conv2d(depth, u, w3, b3, NULL, B, Ch, H, W, 1, 1, 1, 0, FATHOM_CONV_RELU_IN);
}

void fathom_ref_conv2d_resized(float *out, const float *in, const float *w, const float *b, float *r,
                               int B, int Ci, int hi, int wi, int H, int W, int Co, int k, int pad,
                               int flags) {
    fathom_ref_resize_bilinear(r, in, B * Ci, hi, wi, H, W);
    fathom_ref_conv2d(out, r, w, b, NULL, B, Ci, H, W, Co, k, 1, pad, flags);
}

void fathom_ref_dpt_rcu(float *out, const float *in, const float *w1, const float *b1, const float *w2,
                        const float *b2, const float *residual, float *mid, int B, int C, int H, int W) {
    fathom_ref_conv2d(mid, in, w1, b1, NULL, B, C, H, W, C, 3, 1, 1,
                      FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
    fathom_ref_conv2d(out, mid, w2, b2, residual, B, C, H, W, C, 3, 1, 1, 0);
}
