/* backend.h - the backend op table: every op of the Depth Anything V2 forward pass.
 *
 * The forward pass (src/model) calls only these entries, so the same code runs on the CPU
 * backend (src/backend/cpu) and the CUDA backend (src/backend/cuda). Each op has a plain-C
 * reference twin (src/backend/cpu/ref_*.c, fathom_ref_<op>) that is the spec; optimized CPU
 * kernels and CUDA kernels are tested against it (tests/ops).
 *
 * Conventions (llm.c): outputs first, then inputs, then dimensions. All tensor pointers are
 * backend memory (host for CPU, device for CUDA), float32, contiguous, row-major, with the
 * shape in the comment. Ops do not fail once buffers are reserved; asynchronous errors surface
 * at sync(). Nothing here allocates per call except through reserve_scratch at reserve time. */
#ifndef FATHOM_BACKEND_BACKEND_H
#define FATHOM_BACKEND_BACKEND_H

#include <stddef.h>

#include "fathom.h"

typedef struct fathom_backend fathom_backend;

typedef enum fathom_act { FATHOM_ACT_NONE = 0, FATHOM_ACT_GELU = 1, FATHOM_ACT_RELU = 2 } fathom_act;

enum {
    FATHOM_CONV_RELU_IN = 1 << 0,  /* apply ReLU to the input as it is read (RCU) */
    FATHOM_CONV_RELU_OUT = 1 << 1, /* apply ReLU to the result (after bias and residual) */
};

typedef struct fathom_backend_ops {
    const char *name; /* "cpu", "cuda" */

    /* ---- memory ---- */
    fathom_status (*alloc)(fathom_backend *be, void **p, size_t bytes);
    void (*free)(fathom_backend *be, void *p, size_t bytes);                 /* accepts NULL */
    fathom_status (*upload)(fathom_backend *be, void *dst, const void *src_host, size_t bytes);
    fathom_status (*download)(fathom_backend *be, void *dst_host, const void *src, size_t bytes);
    fathom_status (*sync)(fathom_backend *be);
    /* Reserve scratch for the largest shapes the ops will see (called at engine reserve). */
    fathom_status (*reserve_scratch)(fathom_backend *be, size_t bytes);

    /* ---- encoder ---- */
    /* out (M, N) = act(in (M, K) . w (N, K)^T + b (N)); b may be NULL */
    void (*linear)(fathom_backend *be, float *out, const float *in, const float *w,
                   const float *b, int M, int N, int K, fathom_act act);
    /* x (M, N) += gamma (N) * (in (M, K) . w (N, K)^T + b (N))   (LayerScale residual) */
    void (*linear_residual)(fathom_backend *be, float *x, const float *in, const float *w,
                            const float *b, const float *gamma, int M, int N, int K);
    /* out (M, C) = (in - mean) / sqrt(var + eps) * w + b, per row (biased variance) */
    void (*layernorm)(fathom_backend *be, float *out, const float *in, const float *w,
                      const float *b, int M, int C, float eps);
    /* qkv (B, L, 3D) packed [q | k | v], heads of D/heads lanes; out (B, L, D) =
     * concat_h softmax(q_h k_h^T * scale) v_h. No L x L matrix may be kept in memory. */
    void (*attention)(fathom_backend *be, float *out, const float *qkv, int B, int L, int D,
                      int heads, float scale);
    /* x (B, 3, H, W) -> out (B * N, 3 * p * p), N = (H/p)(W/p) row-major patches, each in
     * Conv2d weight order (c, ky, kx), so patch embedding is linear() with (D, 3*p*p). */
    void (*patchify)(fathom_backend *be, float *out, const float *x, int B, int H, int W, int p);
    /* tokens (B, 1+N, D): row 0 = cls (D) + pos (0); row 1+t = emb (B*N, D)[b, t] + pos (1+t) */
    void (*assemble_tokens)(fathom_backend *be, float *tokens, const float *emb,
                            const float *cls, const float *pos, int B, int N, int D);
    /* tokens (B, 1+N, D), cls dropped -> out (B, D, gh, gw), N = gh * gw */
    void (*tokens_to_nchw)(fathom_backend *be, float *out, const float *tokens, int B, int gh,
                           int gw, int D);

    /* ---- DPT head (NCHW) ---- */
    /* out (B, Co, Ho, Wo) = conv(in (B, Ci, H, W), w (Co, Ci, k, k), stride, pad) + b (Co)
     * [+ residual (B, Co, Ho, Wo)], with FATHOM_CONV_* flags; b and residual may be NULL.
     * Ho = (H + 2 pad - k) / stride + 1. */
    void (*conv2d)(fathom_backend *be, float *out, const float *in, const float *w,
                   const float *b, const float *residual, int B, int Ci, int H, int W, int Co,
                   int k, int stride, int pad, int flags);
    /* ConvTranspose2d with kernel == stride == k (no overlap): in (B, Ci, H, W),
     * w (Ci, Co, k, k), b (Co) -> out (B, Co, k H, k W) */
    void (*conv_transpose)(fathom_backend *be, float *out, const float *in, const float *w,
                           const float *b, int B, int Ci, int H, int W, int Co, int k);
    /* bilinear, align_corners=True: in (P, Hi, Wi) -> out (P, Ho, Wo), P planes */
    void (*resize_bilinear)(fathom_backend *be, float *out, const float *in, int P, int Hi,
                            int Wi, int Ho, int Wo);
    /* out (n) = a (n) + b (n); out may alias a or b */
    void (*add)(fathom_backend *be, float *out, const float *a, const float *b, size_t n);
    /* in place: relative ReLU(x); metric sigmoid(x) * max_depth */
    void (*depth_act)(fathom_backend *be, float *x, size_t n, int metric, float max_depth);

    /* ---- Video Depth Anything temporal modules (src/model/vda_temporal.c) ----
     * NULL in a backend that lacks them: VDA then refuses that device with a message. */
    /* out (N, C, HW) = GroupNorm(in) with G groups, stats per (sample, group), biased var */
    void (*group_norm)(fathom_backend *be, float *out, const float *in, const float *w,
                       const float *b, int N, int C, int HW, int G, float eps);
    /* out (P, T, C)[p, t, c] = in (T, C, HW)[t, c, p0 + p]: positions become sequences */
    void (*nchw_to_seq)(fathom_backend *be, float *out, const float *in, int T, int C, int HW,
                        int p0, int P);
    /* out (T, C, HW)[t, c, p0 + p] += seq (P, T, C)[p, t, c] */
    void (*seq_to_nchw_add)(fathom_backend *be, float *out, const float *seq, int T, int C,
                            int HW, int p0, int P);
    /* x (S, T, C) += pe (T, C) for every sequence s */
    void (*add_pe)(fathom_backend *be, float *x, const float *pe, int S, int T, int C);
    /* out (M, H) = in (M, 2H)[:, :H] * GELU_erf(in[:, H:])   (GEGLU, gate = second half) */
    void (*geglu)(fathom_backend *be, float *out, const float *in, int M, int H);
    /* dst[r * ld_dst + c] = src[r * ld_src + c], r < rows, c < cols */
    void (*copy_rows)(fathom_backend *be, float *dst, size_t ld_dst, const float *src,
                      size_t ld_src, int rows, int cols);
} fathom_backend_ops;

struct fathom_backend {
    const fathom_backend_ops *ops; /* static table, borrowed */
    void *ctx;                     /* owned by the backend: threads, streams, handles, scratch */
    fathom_device_kind kind;
    int threads;
};

/* CPU backend with `threads` threads (<= 0: all cores). */
fathom_status fathom_backend_cpu_create(int threads, fathom_backend **out);
/* CUDA backend on `device` (FATHOM_ERR_UNSUPPORTED when built without CUDA). */
fathom_status fathom_backend_cuda_create(int device, fathom_precision precision,
                                         size_t mem_limit, fathom_backend **out);
/* Frees whichever backend it is; accepts NULL and sets *be to NULL. */
void fathom_backend_free(fathom_backend **be);

#endif
