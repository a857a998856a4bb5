/* cpu_sgemm.h - the fp32 encoder GEMM of our own (AVX-512): the linear weights packed once at
 * load into 32-column panels, 14 x 32 register tiles over the whole K, LayerNorm applied to
 * the A rows of a task as it starts (ln_linear) and bias, GELU or LayerScale + residual in the
 * tile store. OpenBLAS (cpu_linear.c) stays the portable path: CPUs without AVX-512, the
 * tests' forced-portable variant, and weights without a panel copy. */
#ifndef FATHOM_BACKEND_CPU_SGEMM_H
#define FATHOM_BACKEND_CPU_SGEMM_H

#include <stddef.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_packed.h"

enum {
    FATHOM_SGEMM_MR = 14, /* rows of a register tile */
    FATHOM_SGEMM_NR = 32, /* columns of a register tile = of a weight panel */
};

/* W (N, K) as panels: panel j holds columns [32 j, 32 j + 32) k-major, p[(j K + k) 32 + c] =
 * W[32 j + c][k], zero past N. */
typedef struct fathom_sgemm_mat {
    const float *src; /* the fp32 weight it stands for (borrowed: the lookup key) */
    int N, K, Np;     /* Np: N rounded up to 32 */
    float *p;         /* owned: Np * K floats, 64-byte aligned */
} fathom_sgemm_mat;

typedef struct fathom_cpu_sgemm_set fathom_cpu_sgemm_set;

/* Panel copies of every encoder linear weight of w (patch embedding, qkv, proj, fc1, fc2)
 * when the CPU has AVX-512; nothing otherwise. Replaces an earlier set. */
struct fathom_weights;
fathom_status fathom_cpu_sgemm_prepare(fathom_backend *be, const struct fathom_weights *w);
/* Tests: a set of the given (N, K) weights alone (replaces an earlier set) */
fathom_status fathom_cpu_sgemm_pack(fathom_backend *be, const float *const *w, const int *N, const int *K,
                                    int n);
void fathom_cpu_sgemm_set_free(fathom_cpu_sgemm_set *s);
/* Bytes of panels held */
size_t fathom_cpu_sgemm_bytes(fathom_backend *be);
/* The panel copy of w with shape (N, K), or NULL (none, or no AVX-512 now: the portable path) */
const fathom_sgemm_mat *fathom_cpu_sgemm_find(fathom_backend *be, const float *w, int N, int K);

/* out (M, N) = act(LN(in) . W^T + b), or with gamma x = out (M, N) += gamma * (LN(in) . W^T +
 * b); ln NULL: in as it is. b may be NULL. */
void fathom_cpu_sgemm_linear(fathom_backend *be, float *out, const float *in, const fathom_cpu_ln *ln,
                             const fathom_sgemm_mat *w, const float *b, const float *gamma, int M,
                             fathom_act act);

/* A tile's epilogue: c = act(acc + bias), or with gamma c += gamma * (acc + bias) (act
 * ignored); bias and gamma at the tile's first column, bias NULL: 0 */
typedef struct fathom_sgemm_epi {
    const float *bias, *gamma;
    fathom_act act;
} fathom_sgemm_epi;

/* One register tile (AVX-512 only): rows <= 14 rows of A at a (row r at a + r lda) times the
 * panel bp (K x 32), cols <= 32 valid, into the rows of c (row r at c + r ldc) through e */
void fathom_cpu_sgemm_tile_avx512(float *c, size_t ldc, const float *a, size_t lda, const float *bp, int K,
                                  int rows, int cols, const fathom_sgemm_epi *e);
/* The same on A packed k-major: ap[k * 14 + r], rows past `rows` zero */
void fathom_cpu_sgemm_tile_packed_avx512(float *c, size_t ldc, const float *ap, const float *bp, int K,
                                         int rows, int cols, const fathom_sgemm_epi *e);

#endif
