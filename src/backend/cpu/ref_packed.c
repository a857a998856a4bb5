/* ref_packed.c - plain-C twins of the device GEMMs on packed int8 / q4 weights (the CUDA
 * backend's q8_gemm.cu and q4_gemm.cu), and the values a packed matrix stands for.
 *
 * The semantics are the CPU formats' (cpu_q8.h, cpu_q4.h), written out without panels or
 * kernels so a device kernel and the CPU path can both be checked against one text:
 *   int8: each input row quantized on the fly, s = max|x| / 127 (1 for a zero row),
 *         q = round-to-even(x * (1 / s)) clamped to +-127; exact int32 sums against the
 *         per-channel int8 weights; out = (float)acc * s_row * s_col.
 *   q4:   inputs rounded to bf16 (nearest even); weights bf16(q * d) with fp32 denormals to
 *         zero (as the CPU dequantizer); fp32 sums in k order.
 * Then bias, activation, or the LayerScale residual x += gamma * (t + b), in fp32. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/ref_ops.h"

static float bf16_value(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

static float round_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return f;
    v.u = (v.u + 0x7fffu + ((v.u >> 16) & 1u)) & 0xffff0000u;
    return v.f;
}

/* the int8 weight of (n, k): panels [Np/32][Kp/4][32][4] */
static int q8_at(const fathom_packed_mat *m, int n, int k) {
    const int8_t *w = m->a;
    return w[((size_t)(n / 32) * (m->Kp / 4) + k / 4) * 128 + (n % 32) * 4 + k % 4];
}

float fathom_ref_packed_value(const fathom_packed_mat *m, int n, int k) {
    if (m->kind == FATHOM_PACKED_MAT_INT8) return (float)q8_at(m, n, k) * ((const float *)m->b)[n];
    const size_t p = (size_t)(n / 32);
    const int e = 2 * (n % 32) + k % 2; /* the value's place in its k-pair row */
    if (m->kind == FATHOM_PACKED_MAT_BF16)
        return bf16_value(((const uint16_t *)m->a)[(p * (m->Kp / 2) + k / 2) * 64 + e]);
    const uint8_t byte = ((const uint8_t *)m->a)[(p * (m->Kp / 2) + k / 2) * 32 + e % 32];
    const int q = (e < 32 ? byte & 0x0f : byte >> 4) - 8;
    const float d = bf16_value(((const uint16_t *)m->b)[(p * (m->Kp / 32) + k / 32) * 32 + n % 32]);
    const float v = (float)q * d;
    return fabsf(v) < FLT_MIN ? copysignf(0.0f, v) : round_bf16(v);
}

void fathom_ref_packed_dequant(float *w, const fathom_packed_mat *m) {
    for (int n = 0; n < m->N; n++)
        for (int k = 0; k < m->K; k++) w[(size_t)n * m->K + k] = fathom_ref_packed_value(m, n, k);
}

/* t (N) = one input row x against every column of m, in the format's arithmetic */
static void row_product(float *t, const float *x, const fathom_packed_mat *m, int8_t *qx, float *wrow) {
    const int N = m->N, K = m->K;
    if (m->kind == FATHOM_PACKED_MAT_INT8) {
        float amax = 0.0f;
        for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[k]));
        const float s = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        for (int k = 0; k < K; k++) {
            float v = nearbyintf(x[k] * inv);
            qx[k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
        }
        const float *sw = m->b;
        for (int n = 0; n < N; n++) {
            int32_t acc = 0;
            for (int k = 0; k < K; k++) acc += (int32_t)qx[k] * q8_at(m, n, k);
            t[n] = (float)acc * s * sw[n];
        }
        return;
    }
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) wrow[k] = fathom_ref_packed_value(m, n, k);
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc += round_bf16(x[k]) * wrow[k];
        t[n] = acc;
    }
}

void fathom_ref_linear_packed(float *out, const float *in, const fathom_packed_mat *m, const float *b,
                              const float *gamma, int M, fathom_act act) {
    const int N = m->N, K = m->K;
    float *t = malloc((size_t)N * sizeof *t);         /* owned here: one output row */
    float *wrow = malloc((size_t)K * sizeof *wrow);   /* owned here: one dequantized column */
    int8_t *qx = malloc((size_t)K);                   /* owned here: one quantized row */
    for (int r = 0; t && wrow && qx && r < M; r++) {
        row_product(t, in + (size_t)r * K, m, qx, wrow);
        float *o = out + (size_t)r * N;
        for (int n = 0; n < N; n++) {
            const float v = b ? t[n] + b[n] : t[n];
            if (gamma) o[n] += gamma[n] * v;
            else o[n] = act == FATHOM_ACT_GELU ? fathom_ref_gelu(v) : act == FATHOM_ACT_RELU && v < 0.0f ? 0.0f : v;
        }
    }
    free(t), free(wrow), free(qx);
}
