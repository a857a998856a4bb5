/* cpu_math.c - vectorizable erf/exp (placeholder: libm until the SIMD versions land). */
#include <math.h>

#include "backend/cpu/cpu_internal.h"

float fathom_cpu_erf(float x) { return erff(x); }
float fathom_cpu_exp(float x) { return expf(x); }

void fathom_cpu_gelu_inplace(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

float fathom_cpu_exp_shift_sum(float *x, size_t n, float m) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += (x[i] = expf(x[i] - m));
    return s;
}
