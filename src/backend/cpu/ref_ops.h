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

/* fathom_ref_linear, fathom_ref_conv2d, ... (ops.def) */
#define FATHOM_OP(name, params) void fathom_ref_##name params;
#include "backend/ops.def"
#undef FATHOM_OP

/* The CUDA backend's `--precision fp16` GEMM (ref_gemm16.c): inputs rounded to fp16, or to TF32
 * (fp16's mantissa, fp32's range) when `wide` (the input is a GELU / GEGLU product), fp32
 * accumulation. */
float fathom_ref_round_fp16(float x);
float fathom_ref_round_tf32(float x);
void fathom_ref_linear_fp16(float *out, const float *in, const float *w, const float *b, int M,
                            int N, int K, fathom_act act, int wide);

/* PyTorch's align_corners=False source index (shared with the CPU kernel and post-processing) */
float fathom_ref_pt_scale(int n_in, int n_out, float inv_scale);
void fathom_ref_pt_index(int d, float scale, int n_in, int *i0, int *i1, float *w1);

/* Packed weights (fathom_packed_mat, backend.h; ref_packed.c): the value entry (n, k) stands
 * for (int8 q * scale, q4 bf16(q * d), bf16 as stored), all of them into w (N, K), and the
 * device GEMMs' twin: out (M, N) = act(in . W^T + b), or with gamma x += gamma * (in . W^T + b),
 * in the format's arithmetic (int8: rows quantized per row, exact int32 sums; q4: bf16 inputs
 * times bf16(q * d), fp32 sums). */
float fathom_ref_packed_value(const fathom_packed_mat *m, int n, int k);
void fathom_ref_packed_dequant(float *w, const fathom_packed_mat *m);
void fathom_ref_linear_packed(float *out, const float *in, const fathom_packed_mat *m, const float *b,
                              const float *gamma, int M, fathom_act act);

#endif
