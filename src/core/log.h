/* log.h - levelled, thread-safe logging through one pluggable callback.
 *
 * Library code may log notes (never errors meant for the user: those are statuses); by default
 * nothing is printed. The application installs a callback with fathom_log_set_callback
 * (fathom.h); the CLI prints warnings on stderr. */
#ifndef FATHOM_CORE_LOG_H
#define FATHOM_CORE_LOG_H

#include "fathom.h" /* fathom_log_level, fathom_log_fn, fathom_log_set_callback */

void fathom_log(fathom_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
