/* chunk_job.c - plan, run chunks on one worker per device, merge (see chunk_job.h). */
#include "cluster/chunk_job.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/chunk_manifest.h"
#include "cluster/chunk_plan.h"
#include "core/log.h"
#include "core/status.h"
#include "media/atomic_file.h"
#include "pipeline/naming.h"

enum { TODO = 0, RUNNING, DONE, FAILED };

typedef struct runner {
    const fathom_model *model;
    const fathom_run_params *params;
    const fathom_video_run_opts *vo;
    const char *input, *stem, *workdir, *manifest_path;
    fathom_chunk_manifest *man;     /* borrowed */
    const atomic_int *cancel;
    pthread_mutex_t mu;             /* everything below */
    int *state, *attempts;          /* owned: per chunk */
    fathom_pipeline *running[FATHOM_MAX_DEVICES]; /* borrowed: what a cancel must stop */
    int stop;                       /* a chunk failed twice, the manifest failed, or cancel */
    fathom_status err;
    char err_msg[1400];
    int ran, retried;
    atomic_int workers_left;
} runner;

static void chunk_npz_path(const runner *r, int i, char *out, size_t cap) {
    snprintf(out, cap, "%s/c%05d/%s.npz", r->workdir, i, r->stem);
}

static void set_err(runner *r, fathom_status s, const char *msg) {
    if (r->err == FATHOM_OK) {
        r->err = s;
        snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
    }
    r->stop = 1;
}

/* One chunk on device slot `dev`; FATHOM_OK when its archive is complete. */
static fathom_status run_chunk(runner *r, int i, int dev) {
    const fathom_chunk *c = &r->man->chunks[i];
    char outdir[4200];
    snprintf(outdir, sizeof outdir, "%s/c%05d", r->workdir, i);
    FATHOM_TRY(fathom_mkdir_p(outdir));
    fathom_run_params p = *r->params;
    p.n_devices = 1;
    p.devices[0] = r->params->devices[dev];
    p.outdir = outdir;
    p.report_path = NULL;
    p.existing = FATHOM_EXISTING_OVERWRITE; /* leftovers of a killed attempt are redone */
    p.on_stats = NULL, p.on_item = NULL, p.user = NULL; /* progress is the chunk level's */
    p.governor = NULL;
    p.shard_count = 0;
    fathom_video_run_opts o = *r->vo;
    o.video_path = NULL;
    o.seq_formats = 0;
    o.npz = 1;
    o.read.start = c->start_us / 1e6; /* llround(start * 1e6) gives the microsecond back */
    o.read.end = c->end_us > 0 ? c->end_us / 1e6 : 0;
    o.read.max_frames = 0;
    fathom_video_job *job = NULL;
    fathom_pipeline *pl = NULL;
    FATHOM_TRY(fathom_video_job_create(r->model, &p, r->input, &o, &job, &pl));
    pthread_mutex_lock(&r->mu);
    r->running[dev] = pl;
    int stop = r->stop || (r->cancel && atomic_load(r->cancel));
    pthread_mutex_unlock(&r->mu);
    fathom_run_stats st;
    fathom_status s = stop ? FATHOM_ERR_INTERRUPTED : fathom_pipeline_run(pl, &st);
    pthread_mutex_lock(&r->mu);
    r->running[dev] = NULL;
    pthread_mutex_unlock(&r->mu);
    fathom_pipeline_free(&pl); /* finishes the archive */
    fathom_video_job_stats js;
    fathom_video_job_get_stats(job, &js);
    fathom_video_job_release(&job);
    if (s == FATHOM_OK && st.fatal != FATHOM_OK)
        s = fathom_fail(st.fatal, "%s", st.fatal_msg);
    if (s == FATHOM_OK && st.cancelled) s = FATHOM_ERR_INTERRUPTED;
    if (s != FATHOM_OK) return s;
    int64_t want = c->count + (c->first - c->decode_from);
    if (!js.npz_path[0] || js.frames_read != want)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: chunk %d decoded %lld frames where the plan has "
                           "%lld (frames %lld..%lld)%s%s", r->input, i, (long long)js.frames_read,
                           (long long)want, (long long)c->decode_from,
                           (long long)(c->first + c->count - 1), js.end_reason[0] ? ": " : "",
                           js.end_reason);
    return FATHOM_OK;
}

typedef struct worker_arg {
    runner *r;
    int dev;
} worker_arg;

static void *worker(void *arg) {
    worker_arg *wa = arg;
    runner *r = wa->r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int i = -1;
        for (int k = 0; !r->stop && k < r->man->n && i < 0; k++)
            if (r->state[k] == TODO) i = k;
        if (i >= 0) r->state[i] = RUNNING, r->attempts[i]++;
        pthread_mutex_unlock(&r->mu);
        if (i < 0) break;
        fathom_status s = run_chunk(r, i, wa->dev);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", s == FATHOM_OK ? "" : fathom_last_error());
        pthread_mutex_lock(&r->mu);
        if (s == FATHOM_OK) {
            r->state[i] = DONE;
            r->man->done[i] = 1;
            r->ran++;
            /* the archive is in place: only now may the manifest say so */
            fathom_status ms = fathom_chunk_manifest_save(r->man, r->manifest_path);
            if (ms != FATHOM_OK) set_err(r, ms, fathom_last_error());
        } else if (s == FATHOM_ERR_INTERRUPTED || (r->cancel && atomic_load(r->cancel))) {
            r->state[i] = TODO;
            r->stop = 1;
        } else if (r->attempts[i] < 2) {
            r->state[i] = TODO; /* once more, on whichever engine is free first */
            r->retried++;
        } else {
            r->state[i] = FAILED;
            char full[1200];
            snprintf(full, sizeof full, "chunk %d failed twice: %s", i, msg);
            set_err(r, s, full);
            for (int d = 0; d < FATHOM_MAX_DEVICES; d++)
                if (r->running[d]) fathom_pipeline_cancel(r->running[d]);
        }
        pthread_mutex_unlock(&r->mu);
    }
    atomic_fetch_sub(&r->workers_left, 1);
    return NULL;
}

/* Output paths the merge will write, checked before any chunk runs (nothing is lost later). */
static fathom_status check_outputs(const fathom_run_params *p, const fathom_video_run_opts *vo,
                                   const char *input, const char *stem) {
    if (p->existing == FATHOM_EXISTING_OVERWRITE) return FATHOM_OK;
    char path[4200];
    struct stat st;
    if (vo->video_path || (!vo->seq_formats && !vo->npz)) {
        if (vo->video_path) snprintf(path, sizeof path, "%s", vo->video_path);
        else snprintf(path, sizeof path, "%s/%s_depth.mkv", p->outdir, stem);
        if (stat(path, &st) == 0)
            return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (use --overwrite)", input, path);
    }
    if (vo->npz) {
        snprintf(path, sizeof path, "%s/%s.npz", p->outdir, stem);
        if (stat(path, &st) == 0)
            return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (use --overwrite)", input, path);
    }
    if (vo->seq_formats) {
        snprintf(path, sizeof path, "%s/%s", p->outdir, stem);
        if (stat(path, &st) == 0)
            return fathom_fail(FATHOM_ERR_IO, "%s: output folder %s exists (use --overwrite)",
                               input, path);
    }
    return FATHOM_OK;
}

static void write_report(const char *path, const char *input, const fathom_chunk_manifest *man,
                         const int *attempts, const fathom_chunk_seam *seams,
                         const fathom_chunk_run_result *res, double seconds) {
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
        cJSON_AddNumberToObject(c, "attempts", attempts[i]);
        cJSON_AddBoolToObject(c, "done", man->done[i] != 0);
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
    cJSON_AddNumberToObject(t, "frames_merged", (double)res->frames);
    cJSON_AddNumberToObject(t, "elapsed_s", seconds);
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

fathom_status fathom_chunked_video_run(const fathom_model *m, const fathom_run_params *params,
                                       const char *input, const fathom_video_run_opts *vo,
                                       const fathom_chunk_run_opts *co,
                                       fathom_chunk_run_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = now_s();
    if (vo->read.start > 0 || vo->read.end > 0 || vo->read.max_frames > 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: --chunks takes the whole video "
                           "(--start/--end/--max-frames are not supported with it)", input);
    if (!params->outdir) return fathom_fail(FATHOM_ERR_INVALID_ARG, "--chunks needs -o OUTDIR");
    char stem[1024], workdir[4096], mpath[4200];
    fathom_naming_stem(input, stem, sizeof stem);
    if (!stem[0]) snprintf(stem, sizeof stem, "video");
    snprintf(workdir, sizeof workdir, "%s/.fathom-chunks/%s", params->outdir, stem);
    snprintf(mpath, sizeof mpath, "%s/manifest.json", workdir);
    int64_t bytes, mtime;
    FATHOM_TRY(fathom_chunk_input_stamp(input, &bytes, &mtime));
    fathom_chunk_manifest man;
    memset(&man, 0, sizeof man);
    fathom_status s = co->resume ? fathom_chunk_manifest_load(mpath, &man) : FATHOM_ERR_NOT_FOUND;
    if (s != FATHOM_OK && s != FATHOM_ERR_NOT_FOUND) return s;
    if (s == FATHOM_OK) { /* resume: the manifest must describe this input and this plan */
        const char *why = man.input_bytes != bytes || man.input_mtime_ns != mtime
                              ? "the input changed since (size or time)"
                          : man.overlap != co->overlap ? "it was made with another --overlap"
                          : man.n != co->n_chunks && man.n != man.frames
                              ? "it was made with another --chunks" : NULL;
        if (why) {
            fathom_chunk_manifest_clear(&man);
            return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: cannot resume from %s: %s; remove "
                               "that folder to start over", input, mpath, why);
        }
    } else {
        int64_t *pts = NULL, n = 0;
        FATHOM_TRY(fathom_chunk_scan(input, &pts, &n));
        s = fathom_chunk_plan(pts, n, co->n_chunks, co->overlap, &man.chunks, &man.n);
        free(pts);
        if (s != FATHOM_OK) {
            char e[512];
            snprintf(e, sizeof e, "%s", fathom_last_error());
            fathom_chunk_manifest_clear(&man);
            return fathom_fail(s, "%s: %s", input, e);
        }
        snprintf(man.input, sizeof man.input, "%s", input);
        man.input_bytes = bytes, man.input_mtime_ns = mtime, man.frames = n;
        man.overlap = co->overlap;
        if (!(man.done = calloc((size_t)man.n, sizeof *man.done))) {
            fathom_chunk_manifest_clear(&man);
            return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
        }
    }
    runner r;
    memset(&r, 0, sizeof r);
    char **paths = NULL; /* owned: n archive paths */
    fathom_chunk_seam *seams = NULL; /* owned */
    int metric = 0;
    {
        fathom_model_info mi;
        fathom_model_get_info(m, &mi);
        metric = mi.metric;
    }
    if ((s = check_outputs(params, vo, input, stem)) != FATHOM_OK) goto out;
    if ((s = fathom_mkdir_p(workdir)) != FATHOM_OK) goto out;
    /* the plan is on disk before any work */
    if ((s = fathom_chunk_manifest_save(&man, mpath)) != FATHOM_OK) goto out;
    res->chunks = man.n;
    r.model = m, r.params = params, r.vo = vo, r.input = input, r.stem = stem, r.workdir = workdir;
    r.manifest_path = mpath, r.man = &man, r.cancel = co->cancel;
    pthread_mutex_init(&r.mu, NULL);
    r.state = calloc((size_t)man.n, sizeof *r.state);
    r.attempts = calloc((size_t)man.n, sizeof *r.attempts);
    paths = calloc((size_t)man.n, sizeof *paths);
    seams = calloc((size_t)man.n, sizeof *seams);
    if (!r.state || !r.attempts || !paths || !seams) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
        goto out_mu;
    }
    for (int i = 0; i < man.n; i++) {
        char p[4400];
        chunk_npz_path(&r, i, p, sizeof p);
        struct stat st;
        if (man.done[i] && stat(p, &st) != 0) man.done[i] = 0; /* its result is gone: redo */
        if (man.done[i]) r.state[i] = DONE, res->reused++;
        if (!(paths[i] = strdup(p))) {
            s = fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
            goto out_mu;
        }
    }
    int nw = params->n_devices < 1 ? 1 : params->n_devices;
    pthread_t thr[FATHOM_MAX_DEVICES];
    worker_arg wa[FATHOM_MAX_DEVICES];
    int started = 0;
    atomic_init(&r.workers_left, 0);
    for (int w = 0; w < nw; w++) {
        wa[w] = (worker_arg){&r, w};
        atomic_fetch_add(&r.workers_left, 1);
        if (pthread_create(&thr[w], NULL, worker, &wa[w]) != 0) {
            atomic_fetch_sub(&r.workers_left, 1);
            break;
        }
        started++;
    }
    if (!started) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "cannot start a chunk worker");
        goto out_mu;
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
            pthread_mutex_unlock(&r.mu);
        }
        usleep(20000);
    }
    for (int w = 0; w < started; w++) pthread_join(thr[w], NULL);
    res->ran = r.ran, res->retried = r.retried;
    if (r.err != FATHOM_OK) {
        s = fathom_fail(r.err, "%s: %s", input, r.err_msg);
        goto out_report;
    }
    for (int i = 0; i < man.n; i++)
        if (!man.done[i]) {
            res->cancelled = 1;
            s = fathom_fail(FATHOM_ERR_INTERRUPTED, "%s: interrupted: %d of %d chunks finished "
                            "(--resume continues from %s)", input, res->reused + res->ran, man.n, mpath);
            goto out_report;
        }
    s = fathom_chunk_merge(input, (const char *const *)paths, man.chunks, man.n, params, vo, metric,
                           seams, res);
out_report:
    if (params->report_path)
        write_report(params->report_path, input, &man, r.attempts, s == FATHOM_OK ? seams : NULL,
                     res, now_s() - t0);
out_mu:
    pthread_mutex_destroy(&r.mu);
out:
    for (int i = 0; paths && i < man.n; i++) free(paths[i]);
    free(paths);
    free(seams);
    free(r.state);
    free(r.attempts);
    fathom_chunk_manifest_clear(&man);
    return s;
}
