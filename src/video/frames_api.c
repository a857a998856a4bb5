/* frames_api.c - the public frame reader (fathom_frames_*, fathom.h) over video_reader: the
 * reader's frames without its libav types, timestamps in seconds. */
#include <stdlib.h>

#include "core/status.h"
#include "video/video_reader.h"

struct fathom_frames {
    fathom_video_reader *reader; /* owned */
};

fathom_status fathom_frames_open(const char *url, int64_t max_frames, fathom_frames **out)
{
    if (!out || !url || max_frames < 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_frames_open: %s",
                           !out || !url ? "NULL argument" : "max_frames < 0");
    *out = NULL;
    fathom_frames *f = calloc(1, sizeof *f); /* owned by *out on success */
    if (!f) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", url);
    fathom_video_reader_opts o = fathom_video_reader_default_opts();
    o.max_frames = max_frames;
    fathom_status s = fathom_video_reader_open(url, &o, &f->reader);
    if (s != FATHOM_OK) {
        free(f);
        return s;
    }
    *out = f;
    return FATHOM_OK;
}

fathom_status fathom_frames_next(fathom_frames *f, fathom_frame *frame, int *got)
{
    if (!f || !frame || !got) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_frames_next: NULL argument");
    *got = 0;
    fathom_video_frame vf;
    FATHOM_TRY(fathom_video_reader_next(f->reader, &vf, got));
    if (!*got) return FATHOM_OK;
    const fathom_video_info *info = fathom_video_reader_info(f->reader);
    int64_t us = fathom_video_ts_us(vf.pts, info->time_base);
    *frame = (fathom_frame){.rgb = vf.rgb, .width = vf.width, .height = vf.height,
                            .stride = vf.stride, .index = vf.index,
                            .time_s = us == AV_NOPTS_VALUE ? -1.0 : us / 1e6};
    return FATHOM_OK;
}

void fathom_frames_free(fathom_frames **f)
{
    if (!f || !*f) return;
    fathom_video_reader_free(&(*f)->reader);
    free(*f);
    *f = NULL;
}
