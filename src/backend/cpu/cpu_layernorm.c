/* cpu_layernorm.c - LayerNorm over rows, parallel over rows.
 *
 * Statistics in double over 8 independent lanes (vectorizes as AVX-512/AVX2 doubles): a float
 * mean of activations with a large common offset (the residual stream) is off by ~1e-5 of
 * the spread, which is above our 1e-6 budget; double makes the row match the reference. The
 * mean is subtracted before squaring, so there is no E[x^2] - E[x]^2 cancellation. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"

/* Not under TSan: ifunc resolvers run before the TSan runtime starts and crash the program. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FATHOM_TSAN)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void layernorm_row(float *y, const float *x, const float *w, const float *b, int C,
                          float eps) {
    double acc[8] = {0}, tail = 0.0;
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[c + l];
    for (; c < C; c++) tail += x[c];
    double mean = tail;
    for (int l = 0; l < 8; l++) mean += acc[l], acc[l] = 0.0;
    mean /= C;
    tail = 0.0;
    for (c = 0; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) {
            double d = x[c + l] - mean;
            acc[l] += d * d;
        }
    for (; c < C; c++) tail += (x[c] - mean) * (x[c] - mean);
    double var = tail;
    for (int l = 0; l < 8; l++) var += acc[l];
    double rstd = 1.0 / sqrt(var / C + (double)eps);
    for (c = 0; c < C; c++) y[c] = (float)((x[c] - mean) * rstd) * w[c] + b[c];
}

void fathom_cpu_layernorm_row(float *y, const float *x, const float *w, const float *b, int C, float eps) {
    layernorm_row(y, x, w, b, C, eps);
}

void fathom_cpu_layernorm(fathom_backend *be, float *out, const float *in, const float *w,
                          const float *b, int M, int C, float eps) {
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int m = 0; m < M; m++)
        layernorm_row(out + (size_t)m * C, in + (size_t)m * C, w, b, C, eps);
}
