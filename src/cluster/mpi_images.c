/* mpi_images.c - an image set over the MPI ranks (see mpi_driver.h). Rank 0 hands out input
 * positions from one counter: to the other ranks from its hand-out thread, to its own pipeline
 * directly (fathom_mpi_images_take), so every rank computes. */
#include "cluster/mpi_driver.h"

#ifdef FATHOM_HAVE_MPI /* else cluster_api.c answers "built without MPI" */
#include <pthread.h>

#include "core/status.h"

/* Rank 0's hand-out (one per process: MPI is per process too). */
static struct {
    pthread_mutex_t mu;
    int64_t next; /* under mu: the next batch number */
    int size, worst, running;
    pthread_t thr;
} g_serve = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int64_t next_batch(void) {
    pthread_mutex_lock(&g_serve.mu);
    int64_t k = g_serve.next++;
    pthread_mutex_unlock(&g_serve.mu);
    return k;
}

void fathom_mpi_images_worker_init(fathom_mpi_images *st, int batch) {
    fathom_mpi_barrier(); /* every rank ready (model loaded): the job starts together */
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* Positions go out one at a time, whatever --batch (each rank's inference still batches
     * what it holds): when the counter runs out, every rank holds what its queues hold, the
     * same for all, plus at most one image; with units of --batch the ranks' last units ended
     * up to a whole batch apart (the 16-rank tail, bench/scale_sim.sh). A request is one
     * round trip to rank 0, made while the rank's queues still hold work. */
    (void)batch;
    st->batch = 1;
    st->begin = st->end = 0;
    st->local = rank == 0;
}

int fathom_mpi_images_take(void *user, uint64_t pos) {
    fathom_mpi_images *st = user;
    while (pos >= st->end) { /* past the batch held: take the next one (always further on) */
        int64_t k;
        if (st->local) {
            k = next_batch();
        } else {
            int one = 1;
            MPI_Send(&one, 1, MPI_INT, 0, FATHOM_TAG_IMG_REQ, MPI_COMM_WORLD);
            fathom_mpi_recv(&k, 1, MPI_INT64_T, 0, FATHOM_TAG_IMG_REQ, NULL);
        }
        st->begin = (uint64_t)k * st->batch;
        st->end = st->begin + st->batch;
    }
    return pos >= st->begin;
}

void fathom_mpi_images_worker_done(int rc) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0) MPI_Send(&rc, 1, MPI_INT, 0, FATHOM_TAG_IMG_FIN, MPI_COMM_WORLD);
}

/* The hand-out thread: the only MPI caller of rank 0 until fathom_mpi_images_serve_end. */
static void *serve(void *arg) {
    (void)arg;
    for (int active = g_serve.size - 1; active > 0;) {
        int v;
        MPI_Status ms;
        fathom_mpi_recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, &ms);
        if (ms.MPI_TAG == FATHOM_TAG_IMG_REQ) {
            int64_t k = next_batch();
            MPI_Send(&k, 1, MPI_INT64_T, ms.MPI_SOURCE, FATHOM_TAG_IMG_REQ, MPI_COMM_WORLD);
        } else if (ms.MPI_TAG == FATHOM_TAG_IMG_FIN) {
            active--;
            if (v > g_serve.worst) g_serve.worst = v; /* 130 > 2 > 1 > 0 */
        }
    }
    return NULL;
}

fathom_status fathom_mpi_images_serve_start(int size) {
    if (g_serve.running)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "mpi: images already being handed out");
    g_serve.next = 0, g_serve.size = size, g_serve.worst = 0;
    if (pthread_create(&g_serve.thr, NULL, serve, NULL) != 0)
        return fathom_fail(FATHOM_ERR_NOMEM, "mpi: cannot start the hand-out thread");
    g_serve.running = 1;
    return FATHOM_OK;
}

int fathom_mpi_images_serve_end(void) {
    if (!g_serve.running) return 0;
    pthread_join(g_serve.thr, NULL);
    g_serve.running = 0;
    return g_serve.worst;
}

#endif /* FATHOM_HAVE_MPI */
