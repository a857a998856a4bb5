/* chunk_follow.c - the incremental merge thread (see chunk_job.h): chunk i is merged as soon as
 * chunks 0..i are finished, so only the last chunk's merge remains after the last compute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/chunk_job.h"
#include "core/log.h"
#include "core/status.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cancelled(const fathom_chunk_follow *f) {
    return f->cancel && atomic_load(f->cancel);
}

/* The merge failed; the chunks go on (they stay reusable), the run reports it. */
static void *fail(fathom_chunk_follow *f, fathom_status s) {
    pthread_mutex_lock(f->mu);
    f->err = s;
    snprintf(f->err_msg, sizeof f->err_msg, "%s", fathom_last_error());
    pthread_mutex_unlock(f->mu);
    return NULL;
}

/* Chunks 0..merged-1 are in the outputs: say so in the manifest (written outside the lock). */
static fathom_status record_merged(fathom_chunk_follow *f, int merged) {
    pthread_mutex_lock(f->mu);
    f->ctx->man.merged = merged;
    pthread_mutex_unlock(f->mu);
    return fathom_chunk_manifest_save_unlocked(&f->ctx->man, f->ctx->mpath, f->mu,
                                               &f->ctx->save_mu);
}

static void *follow(void *arg) {
    fathom_chunk_follow *f = arg;
    fathom_chunk_manifest *man = &f->ctx->man;
    for (int i = 0; i < man->n; i++) {
        char path[5200];
        snprintf(path, sizeof path, "%s/c%05d/%s.npz", f->ctx->workdir, i, f->ctx->stem);
        pthread_mutex_lock(f->mu);
        while (!man->done[i] && !f->quit && !cancelled(f)) pthread_cond_wait(f->cv, f->mu);
        const int go = man->done[i] && !cancelled(f);
        pthread_mutex_unlock(f->mu);
        if (!go) return NULL; /* interrupted or a chunk failed: the manifest says what is left */
        const double t = now_s();
        fathom_status s = fathom_chunk_merger_add(f->mg, path);
        f->busy_s += now_s() - t;
        if (s == FATHOM_OK && i + 1 < man->n) s = record_merged(f, i + 1); /* n: below */
        if (s != FATHOM_OK) return fail(f, s);
    }
    const double t = now_s();
    fathom_status s = fathom_chunk_merger_finish(f->mg);
    f->busy_s += now_s() - t;
    if (s == FATHOM_OK) s = record_merged(f, man->n);
    if (s != FATHOM_OK) return fail(f, s);
    pthread_mutex_lock(f->mu);
    f->done_at = now_s() - f->ctx->t0;
    pthread_mutex_unlock(f->mu);
    return NULL;
}

fathom_status fathom_chunk_follow_start(fathom_chunk_follow *f, fathom_chunk_ctx *ctx,
                                        const fathom_run_params *params, const char *input,
                                        const fathom_video_run_opts *vo, pthread_mutex_t *mu,
                                        pthread_cond_t *cv, const atomic_int *cancel,
                                        fathom_chunk_run_result *res) {
    memset(f, 0, sizeof *f);
    f->ctx = ctx, f->params = params, f->input = input, f->vo = vo, f->mu = mu, f->cv = cv;
    f->cancel = cancel, f->res = res;
    const int n = ctx->man.n;
    f->merged_before = ctx->man.merged;
    if (ctx->man.merged > 0 && ctx->man.merged < n)
        fathom_log(FATHOM_LOG_INFO, "%s: the last run was stopped after merging %d of %d chunks; "
                   "its outputs were not finished, the merge starts again", input,
                   ctx->man.merged, n);
    ctx->man.merged = 0;
    if (!(f->seams = calloc((size_t)n, sizeof *f->seams)))
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    FATHOM_TRY(fathom_chunk_merger_create(input, ctx->man.chunks, n, params, vo, ctx->metric,
                                          ctx->video, f->seams, res, &f->mg));
    if (pthread_create(&f->thr, NULL, follow, f) != 0)
        return fathom_fail(FATHOM_ERR_NOMEM, "cannot start the merge thread");
    f->started = 1;
    return FATHOM_OK;
}

void fathom_chunk_follow_stop(fathom_chunk_follow *f) {
    if (!f->started) return;
    pthread_mutex_lock(f->mu);
    f->quit = 1;
    pthread_cond_broadcast(f->cv);
    pthread_mutex_unlock(f->mu);
    pthread_join(f->thr, NULL);
    f->started = 0;
}

void fathom_chunk_follow_clear(fathom_chunk_follow *f) {
    fathom_chunk_follow_stop(f);
    fathom_chunk_merger_free(&f->mg);
    free(f->seams);
    f->seams = NULL;
}
