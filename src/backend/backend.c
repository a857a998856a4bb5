/* backend.c - backend-independent entry points: freeing by kind, and the "built without CUDA" answer. */
#include <stddef.h>

#include "backend/backend.h"
#include "backend/cpu/backend_cpu.h"
#include "core/status.h"

#ifdef FATHOM_HAVE_CUDA
/* provided by src/backend/cuda */
void fathom_backend_cuda_destroy(fathom_backend *be);
#endif

void fathom_backend_free(fathom_backend **be) {
    if (!be || !*be) return;
    switch ((*be)->kind) {
    case FATHOM_DEVICE_CPU:
        fathom_backend_cpu_destroy(*be);
        break;
    case FATHOM_DEVICE_CUDA:
#ifdef FATHOM_HAVE_CUDA
        fathom_backend_cuda_destroy(*be);
#endif
        break;
    }
    *be = NULL;
}

#ifndef FATHOM_HAVE_CUDA
fathom_status fathom_backend_cuda_create(int device, fathom_precision precision,
                                         size_t mem_limit, fathom_backend **out) {
    if (out) *out = NULL;
    return fathom_fail(FATHOM_ERR_UNSUPPORTED,
                       "CUDA device %d requested, but fathom was built without CUDA", device);
}
#endif
