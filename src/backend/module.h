/* module.h - the ABI between libfathom and a loadable backend module (libfathom-cuda.so).
 *
 * A device backend whose libraries are heavy (CUDA: cudart, cuBLASLt, ~240 MB resident) is
 * built as a module that libfathom dlopens on the first request for that device
 * (backend/loader.c), so CPU-only runs never map those libraries. The module exports one
 * symbol, FATHOM_BACKEND_MODULE_ENTRY, which receives the library's services and returns the
 * module's table. Bump FATHOM_BACKEND_ABI whenever this file, backend.h's op table or
 * ops.def change: the loader refuses a module built against another ABI. */
#ifndef FATHOM_BACKEND_MODULE_H
#define FATHOM_BACKEND_MODULE_H

#include <stddef.h>

#include "backend/backend.h"

#define FATHOM_BACKEND_ABI 8
#define FATHOM_BACKEND_MODULE_ENTRY "fathom_backend_module_entry"
#define FATHOM_CUDA_MODULE_FILE "libfathom-cuda.so"

/* What libfathom lends the module: its error recording, so a message set inside the module is
 * the one fathom_last_error() returns. */
typedef struct fathom_backend_host {
    int abi;
    fathom_status (*fail)(fathom_status s, const char *fmt, ...);
    const char *(*last_error)(void);
} fathom_backend_host;

typedef struct fathom_backend_module {
    int abi;
    const char *name; /* "cuda" */
    int (*device_count)(void);
    fathom_status (*create)(int device, fathom_precision precision, size_t mem_limit,
                            fathom_backend **out);
} fathom_backend_module;

typedef const fathom_backend_module *(*fathom_backend_module_entry_fn)(
    const fathom_backend_host *host);

/* Loads the CUDA module once (thread-safe) and returns its table, or NULL with the reason
 * recorded (fathom_last_error). */
const fathom_backend_module *fathom_cuda_module(void);

/* Number of usable CUDA devices: 0 when the module, the driver or a device is missing. Loads
 * the module (and so the CUDA libraries). */
int fathom_cuda_device_count(void);

#endif
