/* log.c - the single log callback; messages are formatted per call, so it sees whole lines. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static fathom_log_fn log_fn; /* borrowed; NULL = silent */
static void *log_user;

void fathom_log_set_callback(fathom_log_fn fn, void *user) {
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_lock);
}

void fathom_log(fathom_log_level level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(msg); /* one line: the callback adds its own newline */
    while (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0';
    pthread_mutex_lock(&log_lock);
    if (log_fn) log_fn(log_user, level, msg);
    pthread_mutex_unlock(&log_lock);
}
