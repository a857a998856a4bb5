/* dpt_head_tail.cu - the DPT head's fused ops (dpt_head_tail, conv2d_resized, dpt_rcu) on CUDA: the
 * composition of the resize and conv kernels (the CPU fuses them to skip its NCHW fp32 layout
 * passes; the device has no such cost to save yet). */
#include "backend/cuda/cuda_ops.h"

void fathom_cuda_dpt_head_tail(fathom_backend *be, float *depth, const float *in, const float *w2,
                               const float *b2, const float *w3, const float *b3, float *r, float *u,
                               int B, int C, int h, int w, int H, int W, int Ch) {
    fathom_cuda_resize_bilinear(be, r, in, B * C, h, w, H, W);
    fathom_cuda_conv2d(be, u, r, w2, b2, NULL, B, C, H, W, Ch, 3, 1, 1, 0);
    fathom_cuda_conv2d(be, depth, u, w3, b3, NULL, B, Ch, H, W, 1, 1, 1, 0, FATHOM_CONV_RELU_IN);
}

void fathom_cuda_conv2d_resized(fathom_backend *be, float *out, const float *in, const float *w,
                                const float *b, float *r, int B, int Ci, int hi, int wi, int H, int W,
                                int Co, int k, int pad, int flags) {
    fathom_cuda_resize_bilinear(be, r, in, B * Ci, hi, wi, H, W);
    fathom_cuda_conv2d(be, out, r, w, b, NULL, B, Ci, H, W, Co, k, 1, pad, flags);
}

void fathom_cuda_dpt_rcu(fathom_backend *be, float *out, const float *in, const float *w1,
                         const float *b1, const float *w2, const float *b2, const float *residual,
                         float *mid, int B, int C, int H, int W) {
    fathom_cuda_conv2d(be, mid, in, w1, b1, NULL, B, C, H, W, C, 3, 1, 1,
                       FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
    fathom_cuda_conv2d(be, out, mid, w2, b2, residual, B, C, H, W, C, 3, 1, 1, 0);
}
