/* module_cuda.c - the one exported symbol of libfathom-cuda.so, and the library services the
 * CUDA backend uses, forwarded to the libfathom that loaded the module.
 *
 * The module is built with hidden visibility: the fathom_fail / fathom_last_error defined
 * here bind inside the module only, so a message the backend records lands in libfathom's
 * thread-local buffer (the host's), where fathom_last_error() finds it. */
#include <stdarg.h>
#include <stdio.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/module.h"
#include "core/status.h"

static const fathom_backend_host *host; /* borrowed from libfathom, set at entry */

fathom_status fathom_fail(fathom_status s, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return host->fail(s, "%s", msg);
}

const char *fathom_last_error(void) { return host->last_error(); }

static const fathom_backend_module cuda_module = {
    .abi = FATHOM_BACKEND_ABI,
    .name = "cuda",
    .device_count = fathom_cuda_devices,
    .create = fathom_cuda_backend_create,
};

__attribute__((visibility("default"))) const fathom_backend_module *
fathom_backend_module_entry(const fathom_backend_host *h) {
    if (!h || h->abi != FATHOM_BACKEND_ABI || !h->fail || !h->last_error) return NULL;
    host = h;
    return &cuda_module;
}
