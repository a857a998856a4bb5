/* av_quiet.c - FFmpeg's log level, lowered once (av_quiet.h). */
#include "media/av_quiet.h"

#include <pthread.h>

#include <libavutil/log.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void quiet(void) {
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_QUIET);
}

void fathom_av_quiet(void) {
    pthread_once(&once, quiet);
}
