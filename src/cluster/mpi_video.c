/* mpi_video.c - one video in chunks over the MPI ranks (see mpi_driver.h). */
#include "cluster/mpi_driver.h"

#ifdef FATHOM_HAVE_MPI /* else cluster_api.c answers "built without MPI" */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/chunk_manifest.h"
#include "core/log.h"
#include "core/status.h"

enum { PENDING = 0, RUNNING, DONE, FAILED };
enum { FATHOM_MPI_WAIT_ASK = -2 }; /* the hand-out's answer "none now, ask again" */

/* Rank 0's chunk table, shared by its hand-out thread and its own worker (main thread). */
typedef struct hand {
    fathom_chunk_ctx *ctx;          /* borrowed */
    fathom_chunk_run_result *res;   /* borrowed */
    int size;
    pthread_mutex_t mu;             /* everything below */
    pthread_cond_t cv;              /* a chunk changed state */
    int *state, *attempts;          /* owned / borrowed, per chunk (failed_on: ctx's) */
    int *held;                      /* owned, per rank: chunks handed out and not yet reported */
    int stop, local_waiting;
    int active, local_done;         /* other ranks not yet told to stop; rank 0's worker ended */
    int ahead;                      /* rank 0's worker: the answer to its ask */
    fathom_status err;
    char err_msg[1024];
} hand;

static int any_running(const hand *h) {
    for (int i = 0; i < h->ctx->man.n; i++)
        if (h->state[i] == RUNNING) return 1;
    return 0;
}

static int any_pending(const hand *h) {
    for (int i = 0; i < h->ctx->man.n; i++)
        if (h->state[i] == PENDING) return 1;
    return 0;
}

/* Under mu: the next chunk for rank `from` (-1: none). A chunk that failed on `from` goes
 * back to it only when no other rank can take it: rank 0's worker runs while any chunk runs,
 * and ranks without a chunk wait (WAIT_ASK) while one may still fail. */
static int pick(hand *h, int from) {
    int n = h->ctx->man.n, i = -1;
    for (int pass = 0; !h->stop && pass < 2 && i < 0; pass++) {
        if (pass == 1 && (from != 0 ? !h->local_done || h->active > 1 : h->active > 0)) break;
        for (int k = 0; k < n && i < 0; k++)
            if (h->state[k] == PENDING && (pass == 1 || h->ctx->failed_on[k] != from)) i = k;
    }
    if (i >= 0) h->state[i] = RUNNING, h->attempts[i]++, fathom_chunk_ctx_started(h->ctx, i, from);
    return i;
}

/* Under mu: chunk i ended on rank `from` with status s; 1 when the manifest must be saved
 * (save_done, after mu is released). */
static int record(hand *h, int i, fathom_status s, const fathom_chunk_times *t, int from) {
    fathom_chunk_manifest *man = &h->ctx->man;
    int save = 0;
    fathom_chunk_ctx_ended(h->ctx, i, t, s == FATHOM_OK);
    if (s == FATHOM_OK) {
        h->state[i] = DONE, man->done[i] = 1, h->res->ran++;
        save = 1;
    } else if (h->attempts[i] < 2) {
        h->state[i] = PENDING, h->ctx->failed_on[i] = from, h->res->retried++; /* once more */
    } else {
        h->state[i] = FAILED, h->stop = 1;
        if (h->err == FATHOM_OK) {
            h->err = s;
            snprintf(h->err_msg, sizeof h->err_msg, "chunk %d failed twice (ranks %d and %d; "
                     "their messages are above)", i, h->ctx->failed_on[i], from);
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

/* A worker's message to rank 0: the chunk it finished (-1: none), its status, its phases
 * (fathom_chunk_times, microseconds), and whether it wants a chunk. */
enum { M_DONE, M_STATUS, M_ENGINES, M_WANT, M_WAIT_US, M_OPEN_US, M_RUN_US, M_AHEAD, M_FIRST_US,
       M_FINISH_US, M_LEN };

/* Rank 0's hand-out thread (the only MPI caller while it runs): answer requests until every
 * other rank has been told that no chunk will come while it holds none. A rank asks ahead
 * (chunk_worker.c): it may hold the chunk it runs and the next; "none" while it still holds
 * one is "none now" (it asks again when it is done: a chunk may fail and come back); a rank
 * that holds none is told to ask again (FATHOM_MPI_WAIT_ASK) while a chunk runs or waits. */
static void *serve(void *arg) {
    hand *h = arg;
    int n = h->ctx->man.n;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        int active = h->active;
        pthread_mutex_unlock(&h->mu);
        if (active == 0) break;
        int64_t msg[M_LEN];
        MPI_Status ms;
        fathom_mpi_recv(msg, M_LEN, MPI_INT64_T, MPI_ANY_SOURCE, FATHOM_TAG_REQ, &ms);
        const int from = ms.MPI_SOURCE;
        fathom_chunk_times t = {msg[M_WAIT_US] / 1e6, msg[M_OPEN_US] / 1e6, msg[M_RUN_US] / 1e6,
                                msg[M_FIRST_US] / 1e6, msg[M_FINISH_US] / 1e6,
                                (int)msg[M_AHEAD], (int)msg[M_ENGINES]};
        pthread_mutex_lock(&h->mu);
        h->ctx->engines_created += (int)msg[M_ENGINES];
        int save = 0, i = -1;
        if (msg[M_DONE] >= 0 && msg[M_DONE] < n) {
            h->held[from]--;
            save = record(h, (int)msg[M_DONE], (fathom_status)msg[M_STATUS], &t, from);
        }
        if (msg[M_WANT]) {
            i = pick(h, from);
            if (i >= 0) h->held[from]++;
            else if (h->held[from] == 0 && !h->stop && (any_running(h) || any_pending(h)))
                i = FATHOM_MPI_WAIT_ASK; /* a chunk may still fail: ask again soon */
            else if (h->held[from] == 0) h->active--, pthread_cond_broadcast(&h->cv); /* it stops */
        }
        pthread_mutex_unlock(&h->mu);
        if (msg[M_WANT]) MPI_Send(&i, 1, MPI_INT, from, FATHOM_TAG_ASSIGN, MPI_COMM_WORLD);
        if (save) save_done(h); /* after the reply: the rank does not wait for the disk */
    }
    return NULL;
}

/* Rank 0's own engines: the table as a worker's feed (chunk_worker.c). */
static int local_take(void *self, int done, fathom_status s, const fathom_chunk_times *t,
                      const char *err, int want) {
    hand *h = self;
    if (done >= 0 && s != FATHOM_OK) fathom_log(FATHOM_LOG_WARN, "rank 0: %s", err);
    pthread_mutex_lock(&h->mu);
    int save = 0, i = -1;
    if (done >= 0) {
        h->ctx->engines_created += t ? t->engines : 0;
        save = record(h, done, s, t, 0);
    }
    while (want && (i = pick(h, 0)) < 0 && !h->stop && any_running(h)) { /* one may fail */
        h->local_waiting = 1;
        pthread_cond_wait(&h->cv, &h->mu);
        h->local_waiting = 0;
    }
    pthread_mutex_unlock(&h->mu);
    if (save) save_done(h);
    return i;
}

static void local_ask(void *self) {
    hand *h = self;
    pthread_mutex_lock(&h->mu);
    h->ahead = pick(h, 0);
    pthread_mutex_unlock(&h->mu);
}

static int local_poll(void *self, int *i) {
    *i = ((hand *)self)->ahead;
    return 1;
}

static int local_wait(void *self) { return ((hand *)self)->ahead; }

static void work_local(hand *h, const fathom_model *m, const fathom_run_params *params,
                       const fathom_video_run_opts *vo, const char *input,
                       fathom_chunk_engines *ce) {
    fathom_chunk_feed feed = {local_take, local_ask, local_poll, local_wait, h};
    fathom_chunk_worker_loop(m, params, vo, input, h->ctx->workdir, h->ctx->man.chunks, ce,
                             &feed, NULL);
}

/* Rank 0: hand out and compute at once; FATHOM_OK when every chunk is done. */
static fathom_status coordinate(fathom_chunk_ctx *ctx, int size, const fathom_model *m,
                                const fathom_run_params *params, const fathom_video_run_opts *vo,
                                const char *input, fathom_chunk_engines *ce, int *attempts,
                                fathom_chunk_follow *f, fathom_chunk_run_result *res) {
    int n = ctx->man.n;
    hand h;
    memset(&h, 0, sizeof h);
    h.ctx = ctx, h.res = res, h.size = size, h.attempts = attempts, h.active = size - 1;
    h.state = calloc((size_t)n, sizeof *h.state);
    h.held = calloc((size_t)size, sizeof *h.held);
    fathom_status s = FATHOM_OK;
    pthread_t thr;
    if (!h.state || !h.held) s = fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    for (int i = 0; s == FATHOM_OK && i < n; i++)
        if (ctx->man.done[i]) h.state[i] = DONE, res->reused++;
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
        work_local(&h, m, params, vo, input, ce);
        pthread_mutex_lock(&h.mu);
        h.local_done = 1; /* a chunk that fails now may go back to the rank it failed on */
        pthread_mutex_unlock(&h.mu);
        pthread_join(thr, NULL); /* the other ranks are all told to stop */
        if (h.err != FATHOM_OK) s = fathom_fail(h.err, "%s: %s", input, h.err_msg);
    }
    fathom_chunk_follow_stop(f); /* merges what is finished and not yet merged */
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    free(h.state);
    free(h.held);
    return s;
}

/* Ranks 1..R-1: rank 0 over MPI as a worker's feed (chunk_worker.c); every call on the
 * rank's main thread (ask and poll from inside its chunk's fathom_pipeline_run). */
typedef struct remote {
    int rank;
    int next;        /* the ahead answer's buffer */
    MPI_Request req; /* the ahead answer */
} remote;

static void send_msg(int done, fathom_status s, const fathom_chunk_times *t, int want) {
    int64_t msg[M_LEN] = {done, s, 0, want};
    if (t) {
        msg[M_ENGINES] = t->engines, msg[M_AHEAD] = t->ahead;
        msg[M_WAIT_US] = (int64_t)(t->wait_s * 1e6), msg[M_OPEN_US] = (int64_t)(t->open_s * 1e6);
        msg[M_RUN_US] = (int64_t)(t->run_s * 1e6), msg[M_FIRST_US] = (int64_t)(t->first_s * 1e6);
        msg[M_FINISH_US] = (int64_t)(t->finish_s * 1e6);
    }
    MPI_Send(msg, M_LEN, MPI_INT64_T, 0, FATHOM_TAG_REQ, MPI_COMM_WORLD);
}

static int remote_take(void *self, int done, fathom_status s, const fathom_chunk_times *t,
                       const char *err, int want) {
    remote *rm = self;
    if (done >= 0 && s != FATHOM_OK) fathom_log(FATHOM_LOG_WARN, "rank %d: %s", rm->rank, err);
    send_msg(done, s, t, want);
    int i = -1;
    if (want) fathom_mpi_recv(&i, 1, MPI_INT, 0, FATHOM_TAG_ASSIGN, NULL);
    while (i == FATHOM_MPI_WAIT_ASK) { /* none now, but one may fail: ask again */
        usleep(20000);
        send_msg(-1, FATHOM_OK, NULL, 1);
        fathom_mpi_recv(&i, 1, MPI_INT, 0, FATHOM_TAG_ASSIGN, NULL);
    }
    return i;
}

static void remote_ask(void *self) {
    remote *rm = self;
    send_msg(-1, FATHOM_OK, NULL, 1);
    MPI_Irecv(&rm->next, 1, MPI_INT, 0, FATHOM_TAG_ASSIGN, MPI_COMM_WORLD, &rm->req);
}

static int remote_poll(void *self, int *i) {
    remote *rm = self;
    int done = 0;
    MPI_Test(&rm->req, &done, MPI_STATUS_IGNORE);
    if (done) *i = rm->next;
    return done;
}

static int remote_wait(void *self) {
    remote *rm = self;
    fathom_mpi_wait(&rm->req, NULL);
    return rm->next;
}

static void work_remote(int rank, const fathom_model *m, const fathom_run_params *params,
                        const fathom_video_run_opts *vo, const char *input, const char *workdir,
                        const fathom_chunk *plan, fathom_chunk_engines *ce) {
    remote rm = {rank, -1, MPI_REQUEST_NULL};
    fathom_chunk_feed feed = {remote_take, remote_ask, remote_poll, remote_wait, &rm};
    fathom_chunk_worker_loop(m, params, vo, input, workdir, plan, ce, &feed, NULL);
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
    /* This rank's engines, kept across its chunks: made before the job starts, like the
     * model load (a weights upload on a GPU): a rank is ready when it can compute. If that
     * fails, its first chunk tries again and fails with the reason (then runs elsewhere). */
    fathom_chunk_engines ce;
    memset(&ce, 0, sizeof ce);
    if (!fathom_model_is_video(m) && fathom_chunk_engines_create(m, params, &ce) != FATHOM_OK)
        fathom_chunk_engines_clear(&ce);
    fathom_mpi_barrier(); /* every rank ready (model loaded): the job starts together */
    fathom_chunk_run_opts c2 = *co;
    if (c2.engines < size) c2.engines = size; /* one chunk at a time per rank */
    int ok = 1;
    if (rank == 0) ok = fathom_chunk_prepare(m, params, input, vo, &c2, &ctx) == FATHOM_OK;
    fathom_mpi_bcast(&ok, 1, MPI_INT);
    if (!ok) { /* rank 0 holds the message; the others have nothing to do */
        fathom_chunk_engines_clear(&ce);
        return rank == 0 ? FATHOM_ERR_INVALID_ARG
                         : fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: rank 0 could not plan it", input);
    }
    /* the plan and the chunk folder go to every rank */
    int n = ctx.man.n;
    fathom_mpi_bcast(&n, 1, MPI_INT);
    fathom_mpi_bcast(ctx.workdir, sizeof ctx.workdir, MPI_CHAR);
    if (rank != 0) {
        fathom_chunk *plan = calloc((size_t)n, sizeof *plan); /* owned */
        if (!plan) fathom_mpi_abort(2);
        fathom_mpi_bcast(plan, n * (int)sizeof *plan, MPI_BYTE);
        work_remote(rank, m, params, vo, input, ctx.workdir, plan, &ce);
        fathom_chunk_engines_clear(&ce);
        free(plan);
        return FATHOM_OK;
    }
    fathom_mpi_bcast(ctx.man.chunks, n * (int)sizeof *ctx.man.chunks, MPI_BYTE);
    res->chunks = n; /* planned: a chunk that fails is then an item error (exit 1) */
    int *attempts = calloc((size_t)n, sizeof *attempts); /* owned */
    fathom_chunk_follow f;
    memset(&f, 0, sizeof f);
    fathom_status s = attempts ? coordinate(&ctx, size, m, params, vo, input, &ce, attempts, &f,
                                            res)
                               : fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    fathom_chunk_engines_clear(&ce);
    if (s == FATHOM_OK) s = fathom_chunk_finish(&ctx, params, input, attempts, &f, res);
    fathom_chunk_follow_clear(&f);
    free(attempts);
    fathom_chunk_ctx_clear(&ctx);
    return s;
}

#endif /* FATHOM_HAVE_MPI */
