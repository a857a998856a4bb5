/* cpu_packed.h - the CPU backend's set of packed weights (--precision bf16, --weights int8|q4):
 * made once by the backend's prepare_weights entry (fathom_cpu_prepare_weights), looked up by
 * the fp32 weight pointer in the linear ops (cpu_linear.c) and the DPT head's convs
 * (cpu_conv_bf16.c). A backend holds one kind at a time. */
#ifndef FATHOM_BACKEND_CPU_PACKED_H
#define FATHOM_BACKEND_CPU_PACKED_H

#include <stddef.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_q4.h"
#include "backend/cpu/cpu_q8.h"

typedef struct fathom_cpu_bf16_set fathom_cpu_bf16_set;
struct fathom_weights;
struct fathom_packed_blob;

/* The backend entry: bf16 for FATHOM_PRECISION_BF16, int8 / q4 for those formats, nothing
 * (fp32) otherwise; replaces what an earlier call made. */
fathom_status fathom_cpu_prepare_weights(fathom_backend *be, const struct fathom_weights *w,
                                         fathom_precision precision, fathom_weight_format format);
/* Pack every encoder linear weight of w in one format and pick the kernel (FATHOM_CPU_KERNEL). */
fathom_status fathom_cpu_bf16_prepare(fathom_backend *be, const struct fathom_weights *w);
fathom_status fathom_cpu_q8_prepare(fathom_backend *be, const struct fathom_weights *w);
fathom_status fathom_cpu_q4_prepare(fathom_backend *be, const struct fathom_weights *w);
/* Tests (the backend-ops harness): a set of one matrix w, (N, K) as the op reads it: a
 * linear weight (conv < 0), a conv2d weight (conv 0) or a transposed conv's with kernel conv;
 * format FATHOM_WEIGHTS_DEFAULT packs bf16. Shapes the engine would leave fp32 stay fp32. */
fathom_status fathom_cpu_pack_one(fathom_backend *be, fathom_weight_format format, const float *w, int N,
                                  int K, int conv);
/* Tests: a set of two linear weights (the MLP's fc1 (N1, K1) and fc2 (N2, K2)) in one format */
fathom_status fathom_cpu_pack_pair(fathom_backend *be, fathom_weight_format format, const float *w1, int N1,
                                   int K1, const float *w2, int N2, int K2);
/* The packed twin of weight w in that format, or NULL (another format, or fp32) */
const fathom_bf16_mat *fathom_cpu_bf16_find(fathom_backend *be, const float *w);
const fathom_q8_mat *fathom_cpu_q8_find(fathom_backend *be, const float *w);
const fathom_q4_mat *fathom_cpu_q4_find(fathom_backend *be, const float *w);
/* The kernel the backend's GEMMs of that format use (fathom_cpu_bf16_kernel for bf16 and q4,
 * fathom_cpu_q8_kernel for int8), or -1 when it holds another format or none. */
int fathom_cpu_bf16_kernel_of(fathom_backend *be);
int fathom_cpu_q8_kernel_of(fathom_backend *be);
int fathom_cpu_q4_kernel_of(fathom_backend *be);
/* The bf16 kernel attention uses when the backend holds packed weights (bf16, q4: their GEMM
 * kernel; int8: the best bf16 kernel when it is not the portable one, unless int8 is forced
 * portable too), else -1: fp32 attention. */
int fathom_cpu_bf16_act_kernel(fathom_backend *be);
/* Attention with bf16 q, k, p, v on bf16 kernel kern (cpu_attention_bf16.c), for head dims
 * that are multiples of 32 and L that fits the scratch (fathom_cpu_attention_bf16_fits). */
int fathom_cpu_attention_bf16_fits(int L, int hd);
void fathom_cpu_attention_bf16(fathom_backend *be, int kern, float *out, const float *qkv, int B,
                               int L, int D, int heads, float scale);
/* Bytes of packed weights held, and of the fp32 weights they stand for */
void fathom_cpu_packed_bytes(fathom_backend *be, size_t *packed, size_t *fp32);
void fathom_cpu_bf16_set_free(fathom_cpu_bf16_set *s);
/* The backend's packed_sources entry: the fp32 weights (and their float counts) that now
 * have packed twins, the first cap of them in src / floats; returns how many there are. */
size_t fathom_cpu_packed_sources(fathom_backend *be, const float **src, size_t *floats, size_t cap);

/* Views of the backend's packed matrices (arrays borrowed, names empty), the first cap of
 * them in out; returns how many there are (`fathom quantize`, quant_io_save.c) */
size_t fathom_cpu_packed_blobs(fathom_backend *be, struct fathom_packed_blob *out, size_t cap);

/* The DPT head's convs on packed weights (cpu_conv_bf16.c). The packed twin of conv weight w
 * as a GEMM matrix (conv2d: (Co, Ci k k); conv_transpose: (Co k k, Ci)), exactly one of *wb /
 * *w4, and the bf16 kernel to run it on; 0 when w has none. */
int fathom_cpu_conv_find(fathom_backend *be, const float *w, const fathom_bf16_mat **wb,
                         const fathom_q4_mat **w4, int *kern);
/* What a packed conv's pixel tile reads: a conv2d's im2col rows (a transposed conv: k 1,
 * stride 1, pad 0, Wo W, so row ci of pixel p is in[ci][p]) */
typedef struct fathom_conv_gather {
    const float *in; /* one image (C, H, W) */
    int H, W, k, stride, pad, Wo, relu;
} fathom_conv_gather;
/* a (FATHOM_BF16_RB, kcp) bf16 <- A rows of pixels [p0, p0 + np), columns [k0, k0 + kcp) (zero
 * past K and past np); the AVX-512 twin (AVX512-BF16 CPUs only) rounds as vcvtne2ps2bf16 */
void fathom_cpu_conv_rows(uint16_t *a, int kcp, const fathom_conv_gather *g, int K, int p0, int np, int k0);
void fathom_cpu_conv_rows_avx512(uint16_t *a, int kcp, const fathom_conv_gather *g, int K, int p0,
                                 int np, int k0);
/* 1 when an (N, K) conv matrix (q4 or bf16) tiles within the per-thread scratch */
int fathom_cpu_conv_packed_fits(int N, int K, int q4);
/* The conv2d / conv_transpose ops (ops.def arguments) when w has a packed twin: run it and
 * return 1; else return 0 and do nothing (the op runs fp32). */
int fathom_cpu_conv2d_packed(fathom_backend *be, float *out, const float *in, const float *w,
                             const float *b, const float *residual, int B, int Ci, int H, int W,
                             int Co, int k, int stride, int pad, int flags);
int fathom_cpu_conv_transpose_packed(fathom_backend *be, float *out, const float *in,
                                     const float *w, const float *b, int B, int Ci, int H, int W,
                                     int Co, int k);
/* The backend's describe entry: "cpu <format>, gemm <kernel>; cpu features <list>" */
void fathom_cpu_describe(fathom_backend *be, char *buf, size_t n);

/* out (M, N) = act(in . W^T + b), or, with gamma, x (M, N) += gamma * (in . W^T + b), with
 * exactly one of w (bf16), wq (int8) and w4 (q4) given */
void fathom_cpu_linear_packed(fathom_backend *be, float *out, const float *in,
                              const fathom_bf16_mat *w, const fathom_q8_mat *wq,
                              const fathom_q4_mat *w4, const float *b, const float *gamma, int M,
                              int N, int K, fathom_act act);

/* LayerNorm parameters of a fused ln_linear (cpu_block.c) */
typedef struct fathom_cpu_ln {
    const float *w, *b;
    float eps;
} fathom_cpu_ln;
/* out (M, N) = act(LayerNorm(x) . W^T + b), one of w / wq / w4 given: each task normalizes
 * its rows into the GEMM's input form (bf16, or int8 and scales) without an fp32 pass */
void fathom_cpu_ln_linear_packed(fathom_backend *be, float *out, const float *x, const fathom_cpu_ln *ln,
                                 const fathom_bf16_mat *w, const fathom_q8_mat *wq,
                                 const fathom_q4_mat *w4, const float *b, int M, int N, int K,
                                 fathom_act act);
/* The MLP half of an encoder block on bf16 or q4 weights (w1 / q1: fc1 (H, D), w2 / q2: fc2
 * (D, H), one format): x += gamma * (GELU(LayerNorm(x) . W1^T + b1) . W2^T + b2), the hidden
 * rows kept as bf16 in hb (fathom_cpu_mlp_hidden_bytes(M, fc2's Kp): rows padded to
 * FATHOM_BF16_RB, columns to fc2's Kp), written by fc1's epilogue and read by fc2's GEMM. */
size_t fathom_cpu_mlp_hidden_bytes(int M, int Kp);
void fathom_cpu_ln_mlp_packed(fathom_backend *be, float *x, uint16_t *hb, const fathom_cpu_ln *ln,
                              const fathom_bf16_mat *w1, const fathom_q4_mat *q1, const float *b1,
                              const fathom_bf16_mat *w2, const fathom_q4_mat *q2, const float *b2,
                              const float *gamma, int M, int D, int H);
/* One LayerNorm row y (C) of x (cpu_layernorm.c: statistics in double), and its AVX-512 twin
 * for the packed engines (fp32 statistics: 1e-6 of the spread, far below bf16's step) */
void fathom_cpu_layernorm_row(float *y, const float *x, const float *w, const float *b, int C, float eps);
void fathom_cpu_layernorm_row_avx512(float *y, const float *x, const float *w, const float *b, int C,
                                     float eps);

#endif
