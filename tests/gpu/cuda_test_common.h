/* cuda_test_common.h - shared helpers of the CUDA tests: SKIP without a CUDA build or device,
 * device buffers from host data, downloads. Included by tests/gpu/test_cuda_*.c only. */
#ifndef FATHOM_TESTS_GPU_CUDA_TEST_COMMON_H
#define FATHOM_TESTS_GPU_CUDA_TEST_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/status.h"
#include "test_util.h"

#include "backend/module.h"
#ifdef CT_LINKED_CUDA
/* this test links the CUDA backend's objects (CMakeLists.txt) instead of loading the module */
#include "backend/cuda/cuda_backend.h"
#define ct_device_count fathom_cuda_devices
#define ct_create fathom_cuda_backend_create
#else
#define ct_device_count fathom_cuda_device_count
#define ct_create fathom_backend_cuda_create
#endif

/* Exit 77 unless this is a CUDA build on a machine with a CUDA device. */
static inline void ct_require_device(void) {
#ifndef FATHOM_HAVE_CUDA
    printf("SKIP: built without CUDA\n");
    exit(77);
#else
    if (ct_device_count() <= 0) {
        printf("SKIP: no CUDA device\n");
        exit(77);
    }
#endif
}

static inline fathom_backend *ct_backend(fathom_precision p) {
    fathom_backend *be = NULL;
    if (ct_create(0, p, 0, &be) != FATHOM_OK) {
        fprintf(stderr, "cuda backend: %s\n", fathom_last_error());
        return NULL;
    }
    return be;
}

/* Device copy of n floats of host (NaN-filled when host is NULL: ops must write everything). */
static inline float *ct_dev(fathom_backend *be, const float *host, size_t n) {
    void *d = NULL;
    if (be->ops->alloc(be, &d, n * sizeof(float)) != FATHOM_OK) return NULL;
    if (host) {
        if (be->ops->upload(be, d, host, n * sizeof(float)) != FATHOM_OK) return NULL;
    } else {
        float *nan = malloc(n * sizeof(float) + 1);
        if (!nan) return NULL;
        for (size_t i = 0; i < n; i++) nan[i] = NAN;
        fathom_status s = be->ops->upload(be, d, nan, n * sizeof(float));
        free(nan);
        if (s != FATHOM_OK) return NULL;
    }
    return d;
}

/* Host copy (malloc'd) of n floats at d, after the stream finished; NULL on failure. */
static inline float *ct_get(fathom_backend *be, const float *d, size_t n) {
    float *h = malloc(n * sizeof(float) + 1);
    if (!h) return NULL;
    if (be->ops->sync(be) != FATHOM_OK ||
        be->ops->download(be, h, d, n * sizeof(float)) != FATHOM_OK) {
        fprintf(stderr, "cuda: %s\n", fathom_last_error());
        free(h);
        return NULL;
    }
    return h;
}

static inline void ct_free(fathom_backend *be, void *d, size_t n_floats) {
    be->ops->free(be, d, n_floats * sizeof(float));
}

#endif
