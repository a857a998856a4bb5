/* cpu_elementwise.c - add and the depth activation, parallel and vectorized. */
#include "backend/cpu/cpu_internal.h"

void fathom_cpu_add(fathom_backend *be, float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd num_threads(be->threads) schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void fathom_cpu_depth_act(fathom_backend *be, float *x, size_t n, int metric, float max_depth) {
    enum { CHUNK = 16384 };
    size_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (size_t c = 0; c < chunks; c++) {
        float *p = x + c * CHUNK;
        size_t m = n - c * CHUNK < CHUNK ? n - c * CHUNK : CHUNK;
        if (metric)
            fathom_cpu_sigmoid_scale(p, m, max_depth);
        else
            fathom_cpu_bias_act(p, NULL, m, FATHOM_ACT_RELU);
    }
}
