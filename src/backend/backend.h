/* backend.h - the backend op table: every op of the Depth Anything V2 forward pass.
 *
 * The ops themselves are listed once, in backend/ops.def (an X-macro).
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
struct fathom_weights; /* model/weights.h */

/* A packed weight matrix in the CPU backend's layouts (cpu_q8.h, cpu_q4.h; what a quantized
 * file holds): the (N, K) GEMM matrix padded to (Np, Kp). int8 (kind 1): a = int8 panels
 * [Np/32][Kp/4][32][4], b = Np fp32 scales per output channel. q4 (kind 2): a = nibble panels
 * [Np/32][Kp/2][32], b = bf16 scales [Np/32][Kp/32][32]. bf16 (kind 0, dequantizing only): a =
 * bf16 panels [Np/32][Kp/2][64] (cpu_bf16.h). Arrays borrowed. Kinds as
 * fathom_packed_kind (model/weights.h); plain-C twin: fathom_ref_linear_packed (ref_ops.h). */
typedef struct fathom_packed_mat {
    int kind, N, K, Np, Kp;
    const void *a, *b;
    size_t na, nb;
} fathom_packed_mat;
enum { FATHOM_PACKED_MAT_BF16 = 0, FATHOM_PACKED_MAT_INT8 = 1, FATHOM_PACKED_MAT_Q4 = 2 };

typedef enum fathom_act { FATHOM_ACT_NONE = 0, FATHOM_ACT_GELU = 1, FATHOM_ACT_RELU = 2 } fathom_act;

enum {
    FATHOM_CONV_RELU_IN = 1 << 0,  /* apply ReLU to the input as it is read (RCU) */
    FATHOM_CONV_RELU_OUT = 1 << 1, /* apply ReLU to the result (after bias and residual) */
};

/* Parameter list of an op-table entry: `be` then the op's own arguments (ops.def). */
#define FATHOM_OP_PARAMS(...) (fathom_backend *be, __VA_ARGS__)

/* One id per op of ops.def, for supports_op and the op-test registry. */
typedef enum fathom_op_id {
#define FATHOM_OP(name, params) FATHOM_OP_##name,
#include "backend/ops.def"
#undef FATHOM_OP
    FATHOM_OP_COUNT
} fathom_op_id;

/* "linear", "conv2d", ... indexed by fathom_op_id */
extern const char *const fathom_op_names[FATHOM_OP_COUNT];

typedef struct fathom_backend_ops {
    const char *name; /* "cpu", "cuda" */

    /* ---- required: memory and lifetime ---- */
    fathom_status (*alloc)(fathom_backend *be, void **p, size_t bytes);
    void (*free)(fathom_backend *be, void *p, size_t bytes);                 /* accepts NULL */
    fathom_status (*upload)(fathom_backend *be, void *dst, const void *src_host, size_t bytes);
    fathom_status (*download)(fathom_backend *be, void *dst_host, const void *src, size_t bytes);
    fathom_status (*sync)(fathom_backend *be);
    /* Reserve scratch for the largest shapes the ops will see (called at engine reserve). */
    fathom_status (*reserve_scratch)(fathom_backend *be, size_t bytes);
    /* Frees the backend and its context (fathom_backend_free calls it). */
    void (*destroy)(fathom_backend *be);
    /* Whether `op` runs on this backend instance (e.g. a precision or device generation
     * lacking a kernel). NULL: every op whose entry is non-NULL. Use fathom_backend_supports. */
    int (*supports_op)(const fathom_backend *be, fathom_op_id op);

    /* ---- optional (NULL = not supported; callers fall back to the plain entries) ---- */
    /* Page-locked host memory, so the *_async copies are DMA that overlaps compute. */
    fathom_status (*host_alloc)(fathom_backend *be, void **p, size_t bytes);
    void (*host_free)(fathom_backend *be, void *p); /* accepts NULL */
    /* Copy from host_alloc memory on a copy queue; later ops wait for it. */
    fathom_status (*upload_async)(fathom_backend *be, void *dst, const void *src_pinned,
                                  size_t bytes);
    /* Copy to host_alloc memory after all ops issued so far; complete at copy_wait. */
    fathom_status (*download_async)(fathom_backend *be, void *dst_pinned, const void *src,
                                    size_t bytes);
    fathom_status (*copy_wait)(fathom_backend *be);
    /* Op-sequence capture and replay per key (fathom_graph_key): graph_begin records the ops
     * issued until graph_end, which stores them under key; graph_launch replays them and gives
     * FATHOM_ERR_NOT_FOUND for an unknown key. Buffers a graph used must stay allocated while
     * it can be replayed: call graph_reset before freeing them. */
    fathom_status (*graph_begin)(fathom_backend *be);
    fathom_status (*graph_end)(fathom_backend *be, long long key);
    fathom_status (*graph_launch)(fathom_backend *be, long long key);
    void (*graph_reset)(fathom_backend *be);
    /* Weights in this backend's own form for `precision` and `format`, made once when an
     * engine is created (the CPU packs the encoder GEMM and DPT conv weights as bf16, int8 or q4 and its
     * linear ops use them in place of the fp32 ones); w is borrowed and must outlive be.
     * Called again, it replaces what the last call made. NULL: the backend computes from
     * the fp32 weights as given and supports only FATHOM_WEIGHTS_DEFAULT. */
    fathom_status (*prepare_weights)(fathom_backend *be, const struct fathom_weights *w,
                                     fathom_precision precision, fathom_weight_format format);
    /* The fp32 weights prepare_weights made packed twins of, which the backend no longer
     * reads (the first cap in src, their float counts in floats); returns how many. */
    size_t (*packed_sources)(fathom_backend *be, const float **src, size_t *floats, size_t cap);
    /* What the backend computes with, for reports ("cpu bf16, gemm amx; cpu features ...").
     * NULL: its name. */
    void (*describe)(fathom_backend *be, char *buf, size_t n);
    /* Device backends: a packed matrix (the CPU layouts, fathom_packed_mat) standing for the
     * (N, K) fp32 linear weight at w (backend memory); linear / linear_residual on w then
     * compute with it (cuda: q8_gemm.cu, q4_gemm.cu). Copies the arrays. NULL: none. */
    fathom_status (*load_packed)(fathom_backend *be, const float *w, const struct fathom_packed_mat *m);

    /* ---- the ops (ops.def): shapes and semantics there ---- */
#define FATHOM_OP(name, params) void(*name) FATHOM_OP_PARAMS params;
#include "backend/ops.def"
#undef FATHOM_OP
} fathom_backend_ops;

static inline long long fathom_graph_key(int batch, int net_h, int net_w) {
    return ((long long)batch << 40) | ((long long)net_h << 20) | (long long)net_w;
}

struct fathom_backend {
    const fathom_backend_ops *ops; /* static table, borrowed */
    void *ctx;                     /* owned by the backend: threads, streams, handles, scratch */
    fathom_device_kind kind;
    int threads;
};

/* 1 when be has a kernel for op (the entry is set and supports_op, if any, agrees). */
int fathom_backend_supports(const fathom_backend *be, fathom_op_id op);

/* CPU backend with `threads` threads (<= 0: all cores). */
fathom_status fathom_backend_cpu_create(int threads, fathom_backend **out);
/* CUDA backend on `device`, from the CUDA module loaded on first use (backend/loader.c);
 * FATHOM_ERR_UNSUPPORTED with a message naming where it looked when there is none. */
fathom_status fathom_backend_cuda_create(int device, fathom_precision precision,
                                         size_t mem_limit, fathom_backend **out);
/* Frees whichever backend it is; accepts NULL and sets *be to NULL. */
void fathom_backend_free(fathom_backend **be);

#endif
