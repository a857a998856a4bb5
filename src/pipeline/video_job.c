/* video_job.c - a video run: reader + outputs + the pipeline built around them (video_job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "media/atomic_file.h"
#include "pipeline/naming.h"
#include "pipeline/pipeline.h"
#include "pipeline/video_priv.h"

void fathom_video_job_ref(fathom_video_job *job) { atomic_fetch_add(&job->refs, 1); }

void fathom_video_job_unref(fathom_video_job *job) {
    if (!job || atomic_fetch_sub(&job->refs, 1) != 1) return;
    fathom_video_writer_free(&job->writer); /* unfinished: stays under its partial name */
    fathom_video_npz_free(&job->npz);       /* unfinished: its temporary files are removed */
    fathom_video_reader_free(&job->reader);
    pthread_mutex_destroy(&job->mu);
    free(job->meta);
    free(job->input);
    free(job->stem);
    free(job->outdir);
    free(job);
}

void fathom_video_job_release(fathom_video_job **job) {
    if (!job || !*job) return;
    fathom_video_job_unref(*job);
    *job = NULL;
}

fathom_status fathom_video_meta_push(fathom_video_job *job, const video_meta *m) {
    fathom_status s = FATHOM_OK;
    pthread_mutex_lock(&job->mu);
    if (job->meta_count == job->meta_cap) { /* grows to the frames in flight, then stays */
        size_t cap = job->meta_cap ? job->meta_cap * 2 : 64;
        video_meta *nm = malloc(cap * sizeof *nm);
        if (!nm) {
            s = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", job->input);
            goto end;
        }
        for (size_t i = 0; i < job->meta_count; i++)
            nm[i] = job->meta[(job->meta_head + i) % job->meta_cap];
        free(job->meta);
        job->meta = nm;
        job->meta_cap = cap;
        job->meta_head = 0;
    }
    job->meta[(job->meta_head + job->meta_count) % job->meta_cap] = *m;
    job->meta_count++;
end:
    pthread_mutex_unlock(&job->mu);
    return s;
}

int fathom_video_meta_pop(fathom_video_job *job, video_meta *m) {
    int got = 0;
    pthread_mutex_lock(&job->mu);
    if (job->meta_count) {
        *m = job->meta[job->meta_head];
        job->meta_head = (job->meta_head + 1) % job->meta_cap;
        job->meta_count--;
        got = 1;
    }
    pthread_mutex_unlock(&job->mu);
    return got;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Allocate the job, open the reader and the outputs. */
static fathom_status job_open(const fathom_model *m, const fathom_run_params *params,
                              const char *input, const fathom_video_run_opts *opts,
                              fathom_video_job **out) {
    fathom_status s = FATHOM_OK;
    *out = NULL;
    fathom_video_job *job = calloc(1, sizeof *job);
    if (!job) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", input);
    atomic_init(&job->refs, 1);
    atomic_init(&job->source_done, 0);
    pthread_mutex_init(&job->mu, NULL);
    job->opts = *opts;
    job->write = params->write;
    fathom_model_info mi;
    fathom_model_get_info(m, &mi);
    job->write.metric = mi.metric;
    char stem[1024];
    fathom_naming_stem(input, stem, sizeof stem);
    if (!stem[0]) snprintf(stem, sizeof stem, "video");
    job->input = strdup(input);
    job->stem = strdup(stem);
    job->outdir = strdup(params->outdir ? params->outdir : ".");
    if (!job->input || !job->stem || !job->outdir) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", input);
        goto end;
    }
    if (!opts->video_path && !opts->seq_formats && !opts->npz) { /* nothing asked: a video */
        if (snprintf(job->video_path, sizeof job->video_path, "%s/%s_depth.mkv", job->outdir,
                     stem) >= (int)sizeof job->video_path) {
            s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output path too long", job->outdir);
            goto end;
        }
    } else if (opts->video_path) {
        if (snprintf(job->video_path, sizeof job->video_path, "%s", opts->video_path) >=
            (int)sizeof job->video_path) {
            s = fathom_fail(FATHOM_ERR_TOO_LARGE, "--video: path too long");
            goto end;
        }
    }
    job->opts.video_path = job->video_path[0] ? job->video_path : NULL;
    if (job->opts.video_path && exists(job->video_path) &&
        params->existing != FATHOM_EXISTING_OVERWRITE) {
        s = fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (use --overwrite)", input,
                        job->video_path);
        goto end;
    }
    if (opts->seq_formats && params->existing != FATHOM_EXISTING_OVERWRITE) {
        /* a frame sequence from an earlier run is not overwritten frame by frame */
        char rel[1100], first[4096];
        snprintf(rel, sizeof rel, "%s/000000", stem);
        for (unsigned bit = 1; bit <= FATHOM_OUT_EXR; bit <<= 1) {
            if (!(opts->seq_formats & bit)) continue;
            if ((s = fathom_naming_path(job->outdir, rel, opts->seq_formats, bit, first,
                                        sizeof first)) != FATHOM_OK)
                goto end;
            if (exists(first)) {
                s = fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (use --overwrite)", input,
                                first);
                goto end;
            }
        }
    }
    fathom_video_reader_opts ro = opts->read;
    ro.passthrough = job->opts.video_path != NULL;
    if ((s = fathom_video_reader_open(input, &ro, &job->reader)) != FATHOM_OK) goto end;
    const fathom_video_info *vi = fathom_video_reader_info(job->reader);
    if (params->max_pixels && (uint64_t)vi->width * vi->height > params->max_pixels) {
        s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %dx%d frames are over --max-pixels %llu "
                        "(--max-res scales them down)", input, vi->width, vi->height,
                        (unsigned long long)params->max_pixels);
        goto end;
    }
    /* expected frames: the stream's count or its duration x rate, within the limits */
    const AVStream *st = fathom_video_reader_format(job->reader)->streams[vi->stream_index];
    job->total = st->nb_frames > 0 ? st->nb_frames : -1;
    if (job->total < 0 && vi->duration_us > 0 && vi->frame_rate.num > 0)
        job->total = (int64_t)(vi->duration_us / 1e6 * av_q2d(vi->frame_rate) + 0.5);
    if (opts->read.start > 0 || opts->read.end > 0) job->total = -1;
    if (opts->read.max_frames > 0 && (job->total < 0 || job->total > opts->read.max_frames))
        job->total = opts->read.max_frames;
    if (job->opts.video_path) {
        if ((s = fathom_mkdir_parents(job->video_path)) != FATHOM_OK) goto end;
        fathom_video_source_desc d = {vi->time_base, vi->frame_rate,
                                      fathom_video_reader_format(job->reader), vi->stream_index};
        s = fathom_video_writer_open(job->video_path, vi->width, vi->height, &d, &job->opts.enc,
                                     &job->writer);
        if (s != FATHOM_OK) goto end;
    }
    if (opts->npz) {
        if (snprintf(job->npz_path, sizeof job->npz_path, "%s/%s.npz", job->outdir, stem) >=
            (int)sizeof job->npz_path) {
            s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output path too long", job->outdir);
            goto end;
        }
        if ((s = fathom_mkdir_parents(job->npz_path)) != FATHOM_OK ||
            (s = fathom_video_npz_open(job->npz_path, vi->height, vi->width, vi->time_base.num,
                                       vi->time_base.den,
                                       params->existing == FATHOM_EXISTING_OVERWRITE,
                                       &job->npz)) != FATHOM_OK)
            goto end;
    }
end:
    if (s != FATHOM_OK) {
        fathom_video_job_unref(job);
        return s;
    }
    *out = job;
    return FATHOM_OK;
}

fathom_status fathom_video_job_create(const fathom_model *m, const fathom_run_params *params,
                                      const char *input, const fathom_video_run_opts *opts,
                                      fathom_video_job **job_out, fathom_pipeline **pl) {
    *job_out = NULL;
    *pl = NULL;
    if (!m || !params || !input || !opts)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "video: missing model, params or input");
    fathom_video_job *job;
    FATHOM_TRY(job_open(m, params, input, opts, &job));
    fathom_source src;
    fathom_sink sink;
    memset(&src, 0, sizeof src);
    memset(&sink, 0, sizeof sink);
    fathom_status s = fathom_video_source_create(job, &src);
    if (s == FATHOM_OK) s = fathom_video_sink_create(job, &sink);
    if (s != FATHOM_OK) {
        fathom_source_free(&src);
        fathom_sink_free(&sink);
        fathom_video_job_unref(job);
        return s;
    }
    s = fathom_pipeline_create_with(m, params, &src, &sink, pl); /* takes src and sink */
    if (s != FATHOM_OK) {
        fathom_video_job_unref(job);
        return s;
    }
    *job_out = job;
    return FATHOM_OK;
}

void fathom_video_job_get_stats(fathom_video_job *job, fathom_video_job_stats *out) {
    memset(out, 0, sizeof *out);
    fathom_video_stats rs;
    fathom_video_reader_stats(job->reader, &rs);
    out->frames_read = rs.frames;
    out->decode_errors = rs.decode_errors;
    out->truncated = rs.truncated;
    snprintf(out->end_reason, sizeof out->end_reason, "%s", rs.end_reason);
    pthread_mutex_lock(&job->mu);
    out->frames_written = job->frames_written;
    out->frames_failed = job->frames_failed;
    out->complete = job->complete;
    if (job->npz_complete) snprintf(out->npz_path, sizeof out->npz_path, "%s", job->npz_path);
    pthread_mutex_unlock(&job->mu);
    if (job->video_path[0])
        snprintf(out->video_path, sizeof out->video_path, "%s",
                 out->complete || !job->writer ? job->video_path
                                               : fathom_video_writer_partial_path(job->writer));
}

void fathom_video_job_summary(fathom_video_job *job, char *buf, size_t n) {
    fathom_video_job_stats s;
    fathom_video_job_get_stats(job, &s);
    const fathom_video_info *vi = fathom_video_reader_info(job->reader);
    int len = snprintf(buf, n, "%s: %lld frames %dx%d (%s%s%s), %lld written",
                       job->input, (long long)s.frames_read, vi->width, vi->height, vi->codec,
                       vi->rotation == 90 ? ", rotated 90" : vi->rotation == 180 ? ", rotated 180"
                       : vi->rotation == 270 ? ", rotated 270" : "",
                       vi->mirrored ? ", mirrored" : "",
                       (long long)s.frames_written);
    if (len < 0 || (size_t)len >= n) return;
    if (s.frames_failed)
        len += snprintf(buf + len, n - len, ", %lld failed (previous depth repeated)",
                        (long long)s.frames_failed);
    if (len >= 0 && (size_t)len < n && s.decode_errors)
        len += snprintf(buf + len, n - len, ", %lld decode errors (corrupt data skipped)",
                        (long long)s.decode_errors);
    if (len >= 0 && (size_t)len < n && s.truncated)
        len += snprintf(buf + len, n - len, "; input ended early: %s", s.end_reason);
    if (len >= 0 && (size_t)len < n && s.npz_path[0])
        len += snprintf(buf + len, n - len, "\nall frames: %s", s.npz_path);
    if (len >= 0 && (size_t)len < n && s.video_path[0])
        snprintf(buf + len, n - len, s.complete ? "\ndepth video: %s"
                                                : "\ndepth video NOT complete, partial file: %s",
                 s.video_path);
}
