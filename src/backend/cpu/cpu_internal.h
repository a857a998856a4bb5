/* cpu_internal.h - the CPU backend's context and its optimized kernels (fathom_cpu_<op>).
 *
 * Each kernel has the signature of its fathom_backend_ops entry. Kernels split work over an
 * OpenMP team of be->threads and call OpenBLAS sgemm per tile inside it, with OpenBLAS set
 * to one thread (backend_cpu.c), so one team of be->threads does all the work. Per-thread
 * scratch is a fixed-size tile allocated at create: shapes only change how many tiles
 * there are, never the tile size, so no op allocates or can fail. Scratch is
 * indexed by OpenMP thread number, so one backend serves one calling thread at a time (each
 * engine owns its backend); two host threads calling ops on the same backend would race. */
#ifndef FATHOM_BACKEND_CPU_INTERNAL_H
#define FATHOM_BACKEND_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

/* Tile sizes. Gemm output tiles stay within a thread's ~1 MiB share of L2, so they are
 * still cache-hot for the epilogue that follows. */
enum {
    FATHOM_CPU_SCRATCH = 409600, /* floats per thread (1.6 MiB): the attention fast path */
    FATHOM_CPU_QTILE = 128,      /* attention (sgemm path) query rows per task */
    FATHOM_CPU_KTILE = 1024,     /* attention (sgemm path) keys per block */
    FATHOM_CPU_FAST_QTILE = 64,  /* attention (AVX-512, head dim 64) query rows per task */
    FATHOM_CPU_FAST_L = 2048,    /* ... for L up to this (k^T and v packed whole) */
    FATHOM_CPU_CONV_N = 256,     /* conv output pixels per task */
    FATHOM_CPU_CONV_K = 1024,    /* conv im2col rows (Ci k k) per chunk */
    FATHOM_CPU_CONV_COPY_MB = 256, /* a stride-1 conv's whole-image input copy at most (MiB);
                                    * larger ones (Depth Pro's 1536² head) take the tiled im2col */
};

typedef struct fathom_cpu_ctx {
    float *scratch;       /* owned: threads * FATHOM_CPU_SCRATCH floats, 64-byte aligned */
    size_t scratch_bytes; /* size given to fathom_alloc */
    struct fathom_cpu_bf16_set *bf16; /* owned: packed bf16/int8/q4 weights or NULL (cpu_packed.h) */
    struct fathom_cpu_sgemm_set *sgemm; /* owned: fp32 weight panels or NULL (cpu_sgemm.h) */
} fathom_cpu_ctx;

/* this thread's scratch tile (call inside a parallel region of be->threads) */
float *fathom_cpu_scratch(fathom_backend *be);

/* vectorizable float32 erf / exp (~1-2 ulp), GELU built on erf */
float fathom_cpu_erf(float x);
float fathom_cpu_exp(float x);
/* x[i] = exp(x[i] - m) for i < n; returns the sum of the results */
float fathom_cpu_exp_shift_sum(float *x, size_t n, float m);
float fathom_cpu_exp_shift_sum_bf16(uint16_t *p, const float *x, size_t n, size_t np, float m);
/* max of x[0..n), n >= 1 */
float fathom_cpu_max(const float *x, size_t n);
/* x[i] = act(x[i] + b[i]) over n floats (one row); b may be NULL */
void fathom_cpu_bias_act(float *x, const float *b, size_t n, fathom_act act);
/* x[i] = scale * sigmoid(x[i]) */
void fathom_cpu_sigmoid_scale(float *x, size_t n, float scale);

/* attention pieces: running-max softmax over one key block (S rows of nk keys, ld lds;
 * O rows rescaled when the max grows), CPU feature probe, and the head-dim-64 AVX-512
 * path: pack (batch, head) k/v into scratch, then any query tile of it */
void fathom_cpu_online_softmax(float *s, int lds, int rows, int nk, float *mx, float *sum,
                               float *o, int ldo, int hd, int first);
int fathom_cpu_has_avx512(void);
/* Tests only (not thread-safe): 1 makes fathom_cpu_has_avx512() report 0, so the portable
 * sgemm paths run and can be checked on an AVX-512 machine too. */
void fathom_cpu_force_portable(int on);
void fathom_cpu_attention_pack64(float *scratch, const float *qkv, int L, int D, int h);
void fathom_cpu_attention_tile64(float *scratch, float *out, const float *qkv, int L, int D,
                                 int h, int q0, int rows, float scale);

/* C (M x n, ld ldc) += A (M x K, ld lda) . B (K x 64, ld ldb), n <= 64 valid columns (B
 * rows must have 64 readable floats); AVX-512 only (check fathom_cpu_has_avx512) */
void fathom_cpu_panel_gemm(float *c, size_t ldc, const float *a, int lda, const float *b,
                           size_t ldb, int K, int M, int n);
/* the same with B row k at rows[k] (conv: rows straight from the input image) */
void fathom_cpu_panel_gemm_rows(float *c, size_t ldc, const float *a, int lda,
                                const float *const *rows, int K, int M, int n);

/* the op-table kernels (ops.def): fathom_cpu_linear, fathom_cpu_conv2d, ... */
#define FATHOM_OP(name, params) void fathom_cpu_##name FATHOM_OP_PARAMS params;
#include "backend/ops.def"
#undef FATHOM_OP


#endif
