/* ref_layernorm.c - reference LayerNorm over the last dim (biased variance, two passes). */
#include <math.h>

#include "backend/cpu/ref_ops.h"

void fathom_ref_layernorm(float *out, const float *in, const float *w, const float *b, int M,
                          int C, float eps) {
    for (int m = 0; m < M; m++) {
        const float *x = in + (size_t)m * C;
        float *y = out + (size_t)m * C;
        double mean = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += ((double)x[c] - mean) * ((double)x[c] - mean);
        var /= C;
        double rstd = 1.0 / sqrt(var + (double)eps);
        for (int c = 0; c < C; c++) y[c] = (float)(((double)x[c] - mean) * rstd) * w[c] + b[c];
    }
}
