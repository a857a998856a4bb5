/* cpu_resize.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_resize_bilinear(fathom_backend *be, float *out, const float *in, int P, int Hi, int Wi, int Ho, int Wo) {
    fathom_ref_resize_bilinear(out, in, P, Hi, Wi, Ho, Wo);
}
