/* elementwise.cu - add, depth activation and the token reshapes (patchify, assemble_tokens,
 * tokens_to_nchw): grid-stride loops over the output, so every element is written once. */
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"

#define EW_THREADS 256
#define GRID_LOOP(i, n)                                                        \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * blockDim.x)

static __global__ void k_add(float *out, const float *a, const float *b, size_t n) {
    GRID_LOOP(i, n) out[i] = a[i] + b[i];
}

static __global__ void k_depth_act(float *x, size_t n, int metric, float max_depth) {
    GRID_LOOP(i, n) {
        float v = x[i];
        x[i] = metric ? max_depth / (1.0f + expf(-v)) : fmaxf(v, 0.0f);
    }
}

/* out (B * gh * gw, 3 p p) from x (B, 3, H, W): one thread per output element */
static __global__ void k_patchify(float *out, const float *x, int H, int W, int p, int gh, int gw,
                                  size_t n) {
    const int row = 3 * p * p;
    GRID_LOOP(i, n) {
        size_t patch = i / row;
        int r = (int)(i % row);
        int c = r / (p * p), ky = (r / p) % p, kx = r % p;
        int px = (int)(patch % gw), py = (int)((patch / gw) % gh);
        size_t bt = patch / ((size_t)gw * gh);
        out[i] = x[((bt * 3 + c) * H + (size_t)py * p + ky) * W + (size_t)px * p + kx];
    }
}

static __global__ void k_assemble(float *tokens, const float *emb, const float *cls,
                                  const float *pos, int N, int D, size_t n) {
    GRID_LOOP(i, n) {
        int d = (int)(i % D);
        size_t t = (i / D) % (size_t)(N + 1), bt = i / ((size_t)D * (N + 1));
        tokens[i] = (t == 0 ? cls[d] : emb[(bt * N + t - 1) * D + d]) + pos[t * D + d];
    }
}

/* out (B, D, N) index i -> token (b, 1 + t), lane d. Consecutive threads write consecutive t
 * and read with stride D: a transpose, left simple (runs 4 times per forward pass). */
static __global__ void k_tokens_to_nchw(float *out, const float *tokens, int N, int D, size_t n) {
    GRID_LOOP(i, n) {
        size_t t = i % (size_t)N;
        size_t d = (i / N) % (size_t)D, bt = i / ((size_t)N * D);
        out[i] = tokens[(bt * (N + 1) + 1 + t) * D + d];
    }
}

void fathom_cuda_add(fathom_backend *be, float *out, const float *a, const float *b, size_t n) {
    cuda_ctx *c = cuda_of(be);
    if (!n) return;
    k_add<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, c->stream>>>(out, a, b, n);
    cuda_check_launch(c, "add");
}

void fathom_cuda_depth_act(fathom_backend *be, float *x, size_t n, int metric, float max_depth) {
    cuda_ctx *c = cuda_of(be);
    if (!n) return;
    k_depth_act<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, c->stream>>>(x, n, metric, max_depth);
    cuda_check_launch(c, "depth_act");
}

void fathom_cuda_patchify(fathom_backend *be, float *out, const float *x, int B, int H, int W,
                          int p) {
    cuda_ctx *c = cuda_of(be);
    if (B <= 0 || p <= 0 || H < p || W < p) return;
    int gh = H / p, gw = W / p;
    size_t n = (size_t)B * gh * gw * 3 * p * p;
    k_patchify<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, c->stream>>>(out, x, H, W, p, gh, gw, n);
    cuda_check_launch(c, "patchify");
}

void fathom_cuda_assemble_tokens(fathom_backend *be, float *tokens, const float *emb,
                                 const float *cls, const float *pos, int B, int N, int D) {
    cuda_ctx *c = cuda_of(be);
    if (B <= 0 || N < 0 || D <= 0) return;
    size_t n = (size_t)B * (N + 1) * D;
    k_assemble<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, c->stream>>>(tokens, emb, cls, pos, N,
                                                                        D, n);
    cuda_check_launch(c, "assemble_tokens");
}

void fathom_cuda_tokens_to_nchw(fathom_backend *be, float *out, const float *tokens, int B,
                                int gh, int gw, int D) {
    cuda_ctx *c = cuda_of(be);
    int N = gh * gw;
    if (B <= 0 || N <= 0 || D <= 0) return;
    size_t n = (size_t)B * D * N;
    k_tokens_to_nchw<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, c->stream>>>(out, tokens, N, D, n);
    cuda_check_launch(c, "tokens_to_nchw");
}
