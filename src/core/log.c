/* log.c - the single log sink; messages are formatted per call, so the sink sees whole lines. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static fathom_log_sink sink_fn; /* borrowed; NULL = silent */
static void *sink_user;

void fathom_log_set_sink(fathom_log_sink sink, void *user) {
    pthread_mutex_lock(&sink_lock);
    sink_fn = sink;
    sink_user = user;
    pthread_mutex_unlock(&sink_lock);
}

void fathom_log(fathom_log_level level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&sink_lock);
    if (sink_fn) sink_fn(sink_user, level, msg);
    pthread_mutex_unlock(&sink_lock);
}
