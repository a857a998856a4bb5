/* cpu_conv2d.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_conv2d(fathom_backend *be, float *out, const float *in, const float *w, const float *b, const float *residual, int B, int Ci, int H, int W, int Co, int k, int stride, int pad, int flags) {
    fathom_ref_conv2d(out, in, w, b, residual, B, Ci, H, W, Co, k, stride, pad, flags);
}
