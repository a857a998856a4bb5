/* device.c - can this device run an engine? The one "auto" probe the CLI and bindings share. */
#include "backend/backend.h"
#include "core/status.h"
#include "fathom.h"

fathom_status fathom_device_probe(fathom_device_kind kind, int index) {
    if (kind == FATHOM_DEVICE_CPU) return FATHOM_OK;
    if (kind != FATHOM_DEVICE_CUDA)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "unknown device kind %d", (int)kind);
    /* A real backend, not just a device count: a driver that lists a device it cannot run
     * (wrong compute capability, out of memory) must answer "no" here. */
    fathom_backend *be = NULL;
    fathom_status st = fathom_backend_cuda_create(index, FATHOM_PRECISION_DEFAULT, 0, &be);
    fathom_backend_free(&be);
    return st;
}

fathom_engine_params fathom_device_auto(int *used_cpu) {
    fathom_engine_params ep = fathom_engine_default_params();
    int cpu = fathom_device_probe(FATHOM_DEVICE_CUDA, 0) != FATHOM_OK;
    ep.device = cpu ? FATHOM_DEVICE_CPU : FATHOM_DEVICE_CUDA;
    ep.device_index = 0;
    if (used_cpu) *used_cpu = cpu;
    return ep;
}
