/* video_source.c - the pipeline source of a video job: one decoded frame per next().
 *
 * Runs on the pipeline's single source thread, which takes a free item before each call, so
 * decoding never runs ahead of the bounded queues. The frame's RGB is copied into the item
 * (the decode pool preprocesses it in parallel and releases it); its timing goes to the job's
 * meta ring for the sink. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "pipeline/video_priv.h"

typedef struct video_source {
    fathom_video_job *job; /* one reference */
} video_source;

static fathom_status vsrc_next(void *self, fathom_item *it, int *done) {
    video_source *vs = self;
    fathom_video_job *job = vs->job;
    fathom_video_frame f;
    int got = 0;
    *done = 0;
    pthread_mutex_lock(&job->mu);
    int stopped = job->write_failed;
    pthread_mutex_unlock(&job->mu);
    if (stopped) { /* an output write failed: no more frames (the sink said which) */
        *done = 1;
        return FATHOM_OK;
    }
    fathom_status s = fathom_video_reader_next(job->reader, &f, &got);
    if (s != FATHOM_OK) return s;
    if (!got) {
        atomic_store(&job->source_done, 1);
        *done = 1;
        return FATHOM_OK;
    }
    char name[64];
    snprintf(name, sizeof name, "#%06" PRId64, f.index);
    FATHOM_TRY(fathom_str_set(&it->rel_out, job->stem));
    /* "<input>#<frame>" names the item in messages and the report */
    size_t li = strlen(job->input), ln = strlen(name);
    char stack[4096];
    if (li + ln + 1 > sizeof stack)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: name too long", job->input);
    memcpy(stack, job->input, li);
    memcpy(stack + li, name, ln + 1);
    FATHOM_TRY(fathom_str_set(&it->source, stack));
    it->kind = FATHOM_ITEM_FRAME;
    const size_t stride = (size_t)f.width * 3;
    const size_t bytes = stride * (size_t)f.height;
    uint8_t *rgb = fathom_alloc(bytes); /* owned by the item: freed by fathom_image_free */
    if (!rgb)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a %dx%d frame", stack, f.width,
                           f.height);
    for (int y = 0; y < f.height; y++) memcpy(rgb + y * stride, f.rgb + y * f.stride, stride);
    it->image.width = f.width;
    it->image.height = f.height;
    it->image.stride = stride;
    it->image.rgb = rgb;
    it->image.src_bits = 8;
    it->image.src_channels = 3;
    it->width = f.width;
    it->height = f.height;
    const fathom_video_info *vi = fathom_video_reader_info(job->reader);
    it->pts = f.pts;
    it->tb_num = vi->time_base.num;
    it->tb_den = vi->time_base.den;
    video_meta m = {it->index, f.index, f.pts, f.duration};
    return fathom_video_meta_push(job, &m);
}

static int64_t vsrc_total(void *self) {
    return ((video_source *)self)->job->total; /* set before the run, read-only after */
}

static void vsrc_free(void *self) {
    video_source *vs = self;
    if (!vs) return;
    fathom_video_job_unref(vs->job);
    free(vs);
}

static const fathom_source_ops k_video_source = {"video", vsrc_next, vsrc_total, vsrc_free};

fathom_status fathom_video_source_create(fathom_video_job *job, fathom_source *out) {
    video_source *vs = calloc(1, sizeof *vs);
    if (!vs) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", job->input);
    fathom_video_job_ref(job);
    vs->job = job;
    out->ops = &k_video_source;
    out->self = vs;
    return FATHOM_OK;
}
