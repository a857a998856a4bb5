/* status.h - error reporting inside libfathom.
 *
 * Library code returns fathom_status and records a detailed, human message with fathom_fail(),
 * which the CLI shows through fathom_last_error(). The message buffer is thread-local, so
 * concurrent workers never overwrite each other's errors. */
#ifndef FATHOM_CORE_STATUS_H
#define FATHOM_CORE_STATUS_H

#include "fathom.h"

/* Record a message for status s on this thread and return s:
 *     return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s' has %d dims", path, name, n); */
fathom_status fathom_fail(fathom_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Map an errno value to a status (ENOENT -> NOT_FOUND, ENOSPC -> DISK_FULL, ...). */
fathom_status fathom_status_from_errno(int err);

/* Clear this thread's message. */
void fathom_clear_error(void);

/* Propagate a failure: FATHOM_TRY(call) returns the call's status if it is not OK. */
#define FATHOM_TRY(expr)                                   \
    do {                                                   \
        fathom_status fathom_try_s_ = (expr);              \
        if (fathom_try_s_ != FATHOM_OK) return fathom_try_s_; \
    } while (0)

#endif
