/* common.cuh - shared state and helpers of the CUDA backend (C++ / nvcc only).
 *
 * Error policy: host calls go through CUDA_CHECK / CUBLAS_CHECK, which RETURN a fathom_status
 * with a message naming the call and the cause (never exit). Ops are void in the op table, so
 * a failure inside an op is kept as the backend's sticky error and returned by sync(). */
#ifndef FATHOM_BACKEND_CUDA_COMMON_CUH
#define FATHOM_BACKEND_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

/* the C headers carry no extern "C" of their own (fathom.h does) */
extern "C" {
#include "backend/backend.h"
#include "core/status.h"
}
#include "backend/cuda/cuda_backend.h"

#define CUDA_CHECK(call)                                                                   \
    do {                                                                                   \
        cudaError_t fathom_ce_ = (call);                                                   \
        if (fathom_ce_ != cudaSuccess)                                                     \
            return fathom_fail(fathom_cuda_status(fathom_ce_), "cuda: %s failed: %s (%s)", \
                               #call, cudaGetErrorString(fathom_ce_),                      \
                               cudaGetErrorName(fathom_ce_));                              \
    } while (0)

#define CUBLAS_CHECK(call)                                                                  \
    do {                                                                                    \
        cublasStatus_t fathom_cb_ = (call);                                                 \
        if (fathom_cb_ != CUBLAS_STATUS_SUCCESS)                                            \
            return fathom_fail(fathom_cb_ == CUBLAS_STATUS_ALLOC_FAILED ? FATHOM_ERR_NOMEM \
                                                                        : FATHOM_ERR_DEVICE, \
                               "cublasLt: %s failed: status %d", #call, (int)fathom_cb_);  \
    } while (0)

/* cudaErrorMemoryAllocation -> NOMEM, everything else -> DEVICE */
fathom_status fathom_cuda_status(cudaError_t e);

/* One cached cuBLASLt matmul plan (descriptors + heuristic algorithm) per GEMM shape. */
typedef struct cuda_gemm_plan {
    int used;
    int ta, tb, m, n, k, lda, ldb, ldc, epi;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
    int has_algo;
    int bias_kernel; /* BIAS epilogue unavailable for this shape: bias added by a kernel */
} cuda_gemm_plan;

#define CUDA_GEMM_PLANS 256
#define CUDA_WIDE_MARKS 8
#define CUDA_GRAPHS 16
#define CUDA_LT_WORKSPACE ((size_t)32 << 20)
#define CUDA_MIN_SCRATCH ((size_t)64 << 20)

typedef struct cuda_graph_slot {
    int used;
    long long key;
    cudaGraphExec_t exec; /* owned */
} cuda_graph_slot;

typedef struct cuda_ctx {
    int device;
    fathom_precision precision;   /* resolved: FP32, FP16 or BF16 */
    cublasComputeType_t compute;  /* matching cuBLASLt compute type */
    cudaStream_t stream;          /* owned: every op runs here */
    cudaStream_t copy_stream;     /* owned: async uploads/downloads that overlap compute */
    cudaEvent_t copy_done;        /* owned */
    cudaEvent_t compute_done;     /* owned */
    cublasLtHandle_t lt;          /* owned */
    void *lt_ws;                  /* owned: cuBLASLt workspace, CUDA_LT_WORKSPACE bytes */
    float *scratch;               /* owned: op scratch (im2col tiles, GEMM temporaries) */
    size_t scratch_bytes;
    size_t mem_limit;             /* 0: none */
    size_t mem_used;              /* bytes through alloc() plus our own buffers */
    int capturing;                /* inside graph_begin .. graph_end */
    fathom_status err;            /* sticky: first failure inside a void op */
    char err_msg[256];
    cuda_gemm_plan plans[CUDA_GEMM_PLANS];
    cuda_graph_slot graphs[CUDA_GRAPHS];
    /* fp16 guard: buffers last written by GELU / GEGLU (unbounded products); a GEMM reading
     * one runs with a wide compute type (cuda_gemm). Host-side, so graph capture keeps it. */
    struct { const char *p; size_t bytes; } wide[CUDA_WIDE_MARKS];
    int wide_next;
    struct cuda_qmat *qmats; /* owned: packed int8 / q4 linear weights (packed_q4q8.cu) */
    int nq, capq;
} cuda_ctx;

/* The backend's context, with its device made current on the calling thread: the pipeline
 * may create an engine on one thread and run it on another, and the current device is
 * per-thread state (streams of cuda:1 cannot take launches while cuda:0 is current). */
static inline cuda_ctx *cuda_of(fathom_backend *be) {
    cuda_ctx *c = (cuda_ctx *)be->ctx;
    int cur = -1;
    if (cudaGetDevice(&cur) != cudaSuccess || cur != c->device) cudaSetDevice(c->device);
    return c;
}

/* Record the first failure of a void op (kept until sync). */
void cuda_set_error(cuda_ctx *c, fathom_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* After a kernel launch: record a launch error (bad configuration, no kernel image). */
void cuda_check_launch(cuda_ctx *c, const char *what);

/* Blocks of `threads` covering n items, capped for grid-stride loops. */
static inline unsigned cuda_blocks(size_t n, int threads) {
    size_t b = (n + (size_t)threads - 1) / (size_t)threads;
    if (b > 65535u * 16u) b = 65535u * 16u;
    return b ? (unsigned)b : 1u;
}

typedef enum cuda_epi { CUDA_EPI_NONE = 0, CUDA_EPI_BIAS = 1 } cuda_epi;

/* Column-major D (m x n, ldc) = op(A) (m x k) . op(B) (k x n) [+ bias (m) when epi is BIAS]
 * [+ D when accumulate], fp32 in memory, ctx->compute inside. ta/tb: 1 = transposed. */
void cuda_gemm(cuda_ctx *c, int ta, int tb, int m, int n, int k, const float *A, int lda,
               const float *B, int ldb, float *D, int ldc, const float *bias, int accumulate);

/* Under fp16: x (bytes) now holds GELU / GEGLU products, which may pass fp16's 65504; GEMMs
 * reading it round their inputs to TF32 (fp16's mantissa, fp32's range) instead of fp16.
 * No-op on other precisions. Twin: fathom_ref_linear_fp16 (backend/cpu/ref_gemm16.c). */
void cuda_mark_wide(cuda_ctx *c, const void *x, size_t bytes);

static __device__ __forceinline__ float gelu_erf(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

/* Exact erf GELU in place over n floats. */
void cuda_gelu_inplace(cuda_ctx *c, float *x, size_t n);

#endif
