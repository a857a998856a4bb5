/* cpu_linear.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_linear(fathom_backend *be, float *out, const float *in, const float *w, const float *b, int M, int N, int K, fathom_act act) {
    fathom_ref_linear(out, in, w, b, M, N, K, act);
}

void fathom_cpu_linear_residual(fathom_backend *be, float *x, const float *in, const float *w, const float *b, const float *gamma, int M, int N, int K) {
    fathom_ref_linear_residual(x, in, w, b, gamma, M, N, K);
}
