/* ref_gemm16.c - the plain-C definition of the CUDA backend's reduced-precision GEMM
 * (`--precision fp16`), the twin of cuda_gemm's compute-type choice (src/backend/cuda/linear.cu).
 *
 * cuBLASLt's _32F_FAST_16F rounds both GEMM inputs to fp16 and accumulates in fp32. fp16 stops
 * at 65504: an input above it becomes inf, and inf * 0 in the sum gives NaN (black frames).
 * The inputs that can get there are GELU / GEGLU products (the encoder's fc2, VDA's ff.net.2:
 * a gate of 300 times a value of 300 is already 9e4). So a GEMM reading such a product is
 * "wide": its inputs are rounded to TF32 instead (10 mantissa bits like fp16, 8 exponent bits
 * like fp32): the same precision, fp32's range. Everything else (bias, accumulation, the
 * activation) is fp32, as on the device. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/ref_ops.h"

/* fp16 rounding in plain C (not _Float16: clang 14, which builds the fuzzers, lacks it on
 * x86-64): round to nearest even at fp16's 11 significant bits, subnormals below 2^-14 on a
 * 2^-24 grid, and 65520 and above to inf, as the conversion on the device. */
float fathom_ref_round_fp16(float x) {
    float a = fabsf(x);
    if (!(a < INFINITY)) return x; /* inf / NaN stay */
    if (a >= 65520.0f) return copysignf(INFINITY, x);
    int e;
    (void)frexpf(a, &e); /* a = m 2^e, m in [0.5, 1) */
    const int q = a < 0x1p-14f ? -24 : e - 11; /* the fp16 grid step at a: 2^q */
    return copysignf(ldexpf(rintf(ldexpf(a, -q)), q), x); /* rintf: ties to even */
}

float fathom_ref_round_tf32(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u) return x; /* inf / NaN stay */
    u += 0x0fffu + ((u >> 13) & 1u);                 /* round to nearest even at bit 13 */
    u &= ~0x1fffu;
    memcpy(&x, &u, sizeof x);
    return x;
}

void fathom_ref_linear_fp16(float *out, const float *in, const float *w, const float *b, int M,
                            int N, int K, fathom_act act, int wide) {
    float (*rnd)(float) = wide ? fathom_ref_round_tf32 : fathom_ref_round_fp16;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f; /* fp32 accumulation, as the tensor cores */
            for (int k = 0; k < K; k++)
                acc += rnd(in[(size_t)m * K + k]) * rnd(w[(size_t)n * K + k]);
            float v = acc + (b ? b[n] : 0.0f);
            if (act == FATHOM_ACT_GELU) v = fathom_ref_gelu(v);
            else if (act == FATHOM_ACT_RELU) v = v > 0.0f ? v : 0.0f;
            out[(size_t)m * N + n] = v;
        }
}
