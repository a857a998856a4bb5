/* ref_ops.h - plain-C reference twins of the backend op table (the spec).
 *
 * Same arguments as the fathom_backend_ops entries minus `be` (see backend/backend.h for the
 * shapes). Simple loops, no intrinsics, no threads: these are what the optimized CPU kernels
 * and the CUDA kernels are tested against (tests/ops). Dot products and statistics accumulate
 * in double so the reference is at least as accurate as PyTorch fp32. */
#ifndef FATHOM_BACKEND_CPU_REF_OPS_H
#define FATHOM_BACKEND_CPU_REF_OPS_H

#include <stddef.h>

#include "backend/backend.h"

/* exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)) */
float fathom_ref_gelu(float x);

void fathom_ref_linear(float *out, const float *in, const float *w, const float *b, int M, int N,
                       int K, fathom_act act);
void fathom_ref_linear_residual(float *x, const float *in, const float *w, const float *b,
                                const float *gamma, int M, int N, int K);
void fathom_ref_layernorm(float *out, const float *in, const float *w, const float *b, int M,
                          int C, float eps);
void fathom_ref_attention(float *out, const float *qkv, int B, int L, int D, int heads,
                          float scale);
void fathom_ref_patchify(float *out, const float *x, int B, int H, int W, int p);
void fathom_ref_assemble_tokens(float *tokens, const float *emb, const float *cls,
                                const float *pos, int B, int N, int D);
void fathom_ref_tokens_to_nchw(float *out, const float *tokens, int B, int gh, int gw, int D);
void fathom_ref_conv2d(float *out, const float *in, const float *w, const float *b,
                       const float *residual, int B, int Ci, int H, int W, int Co, int k,
                       int stride, int pad, int flags);
void fathom_ref_conv_transpose(float *out, const float *in, const float *w, const float *b,
                               int B, int Ci, int H, int W, int Co, int k);
void fathom_ref_resize_bilinear(float *out, const float *in, int P, int Hi, int Wi, int Ho,
                                int Wo);
void fathom_ref_add(float *out, const float *a, const float *b, size_t n);
void fathom_ref_depth_act(float *x, size_t n, int metric, float max_depth);

/* Video Depth Anything temporal ops (ref_vda.c) */
void fathom_ref_group_norm(float *out, const float *in, const float *w, const float *b, int N,
                           int C, int HW, int G, float eps);
void fathom_ref_nchw_to_seq(float *out, const float *in, int T, int C, int HW, int p0, int P);
void fathom_ref_seq_to_nchw_add(float *out, const float *seq, int T, int C, int HW, int p0,
                                int P);
void fathom_ref_add_pe(float *x, const float *pe, int S, int T, int C);
void fathom_ref_geglu(float *out, const float *in, int M, int H);
void fathom_ref_copy_rows(float *dst, size_t ld_dst, const float *src, size_t ld_src, int rows,
                          int cols);

#endif
