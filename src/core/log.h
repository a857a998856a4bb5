/* log.h - levelled, thread-safe logging through one pluggable sink.
 *
 * Library code may log progress notes (never errors meant for the user: those are statuses);
 * by default nothing is printed. The CLI installs a sink that writes to stderr. */
#ifndef FATHOM_CORE_LOG_H
#define FATHOM_CORE_LOG_H

typedef enum { FATHOM_LOG_DEBUG, FATHOM_LOG_INFO, FATHOM_LOG_WARN } fathom_log_level;
typedef void (*fathom_log_sink)(void *user, fathom_log_level level, const char *msg);

void fathom_log_set_sink(fathom_log_sink sink, void *user);
void fathom_log(fathom_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
