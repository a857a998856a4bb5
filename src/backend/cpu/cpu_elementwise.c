/* cpu_elementwise.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_add(fathom_backend *be, float *out, const float *a, const float *b, size_t n) {
    fathom_ref_add(out, a, b, n);
}

void fathom_cpu_depth_act(fathom_backend *be, float *x, size_t n, int metric, float max_depth) {
    fathom_ref_depth_act(x, n, metric, max_depth);
}
