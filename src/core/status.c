/* status.c - status texts and the thread-local detailed error message. */
#include "core/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

static const char *const status_text[FATHOM_STATUS_COUNT] = {
    [FATHOM_OK] = "success",
    [FATHOM_ERR_INVALID_ARG] = "invalid argument",
    [FATHOM_ERR_NOMEM] = "out of memory",
    [FATHOM_ERR_IO] = "input/output error",
    [FATHOM_ERR_NOT_FOUND] = "not found",
    [FATHOM_ERR_FORMAT] = "corrupt or malformed data",
    [FATHOM_ERR_UNSUPPORTED] = "unsupported",
    [FATHOM_ERR_SHAPE] = "shape mismatch",
    [FATHOM_ERR_TOO_LARGE] = "too large",
    [FATHOM_ERR_DEVICE] = "device error",
    [FATHOM_ERR_NETWORK] = "network error",
    [FATHOM_ERR_INTERRUPTED] = "interrupted",
    [FATHOM_ERR_DISK_FULL] = "disk full",
    [FATHOM_ERR_INTERNAL] = "internal error",
};

const char *fathom_strerror(fathom_status s) {
    if ((int)s < 0 || s >= FATHOM_STATUS_COUNT || !status_text[s]) return "unknown status";
    return status_text[s];
}

const char *fathom_last_error(void) { return last_error; }

void fathom_clear_error(void) { last_error[0] = '\0'; }

const char *fathom_version(void) {
#ifdef FATHOM_VERSION
    return FATHOM_VERSION;
#else
    return "unknown";
#endif
}

fathom_status fathom_fail(fathom_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

fathom_status fathom_status_from_errno(int err) {
    switch (err) {
    case 0: return FATHOM_OK;
    case ENOENT: case ENOTDIR: return FATHOM_ERR_NOT_FOUND;
    case ENOMEM: return FATHOM_ERR_NOMEM;
    case ENOSPC: case EDQUOT: return FATHOM_ERR_DISK_FULL;
    case EFBIG: return FATHOM_ERR_TOO_LARGE;
    case EINTR: return FATHOM_ERR_INTERRUPTED;
    case EINVAL: return FATHOM_ERR_INVALID_ARG;
    default: return FATHOM_ERR_IO;
    }
}
