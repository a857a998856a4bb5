/* cpu_q8.h - int8 weights and int8 x int8 GEMM kernels for the CPU backend (--weights int8).
 *
 * Weights of the encoder's linear layers are quantized once, when the engine is made:
 * symmetric, one scale per output channel (max|w| / 127), packed in 32-column panels of
 * k-quads, the layout AVX512-VNNI (vpdpbusd) and AMX-INT8 (tdpbssd, B tiles) read directly.
 * Activations are quantized per row as a GEMM reads them (symmetric, max|x| / 127, dynamic);
 * products sum exactly in int32, then out = acc * s_row * s_col in fp32. Bias, GELU, LayerScale,
 * norms and convolutions stay fp32; attention runs in bf16 (cpu_packed.h,
 * fathom_cpu_bf16_act_kernel).
 *
 * Variants (best first; FATHOM_CPU_KERNEL=portable|avx512vnni|amx forces one):
 *   amx         AMX-INT8 tiles, 32 x 32 outputs per step
 *   avx512vnni  vpdpbusd on (a + 128) u8 x w s8, minus 128 * column sums, 12 x 32 tile
 *   portable    plain C int32 sums (the reference)
 * All three give bit-identical results: the integer sums are exact and the scaling is the same
 * fp32 expression. */
#ifndef FATHOM_BACKEND_CPU_Q8_H
#define FATHOM_BACKEND_CPU_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_bf16.h" /* fathom_gemm_ep */

typedef enum fathom_cpu_q8_kernel {
    FATHOM_CPU_Q8_PORTABLE = 0,
    FATHOM_CPU_Q8_VNNI = 1,
    FATHOM_CPU_Q8_AMX = 2,
} fathom_cpu_q8_kernel;

enum { FATHOM_Q8_KR = 64 }; /* K padded to this (one AMX tile row of int8) */

typedef struct fathom_q8_mat {
    const float *src; /* the fp32 weight it stands for (borrowed; the lookup key) */
    int8_t *w;        /* owned: panels [Np/32][Kp/4][32][4], zero padded */
    float *scale;     /* owned: Np per-column scales (0 past N) */
    int32_t *colsum;  /* owned: Np column sums of w (the VNNI kernel's +128 correction) */
    int N, K, Np, Kp;
} fathom_q8_mat;

int fathom_cpu_q8_kernel_available(fathom_cpu_q8_kernel k);
fathom_cpu_q8_kernel fathom_cpu_q8_kernel_pick(void);
const char *fathom_cpu_q8_kernel_name(fathom_cpu_q8_kernel k);

fathom_status fathom_cpu_q8_mat_pack(fathom_q8_mat *m, const float *w, int N, int K);
void fathom_cpu_q8_mat_free(fathom_q8_mat *m);
/* a (rows, Kp) int8 and scale (rows) <- in (rows, K): q = round-to-even(x / s), s = max|x| / 127
 * (1 for an all-zero row); columns K..Kp zero. The AVX-512 twin gives identical bytes. */
void fathom_cpu_q8_rows(int8_t *a, float *scale, const float *in, int rows, int K, int Kp);
void fathom_cpu_q8_rows_avx512(int8_t *a, float *scale, const float *in, int rows, int K, int Kp);

/* c (M, ncols, ld ldc) = (a . w[n0..n0+ncols)^T) * sa[row] * w->scale[col], n0 a multiple of
 * 32; a must have M rounded up to FATHOM_BF16_RB readable rows (zeros past M). */
void fathom_cpu_gemm_q8(fathom_cpu_q8_kernel k, float *c, size_t ldc, const int8_t *a,
                        const float *sa, const fathom_q8_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_q8_portable(float *c, size_t ldc, const int8_t *a, const float *sa,
                                 const fathom_q8_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_q8_vnni(float *c, size_t ldc, const int8_t *a, const float *sa,
                             const fathom_q8_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_q8_amx(float *c, size_t ldc, const int8_t *a, const float *sa,
                            const fathom_q8_mat *w, int n0, int ncols, int M);
/* the same, then ep (NULL: none) on the output: per 32 x 32 block on AMX (cpu_bf16.h) */
void fathom_cpu_gemm_q8_ep(fathom_cpu_q8_kernel k, float *c, size_t ldc, const int8_t *a,
                           const float *sa, const fathom_q8_mat *w, int n0, int ncols, int M,
                           const fathom_gemm_ep *ep);
void fathom_cpu_gemm_q8_amx_ep(float *c, size_t ldc, const int8_t *a, const float *sa,
                               const fathom_q8_mat *w, int n0, int ncols, int M, const fathom_gemm_ep *ep);

#endif
