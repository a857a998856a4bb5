/* ref_linear.c - reference linear (+GELU/ReLU) and LayerScale residual linear. */
#include <math.h>

#include "backend/cpu/ref_ops.h"

float fathom_ref_gelu(float x) {
    return (float)(0.5 * (double)x * (1.0 + erf((double)x * 0.70710678118654752440)));
}

static float ref_act(float v, fathom_act act) {
    if (act == FATHOM_ACT_GELU) return fathom_ref_gelu(v);
    if (act == FATHOM_ACT_RELU) return v > 0.0f ? v : 0.0f;
    return v;
}

/* one output element: in[m] . w[n] + b[n], accumulated in double, rounded once */
static float ref_dot_bias(const float *in, const float *w, const float *b, int m, int n, int K) {
    const float *x = in + (size_t)m * K, *wr = w + (size_t)n * K;
    double acc = 0.0;
    for (int k = 0; k < K; k++) acc += (double)x[k] * (double)wr[k];
    float v = (float)acc;
    return b ? v + b[n] : v;
}

void fathom_ref_linear(float *out, const float *in, const float *w, const float *b, int M, int N,
                       int K, fathom_act act) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            out[(size_t)m * N + n] = ref_act(ref_dot_bias(in, w, b, m, n, K), act);
}

void fathom_ref_linear_residual(float *x, const float *in, const float *w, const float *b,
                                const float *gamma, int M, int N, int K) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            x[(size_t)m * N + n] += gamma[n] * ref_dot_bias(in, w, b, m, n, K);
}
