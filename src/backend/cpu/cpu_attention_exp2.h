/* cpu_attention_exp2.h - the exp2 of the bf16 flash attention kernels (cpu_attention_amx.c,
 * cpu_attention_bf16flash.c), whose P is rounded to bf16 next. Include only inside their
 * AVX-512 #if (after <immintrin.h>); it inlines into their wider targets. */
#ifndef FATHOM_BACKEND_CPU_ATTENTION_EXP2_H
#define FATHOM_BACKEND_CPU_ATTENTION_EXP2_H

/* 2^x: f = x - floor(x) by vreduceps, 2^f by a degree-3 minimax polynomial on [0, 1) (relative
 * error 7.5e-5, 1/26 of bf16's half step), vscalefps by 2^floor(x) (it floors its exponent
 * operand itself): 5 vector operations per 16 lanes (round, subtract and scale by the rounded
 * value took 6). Far below 0 gives 0; x = +inf or NaN gives NaN. */
__attribute__((target("avx512f,avx512dq"))) static inline __m512 fathom_exp2_bf16p(__m512 x) {
    __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.07802452f), f, _mm512_set1_ps(0.2260672f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6958335f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.9999252f));
    return _mm512_scalef_ps(p, x);
}

#endif
