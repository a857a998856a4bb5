/* backend_cpu.c - the CPU backend: op table, memory entries, thread count, scratch. */
#include <cblas.h>

#include "core/blas.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/cpu_sgemm.h"
#include "core/alloc.h"
#include "core/status.h"

float *fathom_cpu_scratch(fathom_backend *be) {
    fathom_cpu_ctx *ctx = be->ctx;
    return ctx->scratch + (size_t)omp_get_thread_num() * FATHOM_CPU_SCRATCH;
}

static fathom_status cpu_alloc(fathom_backend *be, void **p, size_t bytes) {
    *p = fathom_alloc(bytes);
    if (!*p) return fathom_fail(FATHOM_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", bytes);
    return FATHOM_OK;
}

static void cpu_free(fathom_backend *be, void *p, size_t bytes) { fathom_free_sized(p, bytes); }

static fathom_status cpu_copy(fathom_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
    return FATHOM_OK;
}

static fathom_status cpu_sync(fathom_backend *be) { return FATHOM_OK; }

/* Kernels only use the fixed per-thread tiles allocated at create, so any request is already
 * satisfied; nothing is allocated here or per call. */
static fathom_status cpu_reserve_scratch(fathom_backend *be, size_t bytes) { return FATHOM_OK; }

static void cpu_destroy(fathom_backend *be) {
    if (!be) return;
    fathom_cpu_ctx *ctx = be->ctx;
    if (ctx) fathom_free_sized(ctx->scratch, ctx->scratch_bytes);
    if (ctx) fathom_cpu_bf16_set_free(ctx->bf16); /* packed bf16/int8/q4 weights */
    if (ctx) fathom_cpu_sgemm_set_free(ctx->sgemm);
    free(ctx);
    free(be);
}

/* bf16 / int8 / q4: the packed sets (cpu_packed.c); fp32: AVX-512 panels of the encoder
 * linears (cpu_sgemm.c), made after the fp32 checks there pass */
static fathom_status cpu_prepare_weights(fathom_backend *be, const struct fathom_weights *w,
                                         fathom_precision precision, fathom_weight_format format) {
    fathom_cpu_ctx *ctx = be->ctx;
    fathom_cpu_sgemm_set_free(ctx->sgemm);
    ctx->sgemm = NULL;
    fathom_status s = fathom_cpu_prepare_weights(be, w, precision, format);
    if (s == FATHOM_OK && format == FATHOM_WEIGHTS_DEFAULT && precision != FATHOM_PRECISION_BF16)
        s = fathom_cpu_sgemm_prepare(be, w);
    return s;
}

static const fathom_backend_ops cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .reserve_scratch = cpu_reserve_scratch,
    .destroy = cpu_destroy,
    .prepare_weights = cpu_prepare_weights,
    .packed_sources = fathom_cpu_packed_sources,
    .describe = fathom_cpu_describe,
#define FATHOM_OP(name, params) .name = fathom_cpu_##name,
#include "backend/ops.def"
#undef FATHOM_OP
};

fathom_status fathom_backend_cpu_create(int threads, fathom_backend **out) {
    fathom_status st = FATHOM_OK;
    fathom_backend *be = NULL;  /* owned until returned */
    fathom_cpu_ctx *ctx = NULL; /* owned by be once attached */
    *out = NULL;
    if (threads <= 0) threads = omp_get_num_procs();
    if (threads > 1024) {
        st = fathom_fail(FATHOM_ERR_INVALID_ARG, "cpu backend: %d threads is too many", threads);
        goto done;
    }
    be = calloc(1, sizeof *be);
    ctx = calloc(1, sizeof *ctx);
    if (!be || !ctx) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "cpu backend: cannot allocate the context");
        goto done;
    }
    ctx->scratch_bytes = (size_t)threads * FATHOM_CPU_SCRATCH * sizeof(float);
    ctx->scratch = fathom_alloc(ctx->scratch_bytes);
    if (!ctx->scratch) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes of scratch for %d threads",
                         ctx->scratch_bytes, threads);
        goto done;
    }
    be->ops = &cpu_ops;
    be->ctx = ctx;
    be->kind = FATHOM_DEVICE_CPU;
    be->threads = threads;
    /* OpenBLAS should run serially (fathom_blas_serial, fathom.h): a process-wide setting the
     * host program opts into; when it has not, say so once instead of changing it. */
    fathom_blas_check();
    *out = be;
    be = NULL;
    ctx = NULL;
done:
    if (ctx) fathom_free_sized(ctx->scratch, ctx->scratch_bytes);
    if (ctx) fathom_cpu_bf16_set_free(ctx->bf16); /* packed bf16/int8/q4 weights */
    free(ctx);
    free(be);
    return st;
}
