/* mpi_video.c - one video in chunks over the MPI ranks (see mpi_driver.h). */
#include "cluster/mpi_driver.h"

#ifdef FATHOM_HAVE_MPI /* else cluster_api.c answers "built without MPI" */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/chunk_manifest.h"
#include "core/log.h"
#include "core/status.h"

enum { PENDING = 0, RUNNING, DONE, FAILED };

/* Rank 0's chunk table, shared by its hand-out thread and its own worker (main thread). */
typedef struct hand {
    fathom_chunk_ctx *ctx;          /* borrowed */
    fathom_chunk_run_result *res;   /* borrowed */
    int size;
    pthread_mutex_t mu;             /* everything below */
    pthread_cond_t cv;              /* a chunk changed state */
    int *state, *failed_on, *attempts; /* owned, per chunk; failed_on: rank of the last failure */
    int stop, local_waiting;
    fathom_status err;
    char err_msg[1024];
} hand;

static int any_running(const hand *h) {
    for (int i = 0; i < h->ctx->man.n; i++)
        if (h->state[i] == RUNNING) return 1;
    return 0;
}

/* Under mu: the next chunk for rank `from` (-1: none). A chunk that failed on `from` goes to
 * another rank first; rank 0's idle worker counts as one. */
static int pick(hand *h, int from) {
    int n = h->ctx->man.n, i = -1;
    for (int pass = 0; !h->stop && pass < 2 && i < 0; pass++) {
        if (pass == 1 && from != 0 && h->local_waiting) break;
        for (int k = 0; k < n && i < 0; k++)
            if (h->state[k] == PENDING && (pass == 1 || h->failed_on[k] != from)) i = k;
    }
    if (i >= 0) h->state[i] = RUNNING, h->attempts[i]++, fathom_chunk_ctx_started(h->ctx, i, from);
    return i;
}

/* Under mu: chunk i ended on rank `from` with status s; 1 when the manifest must be saved
 * (save_done, after mu is released). */
static int record(hand *h, int i, fathom_status s, int from) {
    fathom_chunk_manifest *man = &h->ctx->man;
    int save = 0;
    if (s == FATHOM_OK) {
        fathom_chunk_ctx_ended(h->ctx, i);
        h->state[i] = DONE, man->done[i] = 1, h->res->ran++;
        save = 1;
    } else if (h->attempts[i] < 2) {
        h->state[i] = PENDING, h->failed_on[i] = from, h->res->retried++; /* once more */
    } else {
        h->state[i] = FAILED, h->stop = 1;
        if (h->err == FATHOM_OK) {
            h->err = s;
            snprintf(h->err_msg, sizeof h->err_msg, "chunk %d failed twice (ranks %d and %d; "
                     "their messages are above)", i, h->failed_on[i], from);
        }
    }
    pthread_cond_broadcast(&h->cv);
    return save;
}

/* Not under mu: a finished chunk's archive is in place, so the manifest may say so; written
 * outside the lock, so hand-out and merge go on while it is written. */
static void save_done(hand *h) {
    fathom_status ms = fathom_chunk_manifest_save_unlocked(&h->ctx->man, h->ctx->mpath, &h->mu,
                                                           &h->ctx->save_mu);
    if (ms == FATHOM_OK) return;
    pthread_mutex_lock(&h->mu);
    if (h->err == FATHOM_OK) {
        h->err = ms, h->stop = 1;
        snprintf(h->err_msg, sizeof h->err_msg, "%s", fathom_last_error());
    }
    pthread_mutex_unlock(&h->mu);
}

/* Rank 0's hand-out thread (the only MPI caller while it runs): answer requests until every
 * other rank has been told to stop. */
static void *serve(void *arg) {
    hand *h = arg;
    int n = h->ctx->man.n;
    for (int active = h->size - 1; active > 0;) {
        int64_t msg[3]; /* finished chunk (-1: none), its status, engines it created */
        MPI_Status ms;
        fathom_mpi_recv(msg, 3, MPI_INT64_T, MPI_ANY_SOURCE, FATHOM_TAG_REQ, &ms);
        pthread_mutex_lock(&h->mu);
        h->ctx->engines_created += (int)msg[2];
        int save = msg[0] >= 0 && msg[0] < n &&
                   record(h, (int)msg[0], (fathom_status)msg[1], ms.MPI_SOURCE);
        int i = pick(h, ms.MPI_SOURCE);
        pthread_mutex_unlock(&h->mu);
        if (i < 0) active--;
        MPI_Send(&i, 1, MPI_INT, ms.MPI_SOURCE, FATHOM_TAG_ASSIGN, MPI_COMM_WORLD);
        if (save) save_done(h); /* after the reply: the rank does not wait for the disk */
    }
    return NULL;
}

/* Rank 0's own engines: take chunks from the table until none is left or running. */
static void work_local(hand *h, const fathom_model *m, const fathom_run_params *params,
                       const fathom_video_run_opts *vo, const char *input) {
    fathom_chunk_engines ce; /* rank 0's engines, kept across its chunks */
    memset(&ce, 0, sizeof ce);
    for (;;) {
        pthread_mutex_lock(&h->mu);
        int i;
        while ((i = pick(h, 0)) < 0 && !h->stop && any_running(h)) { /* one may fail: wait */
            h->local_waiting = 1;
            pthread_cond_wait(&h->cv, &h->mu);
            h->local_waiting = 0;
        }
        pthread_mutex_unlock(&h->mu);
        if (i < 0) break;
        int before = ce.created;
        fathom_status s = fathom_chunk_run_one(m, params, vo, input, h->ctx->workdir,
                                               &h->ctx->man.chunks[i], i, &ce, NULL, NULL);
        if (s != FATHOM_OK) fathom_log(FATHOM_LOG_WARN, "rank 0: %s", fathom_last_error());
        pthread_mutex_lock(&h->mu);
        h->ctx->engines_created += ce.created - before;
        int save = record(h, i, s, 0);
        pthread_mutex_unlock(&h->mu);
        if (save) save_done(h);
    }
    fathom_chunk_engines_clear(&ce);
}

/* Rank 0: hand out and compute at once; FATHOM_OK when every chunk is done. */
static fathom_status coordinate(fathom_chunk_ctx *ctx, int size, const fathom_model *m,
                                const fathom_run_params *params, const fathom_video_run_opts *vo,
                                const char *input, int *attempts, fathom_chunk_follow *f,
                                fathom_chunk_run_result *res) {
    int n = ctx->man.n;
    hand h;
    memset(&h, 0, sizeof h);
    h.ctx = ctx, h.res = res, h.size = size, h.attempts = attempts;
    h.state = calloc((size_t)n, sizeof *h.state);
    h.failed_on = malloc((size_t)n * sizeof *h.failed_on);
    fathom_status s = FATHOM_OK;
    pthread_t thr;
    if (!h.state || !h.failed_on) s = fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    for (int i = 0; s == FATHOM_OK && i < n; i++) {
        h.failed_on[i] = -1;
        if (ctx->man.done[i]) h.state[i] = DONE, res->reused++;
    }
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    /* the merge thread: chunk i merged as soon as 0..i are done (rank 0's third thread) */
    if (s == FATHOM_OK)
        s = fathom_chunk_follow_start(f, ctx, params, input, vo, &h.mu, &h.cv, NULL, res);
    if (s == FATHOM_OK && pthread_create(&thr, NULL, serve, &h) != 0)
        s = fathom_fail(FATHOM_ERR_NOMEM, "mpi: cannot start the hand-out thread");
    if (s != FATHOM_OK) { /* the other ranks wait for chunks: end them all */
        fathom_log(FATHOM_LOG_WARN, "%s", fathom_last_error());
        fathom_mpi_abort(2);
    }
    if (s == FATHOM_OK) {
        work_local(&h, m, params, vo, input);
        pthread_join(thr, NULL); /* the other ranks are all told to stop */
        if (h.err != FATHOM_OK) s = fathom_fail(h.err, "%s: %s", input, h.err_msg);
    }
    fathom_chunk_follow_stop(f); /* merges what is finished and not yet merged */
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    free(h.state);
    free(h.failed_on);
    return s;
}

/* Ranks 1..R-1: ask for a chunk, run it, report it with the next request. */
static void work_remote(int rank, const fathom_model *m, const fathom_run_params *params,
                        const fathom_video_run_opts *vo, const char *input, const char *workdir,
                        const fathom_chunk *plan) {
    int64_t msg[3] = {-1, FATHOM_OK, 0};
    fathom_chunk_engines ce; /* this rank's engines, kept across its chunks */
    memset(&ce, 0, sizeof ce);
    for (;;) {
        MPI_Send(msg, 3, MPI_INT64_T, 0, FATHOM_TAG_REQ, MPI_COMM_WORLD);
        int i;
        fathom_mpi_recv(&i, 1, MPI_INT, 0, FATHOM_TAG_ASSIGN, NULL);
        if (i < 0) break;
        int before = ce.created;
        fathom_status s = fathom_chunk_run_one(m, params, vo, input, workdir, &plan[i], i, &ce,
                                               NULL, NULL);
        if (s != FATHOM_OK) fathom_log(FATHOM_LOG_WARN, "rank %d: %s", rank, fathom_last_error());
        msg[0] = i, msg[1] = s, msg[2] = ce.created - before;
    }
    fathom_chunk_engines_clear(&ce);
}

fathom_status fathom_mpi_run_video(const fathom_model *m, const fathom_run_params *params,
                                   const char *input, const fathom_video_run_opts *vo,
                                   const fathom_chunk_run_opts *co, fathom_chunk_run_result *res) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    memset(res, 0, sizeof *res);
    fathom_chunk_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    fathom_mpi_barrier(); /* every rank ready (model loaded): the job starts together */
    fathom_chunk_run_opts c2 = *co;
    if (c2.engines < size) c2.engines = size; /* one chunk at a time per rank */
    int ok = 1;
    if (rank == 0) ok = fathom_chunk_prepare(m, params, input, vo, &c2, &ctx) == FATHOM_OK;
    fathom_mpi_bcast(&ok, 1, MPI_INT);
    if (!ok) /* rank 0 holds the message; the others have nothing to do */
        return rank == 0 ? FATHOM_ERR_INVALID_ARG
                         : fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: rank 0 could not plan it", input);
    /* the plan and the chunk folder go to every rank */
    int n = ctx.man.n;
    fathom_mpi_bcast(&n, 1, MPI_INT);
    fathom_mpi_bcast(ctx.workdir, sizeof ctx.workdir, MPI_CHAR);
    if (rank != 0) {
        fathom_chunk *plan = calloc((size_t)n, sizeof *plan); /* owned */
        if (!plan) fathom_mpi_abort(2);
        fathom_mpi_bcast(plan, n * (int)sizeof *plan, MPI_BYTE);
        work_remote(rank, m, params, vo, input, ctx.workdir, plan);
        free(plan);
        return FATHOM_OK;
    }
    fathom_mpi_bcast(ctx.man.chunks, n * (int)sizeof *ctx.man.chunks, MPI_BYTE);
    int *attempts = calloc((size_t)n, sizeof *attempts); /* owned */
    fathom_chunk_follow f;
    memset(&f, 0, sizeof f);
    fathom_status s = attempts ? coordinate(&ctx, size, m, params, vo, input, attempts, &f, res)
                               : fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    if (s == FATHOM_OK) s = fathom_chunk_finish(&ctx, params, input, attempts, &f, res);
    fathom_chunk_follow_clear(&f);
    free(attempts);
    fathom_chunk_ctx_clear(&ctx);
    return s;
}

#endif /* FATHOM_HAVE_MPI */
