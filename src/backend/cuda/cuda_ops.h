/* cuda_ops.h - the CUDA kernels behind the op table (arguments as in backend/backend.h; all
 * tensors are device memory; every op is asynchronous on the backend's compute stream). */
#ifndef FATHOM_BACKEND_CUDA_CUDA_OPS_H
#define FATHOM_BACKEND_CUDA_CUDA_OPS_H

#include "backend/backend.h"

void fathom_cuda_linear(fathom_backend *be, float *out, const float *in, const float *w,
                        const float *b, int M, int N, int K, fathom_act act);
void fathom_cuda_linear_residual(fathom_backend *be, float *x, const float *in, const float *w,
                                 const float *b, const float *gamma, int M, int N, int K);
void fathom_cuda_layernorm(fathom_backend *be, float *out, const float *in, const float *w,
                           const float *b, int M, int C, float eps);
void fathom_cuda_attention(fathom_backend *be, float *out, const float *qkv, int B, int L, int D,
                           int heads, float scale);
void fathom_cuda_patchify(fathom_backend *be, float *out, const float *x, int B, int H, int W,
                          int p);
void fathom_cuda_assemble_tokens(fathom_backend *be, float *tokens, const float *emb,
                                 const float *cls, const float *pos, int B, int N, int D);
void fathom_cuda_tokens_to_nchw(fathom_backend *be, float *out, const float *tokens, int B,
                                int gh, int gw, int D);
void fathom_cuda_conv2d(fathom_backend *be, float *out, const float *in, const float *w,
                        const float *b, const float *residual, int B, int Ci, int H, int W,
                        int Co, int k, int stride, int pad, int flags);
void fathom_cuda_conv_transpose(fathom_backend *be, float *out, const float *in, const float *w,
                                const float *b, int B, int Ci, int H, int W, int Co, int k);
void fathom_cuda_resize_bilinear(fathom_backend *be, float *out, const float *in, int P, int Hi,
                                 int Wi, int Ho, int Wo);
void fathom_cuda_add(fathom_backend *be, float *out, const float *a, const float *b, size_t n);
void fathom_cuda_depth_act(fathom_backend *be, float *x, size_t n, int metric, float max_depth);

#endif
