/* cpu_bf16.h - bf16 weights and GEMM kernels for the CPU backend (--precision bf16).
 *
 * Weights of the encoder's linear layers are rounded to bf16 once, when the engine is made
 * (fathom_cpu_bf16_prepare, cpu_packed.h), and packed in 32-column panels of k-pairs, the layout both
 * AVX512-BF16 (vdpbf16ps) and AMX-BF16 (tdpbf16ps, B tiles) read directly. Activations are
 * rounded to bf16 per row block as a GEMM reads them; accumulation, bias, GELU, LayerScale,
 * softmax and norms stay fp32. Attention takes bf16 q, k, p, v too (cpu_attention_bf16.c);
 * convolutions stay fp32.
 *
 * Variants (chosen at run time by CPU features, best first; FATHOM_CPU_KERNEL=portable|
 * avx512bf16|amx forces one, and a forced variant the CPU lacks falls back to the best it has):
 *   amx         AMX-BF16 tiles, 32 x 32 output per step     (Sapphire Rapids and later)
 *   avx512bf16  vdpbf16ps, 12 x 32 output register tile     (Cooper Lake, SPR, Zen 4)
 *   portable    plain C, the same bf16 products in fp32      (the reference; any CPU) */
#ifndef FATHOM_BACKEND_CPU_BF16_H
#define FATHOM_BACKEND_CPU_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

typedef enum fathom_cpu_bf16_kernel {
    FATHOM_CPU_BF16_PORTABLE = 0,
    FATHOM_CPU_BF16_AVX512 = 1, /* AVX512-BF16 */
    FATHOM_CPU_BF16_AMX = 2,
} fathom_cpu_bf16_kernel;

enum {
    FATHOM_BF16_NR = 32, /* panel width (columns) */
    FATHOM_BF16_KR = 32, /* K is padded to a multiple of this (one AMX tile row of bf16) */
    FATHOM_BF16_RB = 96, /* rows per task: a multiple of 12 (AVX-512 tile) and 32 (AMX) */
};

/* CPU features the kernels use (bit set), probed once; OS support checked for AVX-512. */
enum {
    FATHOM_CPU_F_AVX512F = 1 << 0,
    FATHOM_CPU_F_AVX512BF16 = 1 << 1,
    FATHOM_CPU_F_AVX512VNNI = 1 << 2,
    FATHOM_CPU_F_AMX_BF16 = 1 << 3,
    FATHOM_CPU_F_AMX_INT8 = 1 << 4,
};
unsigned fathom_cpu_features(void);
/* 1 when the kernel can run here (AMX also asks Linux for the tile state, once). */
int fathom_cpu_bf16_kernel_available(fathom_cpu_bf16_kernel k);
/* The kernel FATHOM_CPU_KERNEL asks for when available, else the best available. */
fathom_cpu_bf16_kernel fathom_cpu_bf16_kernel_pick(void);
const char *fathom_cpu_bf16_kernel_name(fathom_cpu_bf16_kernel k);

/* One packed weight matrix: w (N, K) fp32 -> panels [Np/32][Kp/2][32][2] bf16, zero padded. */
typedef struct fathom_bf16_mat {
    const float *src; /* the fp32 weight it stands for (borrowed; the lookup key) */
    uint16_t *w;      /* owned: Np * Kp bf16, 64-byte aligned */
    int N, K, Np, Kp;
} fathom_bf16_mat;

static inline uint16_t fathom_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);                 /* nearest even */
}
static inline float fathom_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* Pack w (N, K) into m (m->w allocated here; free with fathom_cpu_bf16_mat_free). */
fathom_status fathom_cpu_bf16_mat_pack(fathom_bf16_mat *m, const float *w, int N, int K);
void fathom_cpu_bf16_mat_free(fathom_bf16_mat *m);
/* a (rows, Kp) bf16 <- in (rows, K) fp32, row stride K; columns K..Kp zero */
void fathom_cpu_bf16_rows(uint16_t *a, const float *in, int rows, int K, int Kp);
/* the same with vcvtne2ps2bf16 (AVX512-BF16 CPUs only) */
void fathom_cpu_bf16_rows_avx512(uint16_t *a, const float *in, int rows, int K, int Kp);

/* dst[i] = bf16(scale * src[i]) for i < n: attention's q rows and k / v rows */
void fathom_cpu_bf16_scale(uint16_t *dst, const float *src, int n, float scale);
void fathom_cpu_bf16_scale_avx512(uint16_t *dst, const float *src, int n, float scale);
/* One 128-byte k-pair row of a v^T panel: dst[2 j + t] = bf16(t ? v1[j] : v0[j]), j < 32 */
void fathom_cpu_bf16_pair_rows(uint16_t *dst, const float *v0, const float *v1);
void fathom_cpu_bf16_pair_rows_avx512(uint16_t *dst, const float *v0, const float *v1);

/* softmax numerators: p[i] = bf16(exp(x[i] - m)) for i < n (x[i] <= m), zeros up to np;
 * returns the fp32 sum of the unrounded exponentials. fathom_cpu_exp_shift_sum_bf16 is the
 * portable twin; this one's exp is accurate to 4.2e-5 relative (enough for bf16 P). */
float fathom_cpu_exp_bf16_avx512(uint16_t *p, const float *x, int n, int np, float m);

/* x = gelu(x + b) (b may be NULL), erf to 3e-7: the GEMM epilogue of the bf16 and q4 engines,
 * whose next GEMM rounds it to bf16 (fathom_cpu_bias_act with FATHOM_ACT_GELU, erf to 2.5e-8,
 * is the fp32 and int8 engines'; int8's kernel variants give identical bits with it) */
void fathom_cpu_bias_gelu_avx512(float *x, const float *b, size_t n);

/* x[i] += g[i] * (t[i] + b[i]) for i < n (b may be NULL): the LayerScale + residual epilogue
 * of the packed linears; the AVX-512 twin gives the same bits */
void fathom_cpu_residual(float *x, const float *t, const float *b, const float *g, size_t n);
void fathom_cpu_residual_avx512(float *x, const float *t, const float *b, const float *g, size_t n);

/* c (M, ncols, ld ldc) = a (rows, Kp) . w[n0 .. n0+ncols)^T, n0 a multiple of 32. a must have
 * M rounded up to FATHOM_BF16_RB readable rows (zeros past M); only M rows are written. */
void fathom_cpu_gemm_bf16(fathom_cpu_bf16_kernel k, float *c, size_t ldc, const uint16_t *a,
                          const fathom_bf16_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_bf16_portable(float *c, size_t ldc, const uint16_t *a,
                                   const fathom_bf16_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_bf16_avx512(float *c, size_t ldc, const uint16_t *a,
                                 const fathom_bf16_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_bf16_amx(float *c, size_t ldc, const uint16_t *a, const fathom_bf16_mat *w,
                              int n0, int ncols, int M);

/* An epilogue (bias, GELU, LayerScale + residual, bf16 out: cpu_packed.c) that a GEMM runs on
 * each finished part of C while it is still in cache: fn gets the part at blk (row stride ld
 * floats), its first row and column within c plus col0, and its size. The AMX kernels call it
 * per 32 x 32 block as the tiles are stored; the others once, on all of c after the kernel. */
typedef struct fathom_gemm_ep fathom_gemm_ep;
struct fathom_gemm_ep {
    void (*fn)(const fathom_gemm_ep *ep, float *blk, size_t ld, int row, int col, int rows, int cols);
    const void *ctx; /* fn's */
    int col0;        /* added to col (a GEMM run panel by panel passes each panel's offset) */
};
/* fathom_cpu_gemm_bf16, then ep (NULL: none) on the output */
void fathom_cpu_gemm_bf16_ep(fathom_cpu_bf16_kernel k, float *c, size_t ldc, const uint16_t *a,
                             const fathom_bf16_mat *w, int n0, int ncols, int M, const fathom_gemm_ep *ep);
void fathom_cpu_gemm_bf16_amx_ep(float *c, size_t ldc, const uint16_t *a, const fathom_bf16_mat *w,
                                 int n0, int ncols, int M, const fathom_gemm_ep *ep);

/* Shifted-row A ("taps"): the stride-1 convs of cpu_conv_bf16_taps.c, whose A rows are not
 * gathered but read in place from a padded pixel-major bf16 copy of the input. K = w->Kp is
 * ntaps blocks of kt (a multiple of 32) and A(m, k) = a[m lda + toff[k / kt] + k % kt]:
 * tap t's rows are the pixel rows shifted by toff[t]. c (M, ncols, ld ldc) = A . w[n0 ..
 * n0 + ncols)^T as fathom_cpu_gemm_bf16; rows of A up to M rounded up to 32 must be readable. */
typedef struct fathom_bf16_taps {
    const uint16_t *a;
    size_t lda;
    const size_t *toff; /* w->Kp / kt offsets, in bf16 elements */
    int kt;
} fathom_bf16_taps;
void fathom_cpu_gemm_bf16_taps(fathom_cpu_bf16_kernel k, float *c, size_t ldc,
                               const fathom_bf16_taps *a, const fathom_bf16_mat *w, int n0,
                               int ncols, int M);
void fathom_cpu_gemm_bf16_taps_portable(float *c, size_t ldc, const fathom_bf16_taps *a,
                                        const fathom_bf16_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_bf16_taps_avx512(float *c, size_t ldc, const fathom_bf16_taps *a,
                                      const fathom_bf16_mat *w, int n0, int ncols, int M);
void fathom_cpu_gemm_bf16_taps_amx(float *c, size_t ldc, const fathom_bf16_taps *a,
                                   const fathom_bf16_mat *w, int n0, int ncols, int M);

/* Flash attention on AMX tiles (cpu_attention_amx.c) for 32 query rows q (32 x hd bf16, ld
 * hd, scale applied, zero rows past `rows`) against km (keys x hd) and vm (v^T: hd x keys)
 * packed as attention packs them (cpu_attention_bf16.c; hd = km->K, a multiple of 32):
 * out rows r < rows (ld ldo) = softmax(q k^T) v. scratch: FATHOM_BF16_FLASH_BYTES(hd) bytes,
 * 64-byte aligned. Call only where the AMX kernel is available and
 * fathom_cpu_attention_amx_built() (0: this compiler has no AMX intrinsics). */
#define FATHOM_BF16_FLASH_KB 128 /* keys per block */
#define FATHOM_BF16_FLASH_BYTES(hd) ((size_t)32 * (6 * FATHOM_BF16_FLASH_KB + 4 * (size_t)(hd)))
void fathom_cpu_attention_amx32(float *out, size_t ldo, int rows, const uint16_t *q,
                                const fathom_bf16_mat *km, const fathom_bf16_mat *vm, int L,
                                void *scratch);
int fathom_cpu_attention_amx_built(void);

#endif
