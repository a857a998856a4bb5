/* linear.cu - GEMMs through cuBLASLt (cached plans), linear / linear_residual, exact GELU.
 *
 * Activations and weights stay fp32 in memory; the precision is the cuBLASLt compute type:
 * CUBLAS_COMPUTE_32F (fp32), _32F_FAST_16BF (bf16) or _32F_FAST_16F (fp16): inputs are
 * rounded to 16 bits inside the kernel, products run on tensor cores, accumulation is fp32.
 * Bias uses the BIAS epilogue; GELU is our own erf kernel (the GELU epilogues do not document
 * which GELU they compute, and Depth Anything uses the exact one). */
#include <math.h>
#include <string.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/q4q8.cuh"
#include "backend/cuda/cuda_ops.h"

/* Largest power of two (<= 256) dividing the address: cuBLASLt assumes 256 unless told. */
static int ptr_align(const void *p) {
    uintptr_t a = (uintptr_t)p;
    int al = 256;
    while (al > 4 && (a % (uintptr_t)al) != 0) al >>= 1;
    return al;
}

static cuda_gemm_plan *plan_find(cuda_ctx *c, const cuda_gemm_plan *key, int *fresh) {
    cuda_gemm_plan *free_slot = NULL;
    for (int i = 0; i < CUDA_GEMM_PLANS; i++) {
        cuda_gemm_plan *p = &c->plans[i];
        if (!p->used) {
            if (!free_slot) free_slot = p;
            continue;
        }
        if (p->ta == key->ta && p->tb == key->tb && p->m == key->m && p->n == key->n &&
            p->k == key->k && p->lda == key->lda && p->ldb == key->ldb && p->ldc == key->ldc &&
            p->epi == key->epi)
            return p;
    }
    *fresh = 1;
    if (!free_slot) { /* full: recycle slot 0's descriptors (rare: > 256 distinct shapes) */
        free_slot = &c->plans[0];
        if (free_slot->a) cublasLtMatrixLayoutDestroy(free_slot->a);
        if (free_slot->b) cublasLtMatrixLayoutDestroy(free_slot->b);
        if (free_slot->c) cublasLtMatrixLayoutDestroy(free_slot->c);
        if (free_slot->op) cublasLtMatmulDescDestroy(free_slot->op);
        memset(free_slot, 0, sizeof *free_slot);
    }
    return free_slot;
}

/* Descriptor with the epilogue and transposes for one compute type. */
static cublasStatus_t make_desc(cublasLtMatmulDesc_t *op, cublasComputeType_t ct, int ta_, int tb_,
                                int bias) {
    cublasOperation_t ta = ta_ ? CUBLAS_OP_T : CUBLAS_OP_N, tb = tb_ ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasLtEpilogue_t epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    cublasStatus_t s = cublasLtMatmulDescCreate(op, ct, CUDA_R_32F);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi);
    return s;
}

/* Layouts, descriptor and the heuristic's best algorithm. When the precision's compute type
 * has no algorithm for a shape (e.g. an unusual alignment), fall back to TF32, then to plain
 * fp32: both at least as accurate, so results stay within the precision's tolerance. */
static fathom_status plan_build(cuda_ctx *c, cuda_gemm_plan *p, int align_min, int bias) {
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    p->used = 1;
    /* stored (not op) shapes: op(A) is m x k, op(B) is k x n */
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_32F, p->ta ? p->k : p->m,
                                            p->ta ? p->m : p->k, p->lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_32F, p->tb ? p->n : p->k,
                                            p->tb ? p->k : p->n, p->ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, CUDA_R_32F, p->m, p->n, p->ldc));
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = CUDA_LT_WORKSPACE;
    uint32_t al = (uint32_t)align_min;
    s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                             sizeof ws);
    const cublasLtMatmulPreferenceAttributes_t align_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4 && s == CUBLAS_STATUS_SUCCESS; i++)
        s = cublasLtMatmulPreferenceSetAttribute(pref, align_attr[i], &al, sizeof al);
    /* fp16 guard: TF32 (fp32 range) for this GEMM (bit 24 of epi; the alignment is bits 8-16) */
    const int wide = c->compute == CUBLAS_COMPUTE_32F_FAST_16F && ((p->epi >> 24) & 1);
    const cublasComputeType_t tries[3] = {wide ? CUBLAS_COMPUTE_32F_FAST_TF32 : c->compute,
                                          CUBLAS_COMPUTE_32F_FAST_TF32,
                                          CUBLAS_COMPUTE_32F};
    const int ntries = c->compute == CUBLAS_COMPUTE_32F ? 1 : 3;
    for (int t = 0; t < ntries && s == CUBLAS_STATUS_SUCCESS && found < 1; t++) {
        if (p->op) cublasLtMatmulDescDestroy(p->op);
        p->op = NULL;
        s = make_desc(&p->op, tries[t], p->ta, p->tb, bias);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulAlgoGetHeuristic(c->lt, p->op, p->a, p->b, p->c, p->c, pref, 1,
                                               &res, &found);
        if (s == CUBLAS_STATUS_NOT_SUPPORTED) s = CUBLAS_STATUS_SUCCESS, found = 0;
    }
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found < 1)
        return fathom_fail(FATHOM_ERR_DEVICE,
                           "cublasLt: no algorithm for %dx%dx%d (ta %d tb %d, align %d): status %d",
                           p->m, p->n, p->k, p->ta, p->tb, align_min, (int)s);
    p->algo = res.algo;
    p->has_algo = 1;
    return FATHOM_OK;
}

void cuda_mark_wide(cuda_ctx *c, const void *x, size_t bytes) {
    if (c->compute != CUBLAS_COMPUTE_32F_FAST_16F || !bytes) return;
    c->wide[c->wide_next].p = (const char *)x;
    c->wide[c->wide_next].bytes = bytes;
    c->wide_next = (c->wide_next + 1) % CUDA_WIDE_MARKS;
}

/* Does [p, p + bytes) overlap a marked buffer? */
static int wide_hit(const cuda_ctx *c, const void *p, size_t bytes) {
    const char *a = (const char *)p;
    for (int i = 0; i < CUDA_WIDE_MARKS; i++)
        if (c->wide[i].bytes && a < c->wide[i].p + c->wide[i].bytes && c->wide[i].p < a + bytes)
            return 1;
    return 0;
}

/* D's new contents are GEMM outputs (bounded by fp32 accumulation, not products of two
 * activations): marks starting inside it are dropped, so a reused buffer goes back to fp16. */
static void wide_clear(cuda_ctx *c, const void *p, size_t bytes) {
    const char *a = (const char *)p;
    for (int i = 0; i < CUDA_WIDE_MARKS; i++)
        if (c->wide[i].bytes && c->wide[i].p >= a && c->wide[i].p < a + bytes)
            c->wide[i].bytes = 0;
}

/* Bytes a column-major operand (rows x cols stored, ld) spans. */
static size_t span(int rows, int cols, int ld) {
    return cols > 0 ? ((size_t)(cols - 1) * ld + rows) * sizeof(float) : 0;
}

/* column-major D (m x n, ldc) += bias (m) per row: the BIAS epilogue's fallback */
static __global__ void k_bias_rows(float *D, const float *bias, int m, int n, int ldc) {
    size_t total = (size_t)m * n;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int r = (int)(i % m);
        size_t col = i / m;
        D[col * ldc + r] += bias[r];
    }
}

void cuda_gemm(cuda_ctx *c, int ta, int tb, int m, int n, int k, const float *A, int lda,
               const float *B, int ldb, float *D, int ldc, const float *bias, int accumulate) {
    if (c->err != FATHOM_OK || m <= 0 || n <= 0) return;
    /* alignment is part of the plan: the same shape at a less aligned offset gets its own */
    int al = ptr_align(A);
    int alb = ptr_align(B), ald = ptr_align(D);
    if (alb < al) al = alb;
    if (ald < al) al = ald;
    cuda_gemm_plan key;
    memset(&key, 0, sizeof key);
    key.ta = ta, key.tb = tb, key.m = m, key.n = n, key.k = k;
    key.lda = lda, key.ldb = ldb, key.ldc = ldc;
    /* fp16 guard: an input holding GELU / GEGLU products is rounded to TF32, not fp16 */
    const int wide = c->compute == CUBLAS_COMPUTE_32F_FAST_16F &&
                     (wide_hit(c, A, span(ta ? k : m, ta ? m : k, lda)) ||
                      wide_hit(c, B, span(tb ? n : k, tb ? k : n, ldb)));
    if (c->compute == CUBLAS_COMPUTE_32F_FAST_16F) wide_clear(c, D, span(m, n, ldc));
    key.epi = (bias ? CUDA_EPI_BIAS : CUDA_EPI_NONE) | (al << 8) | (wide << 24);
    int fresh = 0;
    cuda_gemm_plan *p = plan_find(c, &key, &fresh);
    if (fresh) {
        *p = key;
        fathom_status s = plan_build(c, p, al, bias != NULL);
        if (s != FATHOM_OK && bias) { /* no BIAS epilogue here: plain GEMM + bias kernel */
            if (p->a) cublasLtMatrixLayoutDestroy(p->a);
            if (p->b) cublasLtMatrixLayoutDestroy(p->b);
            if (p->c) cublasLtMatrixLayoutDestroy(p->c);
            if (p->op) cublasLtMatmulDescDestroy(p->op);
            *p = key;
            p->bias_kernel = 1;
            s = plan_build(c, p, al, 0);
        }
        if (s != FATHOM_OK) {
            cuda_set_error(c, s, "%s", fathom_last_error());
            return;
        }
    }
    if (!p->has_algo) {
        cuda_set_error(c, FATHOM_ERR_DEVICE, "cublasLt: no usable plan for %dx%dx%d", m, n, k);
        return;
    }
    if (bias && !p->bias_kernel) {
        cublasStatus_t s = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                          &bias, sizeof bias);
        if (s != CUBLAS_STATUS_SUCCESS) {
            cuda_set_error(c, FATHOM_ERR_DEVICE, "cublasLt: setting the bias pointer: status %d", (int)s);
            return;
        }
    }
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    cublasStatus_t s = cublasLtMatmul(c->lt, p->op, &one, A, p->a, B, p->b, &beta, D, p->c, D, p->c,
                                      &p->algo, c->lt_ws, CUDA_LT_WORKSPACE, c->stream);
    if (s != CUBLAS_STATUS_SUCCESS) {
        cuda_set_error(c, FATHOM_ERR_DEVICE, "cublasLt: matmul %dx%dx%d failed: status %d", m, n, k,
                       (int)s);
        return;
    }
    if (bias && p->bias_kernel) {
        size_t total = (size_t)m * n;
        k_bias_rows<<<cuda_blocks(total, 256), 256, 0, c->stream>>>(D, bias, m, n, ldc);
        cuda_check_launch(c, "gemm bias");
    }
}

/* ---------------------------------------------------------------- GELU, residual */

static __global__ void k_gelu(float *x, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = gelu_erf(x[i]);
}

static __global__ void k_relu(float *x, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = fmaxf(x[i], 0.0f);
}

void cuda_gelu_inplace(cuda_ctx *c, float *x, size_t n) {
    if (!n) return;
    k_gelu<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(x, n);
    cuda_check_launch(c, "gelu");
    cuda_mark_wide(c, x, n * sizeof(float));
}

/* x (rows, N) += gamma (N) * t (rows, N) */
static __global__ void k_scaled_add(float *x, const float *t, const float *gamma, size_t rows,
                                    int N) {
    size_t n = rows * (size_t)N;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] += gamma[i % (size_t)N] * t[i];
}

/* Bias needs cuBLASLt's epilogue alignment; a misaligned bias goes through this kernel. */
static __global__ void k_add_bias(float *x, const float *b, size_t rows, int N) {
    size_t n = rows * (size_t)N;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] += b[i % (size_t)N];
}

/* row-major out (M, N) = in (M, K) . w (N, K)^T: column-major out^T (N x M) = w^T . in */
static void gemm_rows(cuda_ctx *c, float *out, const float *in, const float *w, const float *b,
                      int M, int N, int K) {
    const float *bias = b && ptr_align(b) >= 16 ? b : NULL;
    cuda_gemm(c, 1, 0, N, M, K, w, K, in, K, out, N, bias, 0);
    if (b && !bias) {
        k_add_bias<<<cuda_blocks((size_t)M * N, 256), 256, 0, c->stream>>>(out, b, (size_t)M, N);
        cuda_check_launch(c, "bias");
    }
}

void fathom_cuda_linear(fathom_backend *be, float *out, const float *in, const float *w,
                        const float *b, int M, int N, int K, fathom_act act) {
    cuda_ctx *c = cuda_of(be);
    if (M <= 0 || N <= 0) return;
    if (cuda_linear_packed(c, out, in, w, b, NULL, M, N, K, act)) return; /* int8 / q4 weights */
    gemm_rows(c, out, in, w, b, M, N, K);
    size_t n = (size_t)M * N;
    if (act == FATHOM_ACT_GELU) {
        cuda_gelu_inplace(c, out, n);
    } else if (act == FATHOM_ACT_RELU) {
        k_relu<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(out, n);
        cuda_check_launch(c, "relu");
    }
}

void fathom_cuda_linear_residual(fathom_backend *be, float *x, const float *in, const float *w,
                                 const float *b, const float *gamma, int M, int N, int K) {
    cuda_ctx *c = cuda_of(be);
    if (M <= 0 || N <= 0) return;
    if (cuda_linear_packed(c, x, in, w, b, gamma, M, N, K, FATHOM_ACT_NONE)) return;
    /* rows per chunk so the temporary fits the scratch; ops never allocate */
    size_t rows = c->scratch_bytes / (sizeof(float) * (size_t)N);
    if (rows == 0) {
        cuda_set_error(c, FATHOM_ERR_INTERNAL, "cuda linear_residual: N %d exceeds the scratch", N);
        return;
    }
    if (rows > (size_t)M) rows = (size_t)M;
    for (int m0 = 0; m0 < M; m0 += (int)rows) {
        int mc = M - m0 < (int)rows ? M - m0 : (int)rows;
        gemm_rows(c, c->scratch, in + (size_t)m0 * K, w, b, mc, N, K);
        size_t n = (size_t)mc * N;
        k_scaled_add<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(x + (size_t)m0 * N, c->scratch,
                                                                  gamma, (size_t)mc, N);
        cuda_check_launch(c, "linear_residual");
    }
}
