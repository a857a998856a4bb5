/* chunk_job.c - plan, run chunks on one worker per device, merge (see chunk_job.h). */
#include "cluster/chunk_job.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/chunk_manifest.h"
#include "cluster/chunk_plan.h"
#include "core/log.h"
#include "core/status.h"
#include "media/atomic_file.h"
#include "pipeline/naming.h"
#include "pipeline/video_priv.h"

enum { PENDING = 0, RUNNING, DONE, FAILED };

typedef struct runner {
    const fathom_model *model;
    const fathom_run_params *params;
    const fathom_video_run_opts *vo;
    const char *input, *stem, *workdir, *manifest_path;
    fathom_chunk_manifest *man;     /* borrowed */
    fathom_chunk_ctx *ctx;          /* borrowed: the timeline */
    const atomic_int *cancel;
    pthread_mutex_t mu;             /* everything below, and man->done / merged */
    pthread_cond_t cv;              /* a chunk is done (the merge thread waits on it) */
    int *state, *attempts;          /* owned: per chunk */
    fathom_pipeline *running[FATHOM_MAX_DEVICES]; /* borrowed: what a cancel must stop */
    int stop;                       /* a chunk failed twice, the manifest failed, or cancel */
    fathom_status err;
    char err_msg[1400];
    int ran, retried;
    int live;                       /* workers not finished (a failed chunk waits for another) */
    atomic_int workers_left;
} runner;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void set_err(runner *r, fathom_status s, const char *msg) {
    if (r->err == FATHOM_OK) {
        r->err = s;
        snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
    }
    r->stop = 1;
}

static void publish(runner *r, int dev, fathom_pipeline *pl) {
    pthread_mutex_lock(&r->mu);
    r->running[dev] = pl;
    pthread_mutex_unlock(&r->mu);
}

typedef struct worker_arg {
    runner *r;
    int dev;
    int ahead; /* the answer to feed_ask */
} worker_arg;

/* Register the running pipeline of a worker (NULL when done); 1 when it must not start. */
static int on_pipeline(void *user, fathom_pipeline *pl) {
    worker_arg *a = user;
    publish(a->r, a->dev, pl);
    pthread_mutex_lock(&a->r->mu);
    int stop = pl && (a->r->stop || (a->r->cancel && atomic_load(a->r->cancel)));
    pthread_mutex_unlock(&a->r->mu);
    return stop;
}

static int any_running(const runner *r) {
    for (int k = 0; k < r->man->n; k++)
        if (r->state[k] == RUNNING) return 1;
    return 0;
}

/* Under mu: the next chunk for worker dev (-1: none). A chunk that failed on dev goes to
 * another worker: dev takes it only when it is the only worker left. With wait, a worker
 * without a chunk waits while one runs (it may fail and come back) or one waits for another
 * worker; without, -1 means "none now". */
static int pick(runner *r, int dev, int wait) {
    for (;;) {
        int i = -1, theirs = 0;
        for (int k = 0; !r->stop && k < r->man->n && i < 0; k++) {
            if (r->state[k] != PENDING) continue;
            if (r->ctx->failed_on[k] != dev || r->live == 1) i = k;
            else theirs = 1;
        }
        if (i >= 0) {
            r->state[i] = RUNNING, r->attempts[i]++;
            fathom_chunk_ctx_started(r->ctx, i, dev);
            return i;
        }
        if (!wait || r->stop || (!theirs && !any_running(r))) return -1;
        pthread_cond_wait(&r->cv, &r->mu);
    }
}

/* Under mu: chunk i ended on worker dev with s; *save when the manifest must say it is done
 * (save_done, after mu is released). */
static void record(runner *r, int i, fathom_status s, const fathom_chunk_times *t, int dev,
                   const char *msg, int *save) {
    fathom_chunk_ctx_ended(r->ctx, i, t, s == FATHOM_OK);
    if (s == FATHOM_OK) {
        r->state[i] = DONE;
        r->man->done[i] = 1;
        r->ran++;
        *save = 1;
    } else if (s == FATHOM_ERR_INTERRUPTED || (r->cancel && atomic_load(r->cancel))) {
        r->state[i] = PENDING;
        r->stop = 1;
    } else if (r->attempts[i] < 2) {
        r->state[i] = PENDING; /* once more, on another worker when there is one */
        r->ctx->failed_on[i] = dev;
        r->retried++;
    } else {
        r->state[i] = FAILED;
        char full[1200];
        snprintf(full, sizeof full, "chunk %d failed twice (engines %d and %d): %s", i,
                 r->ctx->failed_on[i], dev, msg);
        set_err(r, s, full);
        for (int d = 0; d < FATHOM_MAX_DEVICES; d++)
            if (r->running[d]) fathom_pipeline_cancel(r->running[d]);
    }
    pthread_cond_broadcast(&r->cv); /* the merge thread, and workers waiting in pick */
}

/* The manifest says what is done; written outside the lock so the other workers and the
 * merge go on meanwhile. */
static void save_done(runner *r) {
    fathom_status ms = fathom_chunk_manifest_save_unlocked(r->man, r->manifest_path, &r->mu,
                                                           &r->ctx->save_mu);
    if (ms != FATHOM_OK) {
        pthread_mutex_lock(&r->mu);
        set_err(r, ms, fathom_last_error());
        pthread_mutex_unlock(&r->mu);
    }
}

/* The local chunk table as a worker's feed (chunk_worker.c). */
static int feed_take(void *self, int done, fathom_status s, const fathom_chunk_times *t,
                     const char *msg, int want) {
    worker_arg *a = self;
    runner *r = a->r;
    int save = 0, i = -1;
    pthread_mutex_lock(&r->mu);
    if (done >= 0) {
        r->ctx->engines_created += t ? t->engines : 0;
        record(r, done, s, t, a->dev, msg, &save);
    }
    if (want) i = pick(r, a->dev, 1);
    pthread_mutex_unlock(&r->mu);
    if (save) save_done(r);
    return i;
}

static void feed_ask(void *self) {
    worker_arg *a = self;
    pthread_mutex_lock(&a->r->mu);
    a->ahead = pick(a->r, a->dev, 0);
    pthread_mutex_unlock(&a->r->mu);
}

static int feed_poll(void *self, int *i) {
    *i = ((worker_arg *)self)->ahead;
    return 1;
}

static int feed_wait(void *self) { return ((worker_arg *)self)->ahead; }

static void *worker(void *arg) {
    worker_arg *wa = arg;
    runner *r = wa->r;
    fathom_run_params p = *r->params; /* this worker's device */
    p.n_devices = 1;
    p.devices[0] = r->params->devices[wa->dev];
    fathom_chunk_engines ce; /* this worker's engine, kept across its chunks */
    memset(&ce, 0, sizeof ce);
    fathom_chunk_feed feed = {feed_take, feed_ask, feed_poll, feed_wait, wa};
    fathom_chunk_hooks hooks = {on_pipeline, NULL, wa};
    fathom_chunk_worker_loop(r->model, &p, r->vo, r->input, r->workdir, r->man->chunks, &ce,
                             &feed, &hooks);
    fathom_chunk_engines_clear(&ce);
    pthread_mutex_lock(&r->mu);
    r->live--; /* a chunk that failed here may now go back to a worker that is left */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_sub(&r->workers_left, 1);
    return NULL;
}

/* Output paths the merge will write, checked before any chunk runs (nothing is lost later):
 * not an earlier video's of this run (same name: refused as a single pass refuses it), and
 * not there already unless --overwrite. */
static fathom_status check_outputs(const fathom_run_params *p, const fathom_video_run_opts *vo,
                                   const char *input, const char *stem) {
    char paths[3][4200];
    const char *what[3];
    int n = 0;
    if (vo->video_path || (!vo->seq_formats && !vo->npz)) {
        if (vo->video_path) snprintf(paths[n], sizeof paths[n], "%s", vo->video_path);
        else snprintf(paths[n], sizeof paths[n], "%s/%s_depth.mkv", p->outdir, stem);
        what[n++] = "output";
    }
    if (vo->npz)
        snprintf(paths[n], sizeof paths[n], "%s/%s.npz", p->outdir, stem), what[n++] = "output";
    if (vo->seq_formats)
        snprintf(paths[n], sizeof paths[n], "%s/%s", p->outdir, stem), what[n++] = "output folder";
    for (int k = 0; k < n; k++) {
        for (int i = 0; vo->claimed && i < vo->n_claimed; i++)
            if (!strcmp(vo->claimed[i], paths[k]))
                return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: output %s is also the output of an "
                                   "earlier video of this run (same name); not written, to keep "
                                   "that one (rename one of them)", input, paths[k]);
        struct stat st;
        char done[13000]; /* a frame sequence left unfinished by a killed merge: resume rewrites it */
        snprintf(done, sizeof done, "%s/" FATHOM_VIDEO_SEQ_DONE, paths[k]);
        if (p->existing == FATHOM_EXISTING_RESUME && !strcmp(what[k], "output folder") &&
            stat(done, &st) != 0)
            continue;
        if (p->existing != FATHOM_EXISTING_OVERWRITE && stat(paths[k], &st) == 0)
            return fathom_fail(FATHOM_ERR_IO, "%s: %s %s exists (existing: overwrite)", input, what[k],
                               paths[k]);
    }
    return FATHOM_OK;
}

/* OUTDIR/.fathom-chunks/<file name>.<FNV-1a of the real path>: a/clip.mp4 and b/clip.mp4
 * (or a moved OUTDIR's inputs) never share a folder; the same input always finds its own. */
static void work_folder(const char *outdir, const char *input, char *buf, size_t cap) {
    char real[4096];
    const char *key = realpath(input, real) ? real : input;
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 1099511628211ull;
    const char *name = strrchr(input, '/');
    snprintf(buf, cap, "%s/.fathom-chunks/%s.%08x", outdir, name ? name + 1 : input,
             (unsigned)(h ^ (h >> 32)));
}

int fathom_chunk_auto(int64_t frames, int engines, int overlap) {
    int64_t per = 32 + 8 * (int64_t)(overlap > 0 ? overlap : 0); /* frames a chunk owns, at least */
    int64_t n = 3 * (int64_t)(engines > 0 ? engines : 1);
    if (n > frames / per) n = frames / per;
    return n < 1 ? 1 : (int)n;
}

static void write_report(const char *path, const char *input, const fathom_chunk_ctx *ctx,
                         const int *attempts, const fathom_chunk_follow *f,
                         const fathom_chunk_run_result *res, double seconds) {
    const fathom_chunk_seam *seams = f && f->seams && ctx->man.merged == ctx->man.n ? f->seams : NULL;
    const fathom_chunk_manifest *man = &ctx->man;
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddStringToObject(o, "fathom", fathom_version());
    cJSON_AddStringToObject(o, "input", input);
    cJSON_AddNumberToObject(o, "frames", (double)man->frames);
    cJSON_AddNumberToObject(o, "overlap", man->overlap);
    cJSON *ch = cJSON_AddArrayToObject(o, "chunks");
    for (int i = 0; ch && i < man->n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "first", (double)man->chunks[i].first);
        cJSON_AddNumberToObject(c, "count", (double)man->chunks[i].count);
        cJSON_AddNumberToObject(c, "decode_from", (double)man->chunks[i].decode_from);
        cJSON_AddNumberToObject(c, "attempts", attempts ? attempts[i] : 0);
        cJSON_AddBoolToObject(c, "done", man->done[i] != 0);
        if (ctx->ran_on && ctx->ran_on[i] >= 0) { /* run now: on what, when (s from the start) */
            cJSON_AddNumberToObject(c, "ran_on", ctx->ran_on[i]);
            cJSON_AddNumberToObject(c, "start_s", ctx->t_start[i]);
            cJSON_AddNumberToObject(c, "end_s", ctx->t_end[i]);
            /* its fixed cost: handed out (ahead: while the worker ran the chunk before), the
             * hand-out wait and the open it was exposed to */
            const fathom_chunk_times *tm = &ctx->times[i];
            cJSON_AddNumberToObject(c, "handed_s", ctx->t_handed[i]);
            cJSON_AddNumberToObject(c, "wait_s", tm->wait_s);
            cJSON_AddNumberToObject(c, "open_s", tm->open_s);
            cJSON_AddNumberToObject(c, "first_s", tm->first_s);
            cJSON_AddNumberToObject(c, "finish_s", tm->finish_s);
            cJSON_AddBoolToObject(c, "opened_ahead", tm->ahead != 0);
        }
        if (ctx->failed_on && ctx->failed_on[i] >= 0) /* the engine / rank of a failed try */
            cJSON_AddNumberToObject(c, "failed_on", ctx->failed_on[i]);
        cJSON_AddItemToArray(ch, c);
    }
    cJSON *se = cJSON_AddArrayToObject(o, "seams");
    for (int i = 0; se && seams && i + 1 < man->n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "border", seams[i].border);
        cJSON_AddNumberToObject(c, "overlap_frames", seams[i].frames);
        cJSON_AddNumberToObject(c, "scale", seams[i].scale);
        cJSON_AddNumberToObject(c, "shift", seams[i].shift);
        cJSON_AddNumberToObject(c, "residual", seams[i].residual);
        cJSON_AddItemToArray(se, c);
    }
    cJSON *t = cJSON_AddObjectToObject(o, "totals");
    cJSON_AddNumberToObject(t, "chunks", res->chunks);
    cJSON_AddNumberToObject(t, "reused", res->reused);
    cJSON_AddNumberToObject(t, "ran", res->ran);
    cJSON_AddNumberToObject(t, "retried", res->retried);
    /* engines created, by every worker / rank: one per device that ran chunks (kept across
     * its chunks), more only after a failed chunk (its retry starts from fresh ones) */
    cJSON_AddNumberToObject(t, "engines_created", ctx->engines_created);
    cJSON_AddNumberToObject(t, "frames_merged", (double)res->frames);
    cJSON_AddNumberToObject(t, "elapsed_s", seconds);
    cJSON_AddNumberToObject(t, "plan_s", ctx->plan_s);   /* demux scan, manifest */
    /* the incremental merge: seconds busy merging (beside the compute), and after the last
     * chunk finished (what it adds to the run) */
    double last_end = 0; /* the last chunk run now reported done */
    for (int i = 0; ctx->ran_on && i < man->n; i++)
        if (ctx->ran_on[i] >= 0 && ctx->t_end[i] > last_end) last_end = ctx->t_end[i];
    double tail = f && f->done_at > 0 ? f->done_at - last_end : 0;
    cJSON_AddNumberToObject(t, "merge_s", f ? f->busy_s : 0);
    cJSON_AddNumberToObject(t, "merge_tail_s", tail > 0 ? tail : 0);
    cJSON_AddNumberToObject(t, "merged_before", f ? f->merged_before : 0);
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; outs && i < 3; i++)
        if (res->outputs[i][0]) cJSON_AddItemToArray(outs, cJSON_CreateString(res->outputs[i]));
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (s) {
        if (fathom_atomic_write_file(path, s, strlen(s)) != FATHOM_OK) /* outputs are kept */
            fathom_log(FATHOM_LOG_WARN, "%s", fathom_last_error());
        free(s);
    }
}

fathom_status fathom_chunk_prepare(const fathom_model *m, const fathom_run_params *params,
                                   const char *input, const fathom_video_run_opts *vo,
                                   const fathom_chunk_run_opts *co, fathom_chunk_ctx *ctx) {
    memset(ctx, 0, sizeof *ctx);
    ctx->t0 = now_s();
    if (vo->read.start > 0 || vo->read.end > 0 || vo->read.max_frames > 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: chunked runs take the whole video "
                           "(start, end and max_frames are not supported with them)", input);
    if (!params->outdir) return fathom_fail(FATHOM_ERR_INVALID_ARG, "chunked runs need outdir");
    fathom_model_info mi;
    fathom_model_get_info(m, &mi);
    ctx->metric = mi.metric;
    ctx->video = fathom_model_is_video(m);
    fathom_naming_stem(input, ctx->stem, sizeof ctx->stem);
    if (!ctx->stem[0]) snprintf(ctx->stem, sizeof ctx->stem, "video");
    work_folder(params->outdir, input, ctx->workdir, sizeof ctx->workdir);
    snprintf(ctx->mpath, sizeof ctx->mpath, "%s/manifest.json", ctx->workdir);
    int64_t bytes, mtime;
    FATHOM_TRY(fathom_chunk_input_stamp(input, &bytes, &mtime));
    /* outputs checked before the work folder is touched (a same-named video keeps its own) */
    FATHOM_TRY(check_outputs(params, vo, input, ctx->stem));
    { /* temporaries of a merge that died (kill -9) in the outputs it writes: OUTDIR (the
       * archive) and the frame sequence folder. The chunk jobs clean only their own chunk
       * folders, so nothing else removes these before the resumed merge writes beside them */
        char seq[4200];
        snprintf(seq, sizeof seq, "%s/%s", params->outdir, ctx->stem);
        size_t stale = fathom_atomic_clean_stale(params->outdir, 0) +
                       (vo->seq_formats ? fathom_atomic_clean_stale(seq, 0) : 0);
        if (stale)
            fathom_log(FATHOM_LOG_WARN, "%s: removed %zu temporary file%s left by runs that died",
                       params->outdir, stale, stale == 1 ? "" : "s");
    }
    const int overlap = fathom_chunk_overlap(vo, ctx->metric, ctx->video, co->overlap);
    fathom_chunk_manifest *man = &ctx->man;
    fathom_status s = co->resume ? fathom_chunk_manifest_load(ctx->mpath, man) : FATHOM_ERR_NOT_FOUND;
    if (s != FATHOM_OK && s != FATHOM_ERR_NOT_FOUND) return s;
    if (s == FATHOM_OK) { /* resume: the manifest must describe this input and this plan */
        const char *why = man->input_bytes != bytes || man->input_mtime_ns != mtime
                              ? "the input changed since (size or time)"
                          : man->overlap != overlap ? "it was made with another overlap "
                                                      "or other outputs"
                          : co->n_chunks > 0 && man->n != co->n_chunks && man->n != man->frames
                              ? "it was made with another n_chunks" : NULL;
        if (why) {
            fathom_chunk_ctx_clear(ctx);
            return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: cannot resume from %s: %s; remove "
                               "that folder to start over", input, ctx->mpath, why);
        }
    } else {
        int64_t *pts = NULL, n = 0;
        FATHOM_TRY(fathom_chunk_scan(input, &pts, &n));
        int engines = co->engines > 0 ? co->engines : params->n_devices;
        int n_chunks = co->n_chunks > 0 ? co->n_chunks : fathom_chunk_auto(n, engines, overlap);
        /* automatic chunks: the last one per engine half as long (a shorter tail) */
        s = fathom_chunk_plan_tapered(pts, n, n_chunks, overlap, co->n_chunks > 0 ? 0 : engines,
                                      &man->chunks, &man->n);
        free(pts);
        if (s != FATHOM_OK) {
            char e[512];
            snprintf(e, sizeof e, "%s", fathom_last_error());
            fathom_chunk_ctx_clear(ctx);
            return fathom_fail(s, "%s: %s", input, e);
        }
        snprintf(man->input, sizeof man->input, "%s", input);
        man->input_bytes = bytes, man->input_mtime_ns = mtime, man->frames = n;
        man->overlap = overlap;
        if (!(man->done = calloc((size_t)man->n, sizeof *man->done))) {
            fathom_chunk_ctx_clear(ctx);
            return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
        }
    }
    for (int i = 0; i < man->n; i++) { /* a finished chunk whose result is gone is redone */
        char p[5200];
        struct stat st;
        snprintf(p, sizeof p, "%s/c%05d/%s.npz", ctx->workdir, i, ctx->stem);
        if (man->done[i] && stat(p, &st) != 0) man->done[i] = 0;
    }
    ctx->plan_s = now_s() - ctx->t0;
    ctx->t_start = calloc((size_t)man->n, sizeof *ctx->t_start);
    ctx->t_end = calloc((size_t)man->n, sizeof *ctx->t_end);
    ctx->t_handed = calloc((size_t)man->n, sizeof *ctx->t_handed);
    ctx->times = calloc((size_t)man->n, sizeof *ctx->times);
    ctx->ran_on = malloc((size_t)man->n * sizeof *ctx->ran_on);
    ctx->failed_on = malloc((size_t)man->n * sizeof *ctx->failed_on);
    if (!ctx->t_start || !ctx->t_end || !ctx->t_handed || !ctx->times || !ctx->ran_on ||
        !ctx->failed_on) {
        fathom_chunk_ctx_clear(ctx);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < man->n; i++) ctx->ran_on[i] = ctx->failed_on[i] = -1;
    pthread_mutex_init(&ctx->save_mu, NULL);
    ctx->save_mu_ready = 1;
    /* the plan on disk before any work */
    if ((s = fathom_mkdir_p(ctx->workdir)) != FATHOM_OK ||
        (s = fathom_chunk_manifest_save(man, ctx->mpath)) != FATHOM_OK) {
        fathom_chunk_ctx_clear(ctx);
        return s;
    }
    return FATHOM_OK;
}

void fathom_chunk_ctx_clear(fathom_chunk_ctx *ctx) {
    fathom_chunk_manifest_clear(&ctx->man);
    free(ctx->t_start);
    free(ctx->t_end);
    free(ctx->ran_on);
    free(ctx->t_handed);
    free(ctx->times);
    free(ctx->failed_on);
    ctx->t_start = ctx->t_end = ctx->t_handed = NULL, ctx->ran_on = ctx->failed_on = NULL;
    ctx->times = NULL;
    if (ctx->save_mu_ready) pthread_mutex_destroy(&ctx->save_mu);
    ctx->save_mu_ready = 0;
}

void fathom_chunk_ctx_started(fathom_chunk_ctx *ctx, int i, int who) {
    ctx->t_handed[i] = ctx->t_start[i] = now_s() - ctx->t0, ctx->ran_on[i] = who;
}

void fathom_chunk_ctx_ended(fathom_chunk_ctx *ctx, int i, const fathom_chunk_times *t, int ok) {
    if (!ok) return; /* the timeline is the successful run's */
    ctx->t_end[i] = now_s() - ctx->t0;
    if (!t) return;
    ctx->times[i] = *t;
    /* the run started run_s before it was reported (a chunk opened ahead is handed out
     * before its worker is free) */
    double start = ctx->t_end[i] - t->run_s;
    ctx->t_start[i] = start > ctx->t_handed[i] ? start : ctx->t_handed[i];
}

fathom_status fathom_chunk_finish(fathom_chunk_ctx *ctx, const fathom_run_params *params,
                                  const char *input, const int *attempts,
                                  const fathom_chunk_follow *f, fathom_chunk_run_result *res) {
    fathom_chunk_manifest *man = &ctx->man;
    res->chunks = man->n;
    int n_done = 0;
    for (int i = 0; i < man->n; i++) n_done += man->done[i] != 0;
    fathom_status s = FATHOM_OK;
    if (f->err != FATHOM_OK) {
        s = fathom_fail(f->err, "%s: merge: %s", input, f->err_msg);
    } else if (n_done < man->n || man->merged < man->n) {
        res->cancelled = 1;
        s = fathom_fail(FATHOM_ERR_INTERRUPTED, "%s: interrupted: %d of %d chunks finished, %d "
                        "merged (resume continues from %s)", input, n_done, man->n, man->merged,
                        ctx->mpath);
    }
    if (params->report_path)
        write_report(params->report_path, input, ctx, attempts, f, res, now_s() - ctx->t0);
    return s;
}

fathom_status fathom_chunked_video_run(const fathom_model *m, const fathom_run_params *params,
                                       const char *input, const fathom_video_run_opts *vo,
                                       const fathom_chunk_run_opts *co,
                                       fathom_chunk_run_result *res) {
    memset(res, 0, sizeof *res);
    fathom_chunk_ctx ctx;
    FATHOM_TRY(fathom_chunk_prepare(m, params, input, vo, co, &ctx));
    fathom_chunk_manifest *man = &ctx.man;
    res->chunks = man->n;
    fathom_status s = FATHOM_OK;
    runner r;
    memset(&r, 0, sizeof r);
    r.model = m, r.params = params, r.vo = vo, r.input = input, r.stem = ctx.stem;
    r.workdir = ctx.workdir, r.manifest_path = ctx.mpath, r.man = man, r.cancel = co->cancel;
    r.ctx = &ctx;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    fathom_chunk_follow f;
    memset(&f, 0, sizeof f);
    r.state = calloc((size_t)man->n, sizeof *r.state);
    r.attempts = calloc((size_t)man->n, sizeof *r.attempts);
    if (!r.state || !r.attempts) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < man->n; i++)
        if (man->done[i]) r.state[i] = DONE, res->reused++;
    if ((s = fathom_chunk_follow_start(&f, &ctx, params, input, vo, &r.mu, &r.cv, co->cancel,
                                       res)) != FATHOM_OK)
        goto out;
    int nw = params->n_devices < 1 ? 1 : params->n_devices;
    pthread_t thr[FATHOM_MAX_DEVICES];
    worker_arg wa[FATHOM_MAX_DEVICES];
    int started = 0;
    atomic_init(&r.workers_left, 0);
    r.live = nw;
    for (int w = 0; w < nw; w++) {
        wa[w] = (worker_arg){&r, w, -1};
        atomic_fetch_add(&r.workers_left, 1);
        if (pthread_create(&thr[w], NULL, worker, &wa[w]) != 0) {
            atomic_fetch_sub(&r.workers_left, 1);
            pthread_mutex_lock(&r.mu);
            r.live -= nw - w;
            pthread_cond_broadcast(&r.cv);
            pthread_mutex_unlock(&r.mu);
            break;
        }
        started++;
    }
    if (!started) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "cannot start a chunk worker");
        goto out;
    }
    /* Ctrl-C: stop the running chunks (their archives stay unfinished; the manifest says so) */
    int cancelled = 0;
    while (atomic_load(&r.workers_left) > 0) {
        if (!cancelled && co->cancel && atomic_load(co->cancel)) {
            cancelled = 1;
            pthread_mutex_lock(&r.mu);
            r.stop = 1;
            for (int d = 0; d < FATHOM_MAX_DEVICES; d++)
                if (r.running[d]) fathom_pipeline_cancel(r.running[d]);
            pthread_cond_broadcast(&r.cv); /* workers waiting in pick */
            pthread_mutex_unlock(&r.mu);
        }
        usleep(20000);
    }
    for (int w = 0; w < started; w++) pthread_join(thr[w], NULL);
    fathom_chunk_follow_stop(&f); /* merges what is finished and not yet merged */
    res->ran = r.ran, res->retried = r.retried;
    if (r.err != FATHOM_OK) {
        s = fathom_fail(r.err, "%s: %s", input, r.err_msg);
        if (params->report_path)
            write_report(params->report_path, input, &ctx, r.attempts, &f, res, now_s() - ctx.t0);
        goto out;
    }
    s = fathom_chunk_finish(&ctx, params, input, r.attempts, &f, res);
out:
    fathom_chunk_follow_clear(&f);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    free(r.state);
    free(r.attempts);
    fathom_chunk_ctx_clear(&ctx);
    return s;
}
