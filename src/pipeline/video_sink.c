/* video_sink.c - the ordered sink of a video job: temporal normalization, depth video, frame
 * sequences (see video_job.h).
 *
 * write() is called one item at a time in index order (the pipeline's reorder buffer). Each
 * frame's depth is copied into a ring of lookahead + 1 frames allocated once; a frame leaves
 * the ring when the temporal normalization has seen enough look-ahead, and is then encoded
 * (with the source's other streams interleaved up to its timestamp) and written as sequence
 * files. finish() drains the ring and completes (renames) the video when the input was read
 * to its end, and builds the --video-npz archive.
 * FATHOM_VNORM_VIDEO (Video Depth Anything): one range for the whole video. Raw outputs (npz,
 * npy, exr) are written as frames come; the frames for the normalized ones (depth video, png
 * sequences) go to a spill file (video_spill.h) and are encoded by finish() with the video's
 * min..max, so memory stays flat. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "media/atomic_file.h"
#include "media/colormap.h"
#include "media/normalize.h"
#include "pipeline/naming.h"
#include "pipeline/video_priv.h"
#include "pipeline/video_spill.h"

#define NORMALIZED_FORMATS (FATHOM_OUT_PNG16 | FATHOM_OUT_PNG8 | FATHOM_OUT_COLOR)
#define RAW_FORMATS (FATHOM_OUT_NPY | FATHOM_OUT_NPZ | FATHOM_OUT_EXR)
/* what emit() writes: frame sequence format bits, plus these */
#define EMIT_VIDEO (1u << 30)
#define EMIT_NPZ (1u << 29)
#define EMIT_ALL (~0u)

static const fathom_output_format k_order[] = {FATHOM_OUT_NPY, FATHOM_OUT_NPZ, FATHOM_OUT_PNG16,
                                               FATHOM_OUT_PNG8, FATHOM_OUT_COLOR, FATHOM_OUT_EXR};

typedef struct pending {
    float *depth;    /* (h, w), owned: one of the ring's buffers */
    video_meta m;
    int failed;      /* the item failed: depth repeats the previous frame */
} pending;

typedef struct video_sink {
    fathom_video_job *job;    /* one reference */
    fathom_tnorm *tn;         /* owned; NULL when no output is normalized */
    pending *ring;            /* owned: cap slots */
    int cap, head, count, pushed;
    int w, h;
    size_t px;
    uint16_t *q16;            /* owned scratch: px */
    uint8_t *q8, *rgb;        /* owned scratch: px, 3 px (colorized video) */
    const uint8_t (*lut)[3];  /* borrowed static table */
    AVPacket *pkt;            /* owned: passthrough packets on their way to the writer */
    int made_dir;
    fathom_video_spill *spill; /* owned, FATHOM_VNORM_VIDEO with normalized outputs only */
} video_sink;

static void vsink_free(void *self) {
    video_sink *s = self;
    if (!s) return;
    for (int i = 0; s->ring && i < s->cap; i++)
        fathom_free_sized(s->ring[i].depth, s->px * sizeof(float));
    free(s->ring);
    fathom_free_sized(s->q16, s->px * sizeof(uint16_t));
    fathom_free_sized(s->q8, s->px);
    fathom_free_sized(s->rgb, s->px * 3);
    fathom_tnorm_free(&s->tn);
    av_packet_free(&s->pkt);
    fathom_video_spill_free(&s->spill);
    fathom_video_job_unref(s->job);
    free(s);
}

/* Hand the writer every passthrough packet up to upto_us. */
static fathom_status pass_packets(video_sink *s, int64_t upto_us) {
    fathom_video_job *job = s->job;
    int si;
    while (fathom_video_reader_pop_packet(job->reader, upto_us, s->pkt, &si))
        FATHOM_TRY(fathom_video_writer_write_packet(job->writer, s->pkt, si));
    return FATHOM_OK;
}

static fathom_status write_sequences(video_sink *s, const pending *p, float lo, float hi,
                                     unsigned which) {
    fathom_video_job *job = s->job;
    const unsigned formats = job->opts.seq_formats;
    char rel[1200], path[4096];
    snprintf(rel, sizeof rel, "%s/%06" PRId64, job->stem, p->m.frame);
    for (size_t i = 0; i < sizeof k_order / sizeof k_order[0]; i++) {
        if (!(formats & which & k_order[i])) continue;
        FATHOM_TRY(fathom_naming_path(job->outdir, rel, formats, k_order[i], path, sizeof path));
        if (!s->made_dir) {
            FATHOM_TRY(fathom_mkdir_parents(path));
            s->made_dir = 1;
        }
        fathom_write_opts o = job->write;
        if ((s->tn || s->spill) && (k_order[i] & NORMALIZED_FORMATS)) {
            o.norm_min = lo;
            o.norm_max = hi;
        }
        fathom_status st = fathom_depth_write(path, k_order[i], p->depth, s->h, s->w, &o);
        if (st != FATHOM_OK) { /* a frame is whole or absent: remove its other formats */
            for (size_t j = 0; j < i; j++)
                if ((formats & which & k_order[j]) &&
                    fathom_naming_path(job->outdir, rel, formats, k_order[j], path,
                                       sizeof path) == FATHOM_OK)
                    remove(path);
            return st;
        }
    }
    return FATHOM_OK;
}

/* Frame p's outputs among `which` (EMIT_* and sequence format bits), normalized with lo..hi.
 * `last`: no output of the frame is left to write, so it counts as written. */
static fathom_status emit_frame(video_sink *s, const pending *p, float lo, float hi,
                                unsigned which, int last) {
    fathom_video_job *job = s->job;
    fathom_status st = FATHOM_OK;
    if (job->writer && (which & EMIT_VIDEO)) {
        const fathom_video_info *vi = fathom_video_reader_info(job->reader);
        st = pass_packets(s, fathom_video_ts_us(p->m.pts, vi->time_base));
        if (st == FATHOM_OK && job->opts.enc.color) {
            fathom_normalize_u8(p->depth, s->px, lo, hi, fathom_norm_flip(&job->write), s->q8);
            fathom_colormap_apply(s->lut, s->q8, s->px, s->rgb);
            st = fathom_video_writer_write_rgb(job->writer, s->rgb, (size_t)s->w * 3, p->m.pts,
                                               p->m.duration);
        } else if (st == FATHOM_OK) {
            fathom_normalize_u16(p->depth, s->px, lo, hi, fathom_norm_flip(&job->write), s->q16);
            st = fathom_video_writer_write_gray16(job->writer, s->q16, p->m.pts, p->m.duration);
        }
    }
    /* every frame is in the npz (its count is the decoded frames'), a failed one repeated */
    if (st == FATHOM_OK && job->npz && (which & EMIT_NPZ))
        st = fathom_video_npz_add(job->npz, p->depth, p->m.pts);
    /* a failed frame has no depth of its own: repeated in the video (timing), not as files */
    if (st == FATHOM_OK && (job->opts.seq_formats & which) && !p->failed)
        st = write_sequences(s, p, lo, hi, which);
    const int64_t frame = p->m.frame;
    if (st != FATHOM_OK) {
        /* this frame's outputs are not whole: the job stops here (frames after it would
         * leave a hole in the sequence and the video) and says which frame failed */
        char msg[512];
        snprintf(msg, sizeof msg, "%s: frame %lld not written: %s", job->input,
                 (long long)frame, fathom_last_error());
        fathom_video_job_write_failed(job, frame, msg);
        return fathom_fail(st, "%s", msg);
    }
    if (!last) return FATHOM_OK;
    pthread_mutex_lock(&job->mu);
    job->frames_written++; /* counted once every output of the frame is written */
    if (p->failed) job->frames_failed++;
    pthread_mutex_unlock(&job->mu);
    return FATHOM_OK;
}

/* The oldest frame leaves the ring with its normalization range; with a spill, only its raw
 * outputs now, the others when finish() has the video's range. */
static fathom_status emit(video_sink *s, float lo, float hi) {
    const pending *p = &s->ring[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    if (!s->spill) return emit_frame(s, p, lo, hi, EMIT_ALL, 1);
    FATHOM_TRY(emit_frame(s, p, lo, hi, EMIT_NPZ | RAW_FORMATS, 0));
    return fathom_video_spill_add(s->spill, p->depth, p->m.frame, p->m.pts, p->m.duration,
                                  p->failed);
}

/* finish() with a spill: the normalized outputs of every frame, with the video's range. */
static fathom_status replay_spill(video_sink *s) {
    float lo, hi;
    FATHOM_TRY(fathom_video_spill_rewind(s->spill, &lo, &hi));
    pending p = {s->ring[0].depth, {0, 0, 0, 0}, 0};
    for (;;) {
        int got = 0;
        FATHOM_TRY(fathom_video_spill_next(s->spill, p.depth, &p.m.frame, &p.m.pts,
                                           &p.m.duration, &p.failed, &got));
        if (!got) return FATHOM_OK;
        FATHOM_TRY(emit_frame(s, &p, lo, hi, EMIT_VIDEO | NORMALIZED_FORMATS, 1));
    }
}

static fathom_status drain(video_sink *s) {
    float lo = 0, hi = 0;
    while (s->count > 0) {
        if (s->tn && !fathom_tnorm_pop(s->tn, &lo, &hi, NULL)) break;
        FATHOM_TRY(emit(s, lo, hi));
    }
    return FATHOM_OK;
}

static fathom_status vsink_write(void *self, fathom_item *it) {
    video_sink *s = self;
    fathom_video_job *job = s->job;
    video_meta m;
    if (!fathom_video_meta_pop(job, &m) || m.index != it->index)
        return fathom_fail(FATHOM_ERR_INTERNAL, "%s: frame %" PRIu64 " reached the video sink "
                           "out of order", it->source.s, it->index);
    pthread_mutex_lock(&job->mu);
    int stopped = job->write_failed;
    int64_t at = job->failed_frame;
    pthread_mutex_unlock(&job->mu);
    if (stopped) /* an earlier frame's write failed: this one is not written either */
        return fathom_fail(FATHOM_ERR_IO, "%s: not written: the video stopped at frame %lld",
                           it->source.s, (long long)at);
    int tail = (s->head + s->count) % s->cap;
    pending *p = &s->ring[tail];
    p->m = m;
    p->failed = !(it->state == FATHOM_ITEM_PENDING && it->width == s->w && it->height == s->h);
    if (!p->failed) {
        memcpy(p->depth, it->depth, s->px * sizeof(float));
    } else if (s->pushed == 0) {
        memset(p->depth, 0, s->px * sizeof(float));
    } else {
        const pending *prev = &s->ring[(tail + s->cap - 1) % s->cap];
        if (prev != p) memcpy(p->depth, prev->depth, s->px * sizeof(float));
    }
    if (s->tn) FATHOM_TRY(fathom_tnorm_push(s->tn, p->depth, s->h, s->w));
    s->count++;
    s->pushed++;
    if (it->state == FATHOM_ITEM_PENDING)
        FATHOM_TRY(fathom_str_set(&it->outputs, job->writer ? job->video_path : job->outdir));
    fathom_status st = drain(s);
    if (st == FATHOM_OK && it->state == FATHOM_ITEM_PENDING) it->state = FATHOM_ITEM_DONE;
    return st;
}

static fathom_status vsink_finish(void *self) {
    video_sink *s = self;
    fathom_video_job *job = s->job;
    if (s->tn) fathom_tnorm_flush(s->tn);
    fathom_status st = drain(s); /* the frames in the ring are done: write them */
    if (st != FATHOM_OK || !atomic_load(&job->source_done))
        return st; /* interrupted: the video stays partial, the npz is not made */
    if (s->spill && (st = replay_spill(s)) != FATHOM_OK) return st;
    if (job->npz && (st = fathom_video_npz_finish(job->npz)) != FATHOM_OK) return st;
    if (job->npz) {
        pthread_mutex_lock(&job->mu);
        job->npz_complete = 1;
        pthread_mutex_unlock(&job->mu);
    }
    if (job->opts.seq_formats) { /* the sequence is whole: --resume skips it from now on */
        char path[4200], text[4300];
        snprintf(path, sizeof path, "%s/" FATHOM_VIDEO_SEQ_DONE, job->seq_dir);
        int n = snprintf(text, sizeof text, "input %s\nframes %lld\n", job->input,
                         (long long)(job->resume_from + job->frames_written));
        if ((st = fathom_mkdir_p(job->seq_dir)) != FATHOM_OK ||
            (st = fathom_atomic_write_file(path, text, (size_t)n)) != FATHOM_OK)
            return st;
    }
    if (!job->writer) return FATHOM_OK;
    st = pass_packets(s, INT64_MAX);
    if (st == FATHOM_OK) st = fathom_video_writer_finish(job->writer);
    if (st == FATHOM_OK) {
        pthread_mutex_lock(&job->mu);
        job->complete = 1;
        pthread_mutex_unlock(&job->mu);
    }
    return st;
}

static const fathom_sink_ops k_video_sink = {"video", 1, NULL, vsink_write, vsink_finish,
                                             vsink_free};

fathom_status fathom_video_sink_create(fathom_video_job *job, fathom_sink *out) {
    fathom_status st = FATHOM_OK;
    video_sink *s = calloc(1, sizeof *s);
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", job->input);
    fathom_video_job_ref(job);
    s->job = job;
    const fathom_video_info *vi = fathom_video_reader_info(job->reader);
    s->w = vi->width;
    s->h = vi->height;
    s->px = (size_t)s->w * s->h;
    int normalized = job->writer || (job->opts.seq_formats & NORMALIZED_FORMATS);
    if (normalized && job->opts.normalize == FATHOM_VNORM_VIDEO) {
        if ((st = fathom_mkdir_p(job->outdir)) != FATHOM_OK ||
            (st = fathom_video_spill_open(job->outdir, s->h, s->w, &s->spill)) != FATHOM_OK)
            goto done;
        s->cap = 1;
    } else if (normalized) {
        fathom_tnorm_opts to = job->opts.tnorm;
        if (job->opts.normalize == FATHOM_VNORM_FRAME) {
            to.decay = 0;
            to.lookahead = 0;
            to.cut_threshold = 0;
        }
        if ((st = fathom_tnorm_create(&to, &s->tn)) != FATHOM_OK) goto done;
        s->cap = to.lookahead + 1;
    } else {
        s->cap = 1;
    }
    s->ring = calloc((size_t)s->cap, sizeof *s->ring);
    s->q16 = fathom_alloc(s->px * sizeof(uint16_t));
    s->q8 = fathom_alloc(s->px);
    s->rgb = fathom_alloc(s->px * 3);
    s->pkt = av_packet_alloc();
    if (!s->ring || !s->q16 || !s->q8 || !s->rgb || !s->pkt) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate the video sink", job->input);
        goto done;
    }
    for (int i = 0; i < s->cap; i++)
        if (!(s->ring[i].depth = fathom_alloc(s->px * sizeof(float)))) {
            st = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate %d depth frames of %dx%d",
                             job->input, s->cap, s->w, s->h);
            goto done;
        }
    s->lut = fathom_colormap_lut(job->write.colormap);
    if (!s->lut) s->lut = fathom_colormap_lut(FATHOM_CMAP_SPECTRAL_R);
done:
    if (st != FATHOM_OK) {
        vsink_free(s);
        return st;
    }
    out->ops = &k_video_sink;
    out->self = s;
    return FATHOM_OK;
}
