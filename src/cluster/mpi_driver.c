/* mpi_driver.c - the MPI driver (see mpi_driver.h). */
#include "cluster/mpi_driver.h"

#ifdef FATHOM_HAVE_MPI /* else the stubs of cluster_api.c */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/chunk_manifest.h"
#include "core/log.h"
#include "core/status.h"

enum { TAG_REQ = 11, TAG_ASSIGN, TAG_PLAN, TAG_IMG_REQ, TAG_IMG_FIN };

fathom_status fathom_mpi_init(int *argc, char ***argv, int *rank, int *size) {
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return fathom_fail(FATHOM_ERR_IO, "--mpi: MPI_Init failed (start with mpirun or srun)");
    if (!inited && provided < MPI_THREAD_SERIALIZED)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "--mpi: this MPI lacks MPI_THREAD_SERIALIZED");
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return FATHOM_OK;
}

void fathom_mpi_finalize(void) {
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    if (inited && !fin) MPI_Finalize();
}

void fathom_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void fathom_mpi_share_int(int *value) { MPI_Bcast(value, 1, MPI_INT, 0, MPI_COMM_WORLD); }

/* ---- videos ---- */

/* Rank 0: answer requests until every worker has been told to stop. */
static fathom_status serve_chunks(fathom_chunk_ctx *ctx, int size, int *attempts,
                                  fathom_chunk_run_result *res) {
    fathom_chunk_manifest *man = &ctx->man;
    int n = man->n, active = size - 1, stop = 0;
    int *state = calloc((size_t)n, sizeof *state);   /* owned: 0 todo, 1 running, 2 done, 3 failed */
    int *failed_on = malloc((size_t)n * sizeof *failed_on); /* owned: rank of the last failure */
    if (!state || !failed_on) {
        free(state);
        free(failed_on);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    }
    fathom_status err = FATHOM_OK;
    char err_msg[1024] = "";
    for (int i = 0; i < n; i++) {
        failed_on[i] = -1;
        if (man->done[i]) state[i] = 2, res->reused++;
    }
    while (active > 0) {
        int64_t msg[2]; /* finished chunk (-1: none), its status */
        MPI_Status ms;
        MPI_Recv(msg, 2, MPI_INT64_T, MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &ms);
        int from = ms.MPI_SOURCE;
        if (msg[0] >= 0 && msg[0] < n) {
            int i = (int)msg[0];
            if (msg[1] == FATHOM_OK) {
                state[i] = 2, man->done[i] = 1, res->ran++;
                fathom_status s = fathom_chunk_manifest_save(man, ctx->mpath);
                if (s != FATHOM_OK && err == FATHOM_OK) {
                    err = s, stop = 1;
                    snprintf(err_msg, sizeof err_msg, "%s", fathom_last_error());
                }
            } else if (attempts[i] < 2) {
                state[i] = 0, failed_on[i] = from, res->retried++; /* once more, elsewhere */
            } else {
                state[i] = 3, stop = 1;
                if (err == FATHOM_OK) {
                    err = (fathom_status)msg[1];
                    snprintf(err_msg, sizeof err_msg, "chunk %d failed twice (ranks %d and %d; "
                             "their messages are above)", i, failed_on[i], from);
                }
            }
        }
        int pick = -1;
        for (int pass = 0; !stop && pass < 2 && pick < 0; pass++) /* another rank first */
            for (int i = 0; i < n && pick < 0; i++)
                if (state[i] == 0 && (pass == 1 || failed_on[i] != from)) pick = i;
        if (pick >= 0) state[pick] = 1, attempts[pick]++;
        else active--;
        MPI_Send(&pick, 1, MPI_INT, from, TAG_ASSIGN, MPI_COMM_WORLD);
    }
    free(state);
    free(failed_on);
    if (err != FATHOM_OK) return fathom_fail(err, "%s: %s", man->input, err_msg);
    return FATHOM_OK;
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
    int ok = 1;
    if (rank == 0) ok = fathom_chunk_prepare(m, params, input, vo, co, &ctx) == FATHOM_OK;
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok) /* rank 0 holds the message; the workers have nothing to do */
        return rank == 0 ? FATHOM_ERR_INVALID_ARG
                         : fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: rank 0 could not plan it", input);
    /* the plan and the chunk folder go to every worker */
    int n = ctx.man.n;
    MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(ctx.workdir, sizeof ctx.workdir, MPI_CHAR, 0, MPI_COMM_WORLD);
    fathom_chunk *plan = rank == 0 ? ctx.man.chunks : calloc((size_t)n, sizeof *plan);
    if (!plan) fathom_mpi_abort(2);
    MPI_Bcast(plan, n * (int)sizeof *plan, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank != 0) {
        int64_t msg[2] = {-1, FATHOM_OK};
        for (;;) {
            MPI_Send(msg, 2, MPI_INT64_T, 0, TAG_REQ, MPI_COMM_WORLD);
            int i;
            MPI_Recv(&i, 1, MPI_INT, 0, TAG_ASSIGN, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (i < 0) break;
            fathom_status s = fathom_chunk_run_one(m, params, vo, input, ctx.workdir, &plan[i], i,
                                                   NULL, NULL);
            if (s != FATHOM_OK) fathom_log(FATHOM_LOG_WARN, "rank %d: %s", rank, fathom_last_error());
            msg[0] = i, msg[1] = s;
        }
        free(plan);
        return FATHOM_OK;
    }
    int *attempts = calloc((size_t)n, sizeof *attempts); /* owned */
    fathom_status s = attempts ? serve_chunks(&ctx, size, attempts, res)
                               : fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    if (s == FATHOM_OK) s = fathom_chunk_finish(&ctx, params, input, vo, attempts, res);
    free(attempts);
    fathom_chunk_ctx_clear(&ctx);
    return s;
}

/* ---- image sets ---- */

void fathom_mpi_images_worker_init(fathom_mpi_images *st, int batch) {
    st->batch = batch > 0 ? batch : 1;
    st->begin = st->end = 0;
}

int fathom_mpi_images_take(void *user, uint64_t pos) {
    fathom_mpi_images *st = user;
    while (pos >= st->end) { /* past the batch held: ask for the next one (always further on) */
        int one = 1;
        int64_t k;
        MPI_Send(&one, 1, MPI_INT, 0, TAG_IMG_REQ, MPI_COMM_WORLD);
        MPI_Recv(&k, 1, MPI_INT64_T, 0, TAG_IMG_REQ, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        st->begin = (uint64_t)k * st->batch;
        st->end = st->begin + st->batch;
    }
    return pos >= st->begin;
}

void fathom_mpi_images_worker_done(int rc) {
    MPI_Send(&rc, 1, MPI_INT, 0, TAG_IMG_FIN, MPI_COMM_WORLD);
}

int fathom_mpi_images_serve(int size) {
    int64_t next = 0;
    int active = size - 1, worst = 0;
    while (active > 0) {
        int v;
        MPI_Status ms;
        MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &ms);
        if (ms.MPI_TAG == TAG_IMG_REQ) {
            MPI_Send(&next, 1, MPI_INT64_T, ms.MPI_SOURCE, TAG_IMG_REQ, MPI_COMM_WORLD);
            next++;
        } else if (ms.MPI_TAG == TAG_IMG_FIN) {
            active--;
            if (v > worst) worst = v; /* 130 > 2 > 1 > 0 */
        }
    }
    return worst;
}

#endif /* FATHOM_HAVE_MPI */
