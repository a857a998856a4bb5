/* cpu_block_avx512.c - the AVX-512 LayerNorm row of the packed engines' fused ln_linear
 * (cpu_packed.c). The mean is summed in double (a large common offset, the residual stream,
 * would cost a float sum ~1e-5 of the spread); the centered squares in fp32 lanes (no
 * cancellation: the mean is subtracted first). The row then becomes bf16 or int8, whose step
 * (4e-3 / 8e-3) is far above what fp32 statistics move. */
#include <math.h>

#include "backend/cpu/cpu_packed.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f")))

TGT void fathom_cpu_layernorm_row_avx512(float *y, const float *x, const float *w, const float *b, int C,
                                         float eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    int c = 0;
    for (; c + 16 <= C; c += 16) {
        __m512 v = _mm512_loadu_ps(x + c);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
    }
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (int t = c; t < C; t++) sum += x[t];
    const float mean = (float)(sum / C);
    const __m512 vm = _mm512_set1_ps(mean);
    __m512 q = _mm512_setzero_ps();
    for (c = 0; c + 16 <= C; c += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + c), vm);
        q = _mm512_fmadd_ps(d, d, q);
    }
    double var = _mm512_reduce_add_ps(q);
    for (int t = c; t < C; t++) var += (double)(x[t] - mean) * (x[t] - mean);
    const float rstd = (float)(1.0 / sqrt(var / C + (double)eps));
    const __m512 vr = _mm512_set1_ps(rstd);
    for (c = 0; c + 16 <= C; c += 16) {
        __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + c), vm), vr);
        _mm512_storeu_ps(y + c, _mm512_fmadd_ps(n, _mm512_loadu_ps(w + c), _mm512_loadu_ps(b + c)));
    }
    for (; c < C; c++) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
}

#else

void fathom_cpu_layernorm_row_avx512(float *y, const float *x, const float *w, const float *b, int C,
                                     float eps) {
    fathom_cpu_layernorm_row(y, x, w, b, C, eps);
}

#endif
