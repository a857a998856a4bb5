/* cpu_conv_transpose.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_conv_transpose(fathom_backend *be, float *out, const float *in, const float *w, const float *b, int B, int Ci, int H, int W, int Co, int k) {
    fathom_ref_conv_transpose(out, in, w, b, B, Ci, H, W, Co, k);
}
