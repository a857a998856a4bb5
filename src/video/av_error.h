/* av_error.h - FFmpeg error codes as fathom statuses and text, shared by the video reader,
 * writer and AAC transcoder. */
#ifndef FATHOM_VIDEO_AV_ERROR_H
#define FATHOM_VIDEO_AV_ERROR_H

#include <errno.h>
#include <stddef.h>

#include <libavutil/error.h>

#include "fathom.h"

static inline fathom_status fathom_av_status(int err) {
    if (err == AVERROR(ENOSPC) || err == AVERROR(EDQUOT)) return FATHOM_ERR_DISK_FULL;
    if (err == AVERROR(ENOMEM)) return FATHOM_ERR_NOMEM;
    if (err == AVERROR(EIO) || err == AVERROR(EACCES) || err == AVERROR(EPERM) ||
        err == AVERROR(ENOENT) || err == AVERROR(EROFS))
        return FATHOM_ERR_IO;
    return FATHOM_ERR_INTERNAL;
}

/* The message for err, written into buf (returned, for use inside a format call). */
static inline const char *fathom_av_err(int err, char *buf, size_t n) {
    av_strerror(err, buf, n);
    return buf;
}

#endif
