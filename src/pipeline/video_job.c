/* video_job.c - a video run: reader + outputs + the pipeline built around them (video_job.h). */
#include <glob.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
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
            goto done;
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
done:
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

static void note(fathom_video_job *job, const char *fmt, const char *a, const char *b) {
    size_t len = strlen(job->notes);
    if (len + 2 >= sizeof job->notes) return;
    if (len) job->notes[len++] = '\n';
    if (snprintf(job->notes + len, sizeof job->notes - len, fmt, job->input, a, b) < 0)
        job->notes[len] = '\0';
}

/* Frames 000000, 000001, ... present in every asked sequence format (each file is written
 * under a temporary name and renamed, so a present file is whole). */
static fathom_status count_seq_frames(fathom_video_job *job, int64_t *n) {
    char rel[1200], path[4096];
    for (*n = 0;; (*n)++) {
        snprintf(rel, sizeof rel, "%s/%06lld", job->stem, (long long)*n);
        for (unsigned bit = 1; bit <= FATHOM_OUT_EXR; bit <<= 1) {
            if (!(job->opts.seq_formats & bit)) continue;
            FATHOM_TRY(fathom_naming_path(job->outdir, rel, job->opts.seq_formats, bit, path,
                                          sizeof path));
            if (!exists(path)) return FATHOM_OK;
        }
    }
}

static int same_file(const struct stat *a, const char *path) {
    struct stat b;
    return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* Is `path` (an existing file) inside folder `dir` (which may not exist)? */
static int inside(const char *path, const char *dir) {
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(path, rp) || !realpath(dir, rd)) return 0;
    size_t n = strlen(rd);
    return !strncmp(rp, rd, n) && rp[n] == '/';
}

/* Data safety: no output of the job may be an input of the run (through a symlink, "..", a
 * hard link: compared by device and inode), nor may a frame sequence's folder hold one. */
static fathom_status check_not_input(fathom_video_job *job, const char *path) {
    struct stat in;
    if (stat(path, &in) != 0) return FATHOM_OK; /* missing: the reader says so */
    if ((job->opts.video_path && same_file(&in, job->video_path)) ||
        (job->opts.npz && same_file(&in, job->npz_path)))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: an output of this video would replace "
                           "the input %s; refused (choose another outdir or video_path)", job->input,
                           path);
    if (job->opts.seq_formats && inside(path, job->seq_dir))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: its frame sequence folder %s holds the "
                           "input %s; refused (choose another -o)", job->input, job->seq_dir,
                           path);
    return FATHOM_OK;
}

/* A partial depth video an earlier run left (`<stem>.partial-<pid>.<ext>` of the same path). */
static int partial_exists(const char *video_path) {
    char pat[4200];
    if (fathom_video_partial_name(video_path, pat, sizeof pat - 8) < 0) return 0;
    char *dash = strrchr(pat, '-'); /* ".partial-<pid>.ext": any pid */
    if (!dash) return 0;
    const char *ext = strchr(dash, '.');
    char tail[64];
    snprintf(tail, sizeof tail, "%s", ext ? ext : "");
    snprintf(dash + 1, sizeof pat - (size_t)(dash + 1 - pat), "*%s", tail);
    glob_t g;
    int found = glob(pat, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
    if (found || g.gl_pathv) globfree(&g);
    return found;
}

/* Which outputs to make, and from which frame (--resume), or refuse existing ones. Sets
 * job->opts.video_path (NULL when the video is not made), job->opts.npz, job->resume_from,
 * job->skipped. */
static fathom_status plan_outputs(fathom_video_job *job, const fathom_run_params *params) {
    const int resume = params->existing == FATHOM_EXISTING_RESUME;
    const int overwrite = params->existing == FATHOM_EXISTING_OVERWRITE;
    int work = 0, restart = 0;
    char seq_first[4096] = "";
    if (job->opts.seq_formats) {
        char rel[1100];
        snprintf(rel, sizeof rel, "%s/000000", job->stem);
        for (unsigned bit = 1; bit <= FATHOM_OUT_EXR && !seq_first[0]; bit <<= 1)
            if (job->opts.seq_formats & bit) {
                FATHOM_TRY(fathom_naming_path(job->outdir, rel, job->opts.seq_formats, bit,
                                              seq_first, sizeof seq_first));
                if (!exists(seq_first)) seq_first[0] = '\0';
            }
    }
    if (job->opts.video_path) {
        if (exists(job->video_path) && resume) {
            job->opts.video_path = NULL; /* done by an earlier run */
        } else if (exists(job->video_path) && !overwrite) {
            return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (existing: overwrite or resume)",
                               job->input, job->video_path);
        } else {
            work = 1;
            restart = 1;
            if (resume && partial_exists(job->video_path))
                note(job, "%s: resume: the depth video %s is made again from frame 0 (a "
                          "partial video file cannot be continued)", job->video_path, "");
        }
    }
    if (job->opts.npz) {
        if (exists(job->npz_path) && resume) {
            job->opts.npz = 0;
        } else if (exists(job->npz_path) && !overwrite) {
            return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (existing: overwrite or resume)",
                               job->input, job->npz_path);
        } else {
            work = 1;
            restart = 1;
            if (resume && seq_first[0])
                note(job, "%s: resume: %s is made again from frame 0 (the archive is built "
                          "only when the last frame is in)", job->npz_path, "");
        }
    }
    if (job->opts.seq_formats) {
        char done[4200];
        snprintf(done, sizeof done, "%s/" FATHOM_VIDEO_SEQ_DONE, job->seq_dir);
        if (resume && exists(done)) {
            job->opts.seq_formats = 0;
        } else if (seq_first[0] && !overwrite && !resume) {
            /* a frame sequence from an earlier run is not overwritten frame by frame */
            return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (existing: overwrite or resume)",
                               job->input, seq_first);
        } else {
            work = 1;
            int64_t have = 0;
            if (resume) FATHOM_TRY(count_seq_frames(job, &have));
            if (have > 0 && job->vda) { /* windows and alignment need every earlier frame */
                note(job, "%s: resume: the frames in %s/ are made again from frame 0 (Video "
                          "Depth Anything's windows depend on every earlier frame)%s",
                     job->seq_dir, "");
            } else if (have > 0 && !restart) {
                job->resume_from = have;
                char a[32];
                snprintf(a, sizeof a, "%lld", (long long)have - 1);
                note(job, "%s: resume: frames 0..%s of %s/ exist; continuing after them",
                     a, job->seq_dir);
            } else if (have > 0) {
                note(job, "%s: resume: the frames in %s/ are made again from frame 0 along "
                          "with the outputs above%s", job->seq_dir, "");
            }
        }
    }
    if (!work) job->skipped = 1;
    return FATHOM_OK;
}

/* The job's output folder (OUTDIR/<rel_dir>, never outside OUTDIR), stem and output paths. */
static fathom_status name_outputs(fathom_video_job *job, const fathom_run_params *params,
                                  const char *input, const fathom_video_run_opts *opts) {
    char stem[1024], dir[4096];
    fathom_naming_stem(input, stem, sizeof stem);
    if (!stem[0]) snprintf(stem, sizeof stem, "video");
    snprintf(dir, sizeof dir, "%s", params->outdir ? params->outdir : ".");
    if (opts->rel_dir && opts->rel_dir[0]) {
        char rel[4096], clean[4096] = "";
        snprintf(rel, sizeof rel, "%s/x", opts->rel_dir); /* the folder part of a file path */
        fathom_naming_clean_dir(rel, clean, sizeof clean);
        size_t cl = strlen(clean);
        while (cl > 0 && clean[cl - 1] == '/') clean[--cl] = '\0';
        size_t dl = strlen(dir);
        if (cl && snprintf(dir + dl, sizeof dir - dl, "/%s", clean) >= (int)(sizeof dir - dl))
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output path too long", input);
    }
    job->input = strdup(input);
    job->stem = strdup(stem);
    job->outdir = strdup(dir);
    if (!job->input || !job->stem || !job->outdir)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", input);
    if (!opts->video_path && !opts->seq_formats && !opts->npz) { /* nothing asked: a video */
        if (snprintf(job->video_path, sizeof job->video_path, "%s/%s_depth.mkv", job->outdir,
                     stem) >= (int)sizeof job->video_path)
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output path too long", job->outdir);
    } else if (opts->video_path) {
        if (snprintf(job->video_path, sizeof job->video_path, "%s", opts->video_path) >=
            (int)sizeof job->video_path)
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: the depth video path is too long",
                               input);
    }
    if (snprintf(job->npz_path, sizeof job->npz_path, "%s/%s.npz", job->outdir, stem) >=
            (int)sizeof job->npz_path ||
        snprintf(job->seq_dir, sizeof job->seq_dir, "%s/%s", job->outdir, stem) >=
            (int)sizeof job->seq_dir)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output path too long", job->outdir);
    job->opts.video_path = job->video_path[0] ? job->video_path : NULL;
    job->asked_npz = opts->npz;
    job->asked_seq = opts->seq_formats != 0;
    return FATHOM_OK;
}

/* No output of the job is an earlier video's output or an input of the run. */
static fathom_status check_clashes(fathom_video_job *job, const char *input,
                                   const fathom_video_run_opts *opts) {
    const char *mine[3];
    const int n_mine = fathom_video_job_outputs(job, mine);
    for (int i = 0; i < opts->n_claimed && opts->claimed; i++)
        for (int k = 0; k < n_mine; k++)
            if (!strcmp(opts->claimed[i], mine[k]))
                return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: output %s is also the output of "
                                   "an earlier video of this run (same name); not written, to "
                                   "keep that one (rename one of them)", input, mine[k]);
    FATHOM_TRY(check_not_input(job, input));
    for (int i = 0; i < opts->n_inputs && opts->inputs; i++)
        FATHOM_TRY(check_not_input(job, opts->inputs[i]));
    return FATHOM_OK;
}

/* The reader (from the resume point), and the expected frame count for progress. */
static fathom_status open_reader(fathom_video_job *job, const fathom_run_params *params,
                                 const char *input, const fathom_video_run_opts *opts) {
    fathom_video_reader_opts ro = opts->read;
    ro.passthrough = job->opts.video_path != NULL;
    /* The image rule; the image default (179 MP) is far above any real video, so an unchanged
     * default means the video default (8192x4320), and 0 means no limit. */
    ro.max_pixels = params->max_pixels == FATHOM_DEFAULT_MAX_PIXELS ? 0
                    : params->max_pixels == 0                   ? UINT64_MAX
                                                                : params->max_pixels;
    ro.timeout_s = params->download_timeout_s;
    ro.cancel = opts->cancel;
    ro.skip_frames = job->resume_from;
    FATHOM_TRY(fathom_video_reader_open(input, &ro, &job->reader));
    const fathom_video_info *vi = fathom_video_reader_info(job->reader);
    /* expected frames: the stream's count or its duration x rate, within the limits */
    const AVStream *st = fathom_video_reader_format(job->reader)->streams[vi->stream_index];
    job->total = st->nb_frames > 0 ? st->nb_frames : -1;
    if (job->total < 0 && vi->duration_us > 0 && vi->frame_rate.num > 0)
        job->total = (int64_t)(vi->duration_us / 1e6 * av_q2d(vi->frame_rate) + 0.5);
    if (opts->read.start > 0 || opts->read.end > 0) job->total = -1;
    if (opts->read.max_frames > 0 && (job->total < 0 || job->total > opts->read.max_frames))
        job->total = opts->read.max_frames;
    if (job->total > 0 && job->resume_from > 0)
        job->total = job->total > job->resume_from ? job->total - job->resume_from : 0;
    return FATHOM_OK;
}

/* The depth video writer and the npz archive, as asked. */
static fathom_status open_outputs(fathom_video_job *job, const fathom_run_params *params) {
    const fathom_video_info *vi = fathom_video_reader_info(job->reader);
    if (job->opts.video_path) {
        FATHOM_TRY(fathom_mkdir_parents(job->video_path));
        fathom_video_source_desc d = {vi->time_base, vi->frame_rate,
                                      fathom_video_reader_format(job->reader), vi->stream_index};
        FATHOM_TRY(fathom_video_writer_open(job->video_path, vi->width, vi->height, &d,
                                            &job->opts.enc, &job->writer));
    }
    if (job->opts.npz) {
        FATHOM_TRY(fathom_mkdir_parents(job->npz_path));
        FATHOM_TRY(fathom_video_npz_open(job->npz_path, vi->height, vi->width, vi->time_base.num,
                                         vi->time_base.den,
                                         params->existing != FATHOM_EXISTING_ERROR, &job->npz));
    }
    return FATHOM_OK;
}

/* Allocate the job, open the reader and the outputs. */
static fathom_status job_open(const fathom_model *m, const fathom_run_params *params,
                              const char *input, const fathom_video_run_opts *opts,
                              fathom_video_job **out) {
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
    job->vda = fathom_model_is_video(m) ? 1 + (params->vda_streaming != 0) : 0;
    if (job->vda) job->opts.normalize = FATHOM_VNORM_VIDEO;
    fathom_status s = name_outputs(job, params, input, opts);
    if (s == FATHOM_OK) s = check_clashes(job, input, opts);
    if (s == FATHOM_OK && params->outdir) { /* leftovers of runs that died here (kill -9) */
        size_t stale = fathom_atomic_clean_stale(params->outdir, 64);
        if (stale)
            fathom_log(FATHOM_LOG_WARN, "%s: removed %zu temporary file%s left by runs that died",
                       params->outdir, stale, stale == 1 ? "" : "s");
    }
    if (s == FATHOM_OK) s = plan_outputs(job, params);
    if (s == FATHOM_OK && !job->skipped) s = open_reader(job, params, input, opts);
    if (s == FATHOM_OK && !job->skipped) s = open_outputs(job, params);
    if (s != FATHOM_OK) {
        fathom_video_job_unref(job);
        return s;
    }
    *out = job;
    return FATHOM_OK;
}

void fathom_video_job_write_failed(fathom_video_job *job, int64_t frame, const char *msg) {
    pthread_mutex_lock(&job->mu);
    if (!job->write_failed) {
        job->write_failed = 1;
        job->failed_frame = frame;
        snprintf(job->write_error, sizeof job->write_error, "%s", msg);
    }
    pthread_mutex_unlock(&job->mu);
}

int fathom_video_job_outputs(const fathom_video_job *job, const char *out[3]) {
    int n = 0;
    if (job->video_path[0]) out[n++] = job->video_path;
    if (job->asked_npz) out[n++] = job->npz_path;
    if (job->asked_seq) out[n++] = job->seq_dir;
    return n;
}

int fathom_video_job_skipped(const fathom_video_job *job) { return job->skipped; }
const char *fathom_video_job_notes(const fathom_video_job *job) { return job->notes; }

fathom_status fathom_video_job_create(const fathom_model *m, const fathom_run_params *params,
                                      const char *input, const fathom_video_run_opts *opts,
                                      fathom_video_job **job_out, fathom_pipeline **pl) {
    *job_out = NULL;
    *pl = NULL;
    if (!m || !params || !input || !opts)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "video: missing model, params or input");
    fathom_video_job *job;
    FATHOM_TRY(job_open(m, params, input, opts, &job));
    if (job->skipped) { /* --resume: every output is complete */
        *job_out = job;
        return FATHOM_OK;
    }
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
    s = fathom_pipeline_create_lent(m, params, opts->engines, opts->vda_keep, &src, &sink,
                                    pl); /* takes src, sink */
    if (s != FATHOM_OK) {
        fathom_video_job_unref(job);
        return s;
    }
    /* the pipeline's stop (Ctrl-C, a fatal error) also interrupts a read that blocks */
    fathom_video_reader_add_cancel(job->reader, &(*pl)->stop);
    *job_out = job;
    return FATHOM_OK;
}

void fathom_video_job_get_stats(fathom_video_job *job, fathom_video_job_stats *out) {
    memset(out, 0, sizeof *out);
    if (!job->reader) return; /* skipped: nothing was read */
    fathom_video_stats rs;
    fathom_video_reader_stats(job->reader, &rs);
    out->frames_read = rs.frames;
    out->decode_errors = rs.decode_errors;
    out->truncated = rs.truncated;
    out->ts_jumps = rs.ts_jumps;
    snprintf(out->end_reason, sizeof out->end_reason, "%s", rs.end_reason);
    pthread_mutex_lock(&job->mu);
    out->frames_written = job->frames_written;
    out->frames_failed = job->frames_failed;
    /* a depth video an earlier run finished (--resume) is complete too */
    out->complete = job->complete || (job->video_path[0] && !job->opts.video_path);
    out->write_failed = job->write_failed;
    out->resumed_from = job->resume_from;
    if (job->npz_complete) snprintf(out->npz_path, sizeof out->npz_path, "%s", job->npz_path);
    pthread_mutex_unlock(&job->mu);
    if (job->video_path[0])
        snprintf(out->video_path, sizeof out->video_path, "%s",
                 out->complete || !job->writer ? job->video_path
                                               : fathom_video_writer_partial_path(job->writer));
}

void fathom_video_job_summary(fathom_video_job *job, char *buf, size_t n) {
    fathom_video_job_stats s;
    if (job->skipped) {
        snprintf(buf, n, "%s: skipped (resume: its outputs are complete)", job->input);
        return;
    }
    fathom_video_job_get_stats(job, &s);
    const fathom_video_info *vi = fathom_video_reader_info(job->reader);
    char from[64] = "";
    if (s.resumed_from)
        snprintf(from, sizeof from, " (frames before %lld by an earlier run)",
                 (long long)s.resumed_from);
    int len = snprintf(buf, n, "%s: %lld frames %dx%d (%s%s%s), %lld written%s",
                       job->input, (long long)s.frames_read, vi->width, vi->height, vi->codec,
                       vi->rotation == 90 ? ", rotated 90" : vi->rotation == 180 ? ", rotated 180"
                       : vi->rotation == 270 ? ", rotated 270" : "",
                       vi->mirrored ? ", mirrored" : "",
                       (long long)s.frames_written, from);
    if (len < 0 || (size_t)len >= n) return;
    if (job->vda)
        len += snprintf(buf + len, n - len, " through Video Depth Anything (%s)",
                        job->vda == 2 ? "streaming" : "offline");
    if (len < 0 || (size_t)len >= n) return;
    if (s.frames_failed)
        len += snprintf(buf + len, n - len, ", %lld failed (previous depth repeated)",
                        (long long)s.frames_failed);
    if (len >= 0 && (size_t)len < n && s.decode_errors)
        len += snprintf(buf + len, n - len, ", %lld decode errors (corrupt data skipped)",
                        (long long)s.decode_errors);
    if (len >= 0 && (size_t)len < n && s.write_failed) {
        pthread_mutex_lock(&job->mu);
        len += snprintf(buf + len, n - len, "; stopped: %s", job->write_error);
        pthread_mutex_unlock(&job->mu);
    }
    if (len >= 0 && (size_t)len < n && s.ts_jumps)
        len += snprintf(buf + len, n - len, ", %lld backwards timestamp jumps smoothed over",
                        (long long)s.ts_jumps);
    if (len >= 0 && (size_t)len < n && s.truncated)
        len += snprintf(buf + len, n - len, "; input ended early: %s", s.end_reason);
    if (len >= 0 && (size_t)len < n && s.npz_path[0])
        len += snprintf(buf + len, n - len, "\nall frames: %s", s.npz_path);
    if (len >= 0 && (size_t)len < n && s.video_path[0])
        snprintf(buf + len, n - len, s.complete ? "\ndepth video: %s"
                                                : "\ndepth video NOT complete, partial file: %s",
                 s.video_path);
}
