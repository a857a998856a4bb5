/* cpu_math.c - vectorizable float32 exp / erf and the elementwise epilogues built on them.
 *
 * libm's expf/erff are scalar calls with branches, so a loop over them never vectorizes. The
 * versions here are branch-free polynomial kernels that GCC turns into AVX-512/AVX2 code; the
 * hot loops are compiled once per ISA (target_clones) and picked at load time by the CPU,
 * keeping a portable default. Accuracy: see the sweeps in tests/ops/test_ref_ops.c. */
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

/* Not under TSan: ifunc resolvers run before the TSan runtime starts and crash the program. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(FATHOM_TSAN)
#define FATHOM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FATHOM_CLONES
#endif

static inline float bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t float_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* exp: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial (Cephes expf
 * coefficients), then scale by 2^n through the exponent bits. Inputs below -86.6 give
 * exp(-86.6) ~ 2.5e-38 rather than denormals or 0 (irrelevant for softmax and sigmoid). */
static inline float exp_kernel(float x) {
    x = x < 88.3762626647949f ? x : 88.3762626647949f;
    x = x > -86.6f ? x : -86.6f; /* keeps 2^n normal (n >= -125) */
    /* round-to-nearest n via the 1.5 * 2^23 shifter: branch-free, vectorizes without SSE4.1 */
    const float shifter = 12582912.0f;
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = x - n * 0.693359375f;   /* ln2 high part, exact product */
    r = r - n * -2.12194440e-4f;      /* ln2 low part */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* 2^n: n in [-126, 128); 2^128 only when x is clamped at the top, where p < 1 keeps it finite */
    int32_t ni = (int32_t)(float_to_bits(t) - float_to_bits(shifter));
    float scale = bits_to_float((uint32_t)(ni + 126) << 23);
    return p * scale * 2.0f;
}

/* erf in two branches, both computed and one selected so the loop stays branch-free:
 *   |x| < 0.75:      erf(x) = x P(x^2), P of degree 5 (Chebyshev fit, 1.5e-9)
 *   0.75 <= |x| < 4: erf(x) = 1 - exp(-x^2) Q(x), Q ~ erfc(x) exp(x^2) of degree 11 in
 *                    s = (|x| - 2.375) / 1.625 (fit error 4.3e-8, < 2.5e-8 on erf)
 * and +-1 beyond 4, where erf rounds to 1 in float32. Coefficients from mpmath.chebyfit. */
static inline float erf_kernel(float x) {
    uint32_t sign = float_to_bits(x) & 0x80000000u;
    float a = bits_to_float(float_to_bits(x) & 0x7fffffffu);
    a = a < 4.0f ? a : 4.0f;
    float u = a * a;
    float p = -0.00067564795686800468f;
    p = p * u + 0.0051153321125322259f;
    p = p * u + -0.026835114568609705f;
    p = p * u + 0.11283386538414544f;
    p = p * u + -0.37612619469437675f;
    p = p * u + 1.1283791655787516f;
    p = p * a;
    float s = (a - 2.375f) * (1.0f / 1.625f);
    float q = -0.00013762878055155706f;
    q = q * s + 0.00033683725516700123f;
    q = q * s + -0.00039362745756274894f;
    q = q * s + 0.00087661881763514873f;
    q = q * s + -0.0023547752746558427f;
    q = q * s + 0.0050693377993745528f;
    q = q * s + -0.010337060480867011f;
    q = q * s + 0.02075208770128471f;
    q = q * s + -0.040158167746066599f;
    q = q * s + 0.074427975468440558f;
    q = q * s + -0.13158782427680657f;
    q = q * s + 0.22050566531503996f;
    float big = 1.0f - exp_kernel(-u) * q;
    float r = a < 0.75f ? p : big;
    return bits_to_float(float_to_bits(r) | sign);
}

static inline float gelu_kernel(float x) {
    return 0.5f * x * (1.0f + erf_kernel(x * 0.70710678118654752f));
}

float fathom_cpu_erf(float x) { return erf_kernel(x); }
float fathom_cpu_exp(float x) { return exp_kernel(x); }

/* The sums and maxima below keep 16 explicit partial lanes: without -ffast-math GCC may not
 * reorder a single float accumulator, so a plain `s += e` loop would stay scalar. */
FATHOM_CLONES
float fathom_cpu_exp_shift_sum(float *x, size_t n, float m) {
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) {
            float e = exp_kernel(x[i + l] - m);
            x[i + l] = e;
            lane[l] += e;
        }
    float s = 0.0f;
    for (; i < n; i++) {
        float e = exp_kernel(x[i] - m);
        x[i] = e;
        s += e;
    }
    for (int l = 0; l < 16; l++) s += lane[l];
    return s;
}

/* p[i] = bf16(exp(x[i] - m)) for i < n, zeros up to np; returns the fp32 sum of the unrounded
 * exponentials (attention's softmax: one pass instead of exp in place, then a conversion).
 * The exponentials are normal and finite (exp_kernel clamps), so rounding needs no NaN case
 * and gives fathom_f32_to_bf16's bits. The portable twin of fathom_cpu_exp_bf16_avx512 (GCC
 * does not vectorize this loop well: the AVX-512 one is written out). */
float fathom_cpu_exp_shift_sum_bf16(uint16_t *p, const float *x, size_t n, size_t np, float m) {
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) {
            float e = exp_kernel(x[i + l] - m);
            uint32_t u = float_to_bits(e);
            p[i + l] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
            lane[l] += e;
        }
    float s = 0.0f;
    for (; i < n; i++) {
        float e = exp_kernel(x[i] - m);
        uint32_t u = float_to_bits(e);
        p[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        s += e;
    }
    for (; i < np; i++) p[i] = 0;
    for (int l = 0; l < 16; l++) s += lane[l];
    return s;
}

/* 64 lanes: four independent vmaxps chains instead of one latency-bound chain */
FATHOM_CLONES
float fathom_cpu_max(const float *x, size_t n) {
    float lane[64], m = x[0];
    for (int l = 0; l < 64; l++) lane[l] = x[0];
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int l = 0; l < 64; l++) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int l = 0; l < 64; l++) m = lane[l] > m ? lane[l] : m;
    return m;
}

FATHOM_CLONES
void fathom_cpu_bias_act(float *x, const float *b, size_t n, fathom_act act) {
    if (act == FATHOM_ACT_GELU) {
        if (b)
            for (size_t i = 0; i < n; i++) x[i] = gelu_kernel(x[i] + b[i]);
        else
            for (size_t i = 0; i < n; i++) x[i] = gelu_kernel(x[i]);
    } else if (act == FATHOM_ACT_RELU) {
        if (b)
            for (size_t i = 0; i < n; i++) {
                float v = x[i] + b[i];
                x[i] = v > 0.0f ? v : 0.0f;
            }
        else
            for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    } else if (b) {
        for (size_t i = 0; i < n; i++) x[i] += b[i];
    }
}

FATHOM_CLONES
void fathom_cpu_sigmoid_scale(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale / (1.0f + exp_kernel(-x[i]));
}
