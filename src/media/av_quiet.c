/* av_quiet.c - FFmpeg's log level, lowered when the application asks (fathom.h). */
#include <libavutil/log.h>

#include "fathom.h"

void fathom_ffmpeg_quiet(int on) {
    if (on) av_log_set_level(AV_LOG_QUIET);
}
