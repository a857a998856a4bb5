/* backend_cuda.cu - the CUDA backend: op table, create/destroy, memory (with --gpu-mem-limit),
 * streams, pinned copies, CUDA graphs and the sticky error that sync() reports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/q4q8.cuh"

fathom_status fathom_cuda_status(cudaError_t e) {
    return e == cudaErrorMemoryAllocation ? FATHOM_ERR_NOMEM : FATHOM_ERR_DEVICE;
}

void cuda_set_error(cuda_ctx *c, fathom_status s, const char *fmt, ...) {
    if (c->err != FATHOM_OK) return;
    c->err = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
}

void cuda_check_launch(cuda_ctx *c, const char *what) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        cuda_set_error(c, fathom_cuda_status(e), "cuda: launching %s failed: %s", what,
                       cudaGetErrorString(e));
}

extern "C" int fathom_cuda_devices(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear: the query's error is not sticky for later calls */
        return 0;
    }
    return n;
}

extern "C" fathom_precision fathom_cuda_precision(fathom_backend *be) {
    return cuda_of(be)->precision;
}

/* ---------------------------------------------------------------- memory */

static fathom_status cu_alloc(fathom_backend *be, void **p, size_t bytes) {
    cuda_ctx *c = cuda_of(be);
    *p = NULL;
    if (c->mem_limit && (c->mem_used > c->mem_limit || bytes > c->mem_limit - c->mem_used))
        return fathom_fail(FATHOM_ERR_NOMEM,
                           "cuda:%d: %.1f MiB more would exceed --gpu-mem-limit %.1f MiB "
                           "(%.1f MiB in use)",
                           c->device, bytes / 1048576.0, c->mem_limit / 1048576.0,
                           c->mem_used / 1048576.0);
    if (!bytes) bytes = 1;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        *p = NULL;
        return fathom_fail(fathom_cuda_status(e),
                           "cuda:%d: cannot allocate %.1f MiB of device memory (%.1f of %.1f MiB "
                           "free): %s",
                           c->device, bytes / 1048576.0, fr / 1048576.0, tot / 1048576.0,
                           cudaGetErrorString(e));
    }
    c->mem_used += bytes;
    return FATHOM_OK;
}

static void cu_free(fathom_backend *be, void *p, size_t bytes) {
    if (!p) return;
    cuda_ctx *c = cuda_of(be);
    cudaFree(p); /* implicit device sync: never called inside a forward pass */
    if (!bytes) bytes = 1;
    c->mem_used = c->mem_used > bytes ? c->mem_used - bytes : 0;
}

/* Synchronous with respect to the host buffer: pageable sources are staged by the driver
 * before cudaMemcpyAsync returns; the stream sync covers pinned ones. */
static fathom_status cu_upload(fathom_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_ctx *c = cuda_of(be);
    if (!bytes) return FATHOM_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return FATHOM_OK;
}

/* Complete on return: the caller reads the host buffer right away (taps, outputs). */
static fathom_status cu_download(fathom_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_ctx *c = cuda_of(be);
    if (!bytes) return FATHOM_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    if (c->err != FATHOM_OK) return fathom_fail(c->err, "%s", c->err_msg);
    return FATHOM_OK;
}

static fathom_status cu_sync(fathom_backend *be) {
    cuda_ctx *c = cuda_of(be);
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    CUDA_CHECK(cudaGetLastError());
    if (c->err != FATHOM_OK) return fathom_fail(c->err, "%s", c->err_msg);
    return FATHOM_OK;
}

static void graphs_drop(cuda_ctx *c) {
    for (int i = 0; i < CUDA_GRAPHS; i++) {
        if (c->graphs[i].used) cudaGraphExecDestroy(c->graphs[i].exec);
        c->graphs[i].used = 0;
    }
}

extern "C" void fathom_cuda_graph_reset(fathom_backend *be) { graphs_drop(cuda_of(be)); }

static fathom_status cu_reserve_scratch(fathom_backend *be, size_t bytes) {
    cuda_ctx *c = cuda_of(be);
    if (bytes <= c->scratch_bytes) return FATHOM_OK;
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    graphs_drop(c); /* captured graphs point into the old scratch */
    /* free first: old + new at once could exceed --gpu-mem-limit needlessly */
    cu_free(be, c->scratch, c->scratch_bytes);
    c->scratch = NULL;
    void *p = NULL;
    fathom_status st = cu_alloc(be, &p, bytes);
    if (st != FATHOM_OK) { /* keep a working scratch of the old size; report the failure */
        char why[256];
        snprintf(why, sizeof why, "%s", fathom_last_error());
        size_t old = c->scratch_bytes;
        if (cu_alloc(be, &p, old) != FATHOM_OK) {
            p = NULL;
            old = 0;
        }
        c->scratch = (float *)p;
        c->scratch_bytes = old;
        return fathom_fail(st, "cuda:%d: op scratch of %.1f MiB: %s", c->device,
                           bytes / 1048576.0, why);
    }
    c->scratch = (float *)p;
    c->scratch_bytes = bytes;
    return FATHOM_OK;
}

/* ---------------------------------------------------------------- pinned memory, async copies */

extern "C" fathom_status fathom_cuda_host_alloc(fathom_backend *be, void **p, size_t bytes) {
    *p = NULL;
    CUDA_CHECK(cudaHostAlloc(p, bytes ? bytes : 1, cudaHostAllocPortable));
    return FATHOM_OK;
}

extern "C" void fathom_cuda_host_free(fathom_backend *be, void *p) {
    if (p) cudaFreeHost(p);
}

extern "C" fathom_status fathom_cuda_upload_async(fathom_backend *be, void *dst, const void *src,
                                                  size_t bytes) {
    cuda_ctx *c = cuda_of(be);
    if (!bytes) return FATHOM_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->copy_stream));
    CUDA_CHECK(cudaEventRecord(c->copy_done, c->copy_stream));
    CUDA_CHECK(cudaStreamWaitEvent(c->stream, c->copy_done, 0));
    return FATHOM_OK;
}

extern "C" fathom_status fathom_cuda_download_async(fathom_backend *be, void *dst,
                                                    const void *src, size_t bytes) {
    cuda_ctx *c = cuda_of(be);
    if (!bytes) return FATHOM_OK;
    CUDA_CHECK(cudaEventRecord(c->compute_done, c->stream));
    CUDA_CHECK(cudaStreamWaitEvent(c->copy_stream, c->compute_done, 0));
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->copy_stream));
    return FATHOM_OK;
}

extern "C" fathom_status fathom_cuda_copy_wait(fathom_backend *be) {
    cuda_ctx *c = cuda_of(be);
    CUDA_CHECK(cudaStreamSynchronize(c->copy_stream));
    if (c->err != FATHOM_OK) return fathom_fail(c->err, "%s", c->err_msg);
    return FATHOM_OK;
}

/* ---------------------------------------------------------------- CUDA graphs */

extern "C" fathom_status fathom_cuda_graph_begin(fathom_backend *be) {
    cuda_ctx *c = cuda_of(be);
    if (c->capturing)
        return fathom_fail(FATHOM_ERR_INTERNAL, "cuda: graph capture already in progress");
    CUDA_CHECK(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    c->capturing = 1;
    return FATHOM_OK;
}

extern "C" fathom_status fathom_cuda_graph_end(fathom_backend *be, long long key) {
    cuda_ctx *c = cuda_of(be);
    fathom_status st = FATHOM_OK;
    cudaGraph_t g = NULL;         /* owned, destroyed once instantiated */
    cudaGraphExec_t exec = NULL;  /* owned until stored */
    cudaError_t e;
    if (!c->capturing) return fathom_fail(FATHOM_ERR_INTERNAL, "cuda: graph_end without begin");
    c->capturing = 0;
    e = cudaStreamEndCapture(c->stream, &g);
    if (e == cudaSuccess) e = cudaGraphInstantiate(&exec, g, 0);
    if (e != cudaSuccess) {
        cudaGetLastError();
        st = fathom_fail(fathom_cuda_status(e), "cuda: capturing the forward graph failed: %s",
                         cudaGetErrorString(e));
        goto done;
    }
    if (c->err != FATHOM_OK) {
        st = fathom_fail(c->err, "%s", c->err_msg);
        goto done;
    }
    {
        int slot = -1;
        for (int i = 0; i < CUDA_GRAPHS && slot < 0; i++)
            if (c->graphs[i].used && c->graphs[i].key == key) slot = i;
        for (int i = 0; i < CUDA_GRAPHS && slot < 0; i++)
            if (!c->graphs[i].used) slot = i;
        if (slot < 0) slot = (int)(key % CUDA_GRAPHS + CUDA_GRAPHS) % CUDA_GRAPHS;
        if (c->graphs[slot].used) cudaGraphExecDestroy(c->graphs[slot].exec);
        c->graphs[slot].used = 1;
        c->graphs[slot].key = key;
        c->graphs[slot].exec = exec;
        exec = NULL;
    }
done:
    if (exec) cudaGraphExecDestroy(exec);
    if (g) cudaGraphDestroy(g);
    return st;
}

extern "C" fathom_status fathom_cuda_graph_launch(fathom_backend *be, long long key) {
    cuda_ctx *c = cuda_of(be);
    for (int i = 0; i < CUDA_GRAPHS; i++)
        if (c->graphs[i].used && c->graphs[i].key == key) {
            CUDA_CHECK(cudaGraphLaunch(c->graphs[i].exec, c->stream));
            return FATHOM_OK;
        }
    return fathom_fail(FATHOM_ERR_NOT_FOUND, "cuda: no captured graph for key %lld", key);
}

/* ---------------------------------------------------------------- create / destroy */

static fathom_backend_ops make_ops(void) {
    fathom_backend_ops o;
    memset(&o, 0, sizeof o);
    o.name = "cuda";
    o.alloc = cu_alloc;
    o.free = cu_free;
    o.upload = cu_upload;
    o.download = cu_download;
    o.sync = cu_sync;
    o.reserve_scratch = cu_reserve_scratch;
    o.destroy = fathom_cuda_backend_destroy;
    o.host_alloc = fathom_cuda_host_alloc;
    o.host_free = fathom_cuda_host_free;
    o.upload_async = fathom_cuda_upload_async;
    o.download_async = fathom_cuda_download_async;
    o.copy_wait = fathom_cuda_copy_wait;
    o.graph_begin = fathom_cuda_graph_begin;
    o.graph_end = fathom_cuda_graph_end;
    o.graph_launch = fathom_cuda_graph_launch;
    o.graph_reset = fathom_cuda_graph_reset;
    o.load_packed = fathom_cuda_load_packed;
    o.describe = fathom_cuda_describe;
#define FATHOM_OP(name, params) o.name = fathom_cuda_##name;
#include "backend/ops.def"
#undef FATHOM_OP
    return o;
}
static const fathom_backend_ops cuda_ops = make_ops();

extern "C" void fathom_cuda_backend_destroy(fathom_backend *be) {
    if (!be) return;
    cuda_ctx *c = (cuda_ctx *)be->ctx;
    if (c) {
        cudaSetDevice(c->device);
        if (c->stream) cudaStreamSynchronize(c->stream);
        if (c->copy_stream) cudaStreamSynchronize(c->copy_stream);
        graphs_drop(c);
        cuda_qmats_free(be);
        for (int i = 0; i < CUDA_GEMM_PLANS; i++) {
            cuda_gemm_plan *p = &c->plans[i];
            if (!p->used) continue;
            if (p->a) cublasLtMatrixLayoutDestroy(p->a);
            if (p->b) cublasLtMatrixLayoutDestroy(p->b);
            if (p->c) cublasLtMatrixLayoutDestroy(p->c);
            if (p->op) cublasLtMatmulDescDestroy(p->op);
        }
        if (c->scratch) cudaFree(c->scratch);
        if (c->lt_ws) cudaFree(c->lt_ws);
        if (c->lt) cublasLtDestroy(c->lt);
        if (c->copy_done) cudaEventDestroy(c->copy_done);
        if (c->compute_done) cudaEventDestroy(c->compute_done);
        if (c->stream) cudaStreamDestroy(c->stream);
        if (c->copy_stream) cudaStreamDestroy(c->copy_stream);
        free(c);
    }
    free(be);
}

static fathom_status cuda_init(cuda_ctx *c, fathom_backend *be, int device,
                               fathom_precision precision) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice) {
        cudaGetLastError();
        return fathom_fail(FATHOM_ERR_DEVICE, "cuda:%d: no CUDA device found", device);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        int drv = 0;
        cudaDriverGetVersion(&drv);
        if (drv == 0)
            return fathom_fail(FATHOM_ERR_DEVICE, "cuda:%d: no NVIDIA driver found (%s)", device,
                               cudaGetErrorString(e));
        return fathom_fail(FATHOM_ERR_DEVICE, "cuda:%d: cannot use the NVIDIA driver %d.%d: %s",
                           device, drv / 1000, drv % 1000 / 10, cudaGetErrorString(e));
    }
    if (n == 0) return fathom_fail(FATHOM_ERR_DEVICE, "cuda:%d: no CUDA device found", device);
    if (device < 0 || device >= n)
        return fathom_fail(FATHOM_ERR_DEVICE, "cuda:%d: no such device (%d present: cuda:0..%d)",
                           device, n, n - 1);
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    if (prop.major < 8)
        return fathom_fail(FATHOM_ERR_DEVICE,
                           "cuda:%d: %s has compute capability %d.%d; fathom needs 8.0 or newer "
                           "(built for sm_80 and sm_90)",
                           device, prop.name, prop.major, prop.minor);
    CUDA_CHECK(cudaSetDevice(device));
    c->device = device;
    if (precision == FATHOM_PRECISION_DEFAULT)
        precision = prop.major >= 8 ? FATHOM_PRECISION_BF16 : FATHOM_PRECISION_FP16;
    if (precision == FATHOM_PRECISION_BF16 && prop.major < 8)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "cuda:%d: %s has no bf16 tensor cores; use "
                           "--precision fp16 or fp32", device, prop.name);
    c->precision = precision;
    c->compute = precision == FATHOM_PRECISION_FP32   ? CUBLAS_COMPUTE_32F
                 : precision == FATHOM_PRECISION_FP16 ? CUBLAS_COMPUTE_32F_FAST_16F
                                                      : CUBLAS_COMPUTE_32F_FAST_16BF;
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->copy_stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&c->copy_done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&c->compute_done, cudaEventDisableTiming));
    CUBLAS_CHECK(cublasLtCreate(&c->lt));
    void *p = NULL;
    FATHOM_TRY(cu_alloc(be, &p, CUDA_LT_WORKSPACE));
    c->lt_ws = p;
    FATHOM_TRY(cu_alloc(be, &p, CUDA_MIN_SCRATCH));
    c->scratch = (float *)p;
    c->scratch_bytes = CUDA_MIN_SCRATCH;
    return FATHOM_OK;
}

extern "C" fathom_status fathom_cuda_backend_create(int device, fathom_precision precision,
                                                    size_t mem_limit, fathom_backend **out) {
    fathom_status st = FATHOM_OK;
    fathom_backend *be = NULL; /* owned until returned */
    cuda_ctx *c = NULL;        /* owned by be once attached */
    *out = NULL;
    be = (fathom_backend *)calloc(1, sizeof *be);
    c = (cuda_ctx *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return fathom_fail(FATHOM_ERR_NOMEM, "cuda backend: cannot allocate the context");
    }
    be->ops = &cuda_ops;
    be->ctx = c;
    be->kind = FATHOM_DEVICE_CUDA;
    be->threads = 1;
    c->device = device;
    c->mem_limit = mem_limit;
    st = cuda_init(c, be, device, precision);
    if (st != FATHOM_OK) {
        fathom_cuda_backend_destroy(be);
        return st;
    }
    *out = be;
    return FATHOM_OK;
}
