/* cpu_layernorm.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_layernorm(fathom_backend *be, float *out, const float *in, const float *w, const float *b, int M, int C, float eps) {
    fathom_ref_layernorm(out, in, w, b, M, C, eps);
}
