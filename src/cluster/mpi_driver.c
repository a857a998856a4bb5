/* mpi_driver.c - MPI set-up and the waits every rank uses (see mpi_driver.h). */
#include "cluster/mpi_driver.h"

#ifdef FATHOM_HAVE_MPI /* else cluster_api.c answers "built without MPI" */
#include <time.h>

#include "core/status.h"

static int g_local_rank, g_local_size; /* set by fathom_mpi_init (0 size: not yet) */

fathom_status fathom_mpi_init(int *argc, char ***argv, int *rank, int *size) {
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    /* serialized: rank 0's hand-out thread is the only one calling MPI while it runs */
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return fathom_fail(FATHOM_ERR_IO, "mpi: MPI_Init failed (start with mpirun or srun)");
    if (!inited && provided < MPI_THREAD_SERIALIZED)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "mpi: this MPI lacks MPI_THREAD_SERIALIZED");
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    /* the ranks that share this machine (any launcher: mpirun, srun): --device local */
    MPI_Comm node;
    if (g_local_size == 0 &&
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &node) ==
            MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_local_rank);
        MPI_Comm_size(node, &g_local_size);
        MPI_Comm_free(&node);
    }
    return FATHOM_OK;
}

int fathom_mpi_local_rank(int *local_rank, int *local_size) {
    if (g_local_size < 1) return 0;
    *local_rank = g_local_rank, *local_size = g_local_size;
    return 1;
}

void fathom_mpi_finalize(void) {
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    if (inited && !fin) MPI_Finalize();
}

void fathom_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void fathom_mpi_wait(MPI_Request *req, MPI_Status *st) {
    long ns = 20000;
    for (;;) {
        int done = 0;
        MPI_Test(req, &done, st ? st : MPI_STATUS_IGNORE);
        if (done) return;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 2000000) ns *= 2;
    }
}

void fathom_mpi_recv(void *buf, int count, MPI_Datatype t, int src, int tag, MPI_Status *st) {
    MPI_Request r;
    MPI_Irecv(buf, count, t, src, tag, MPI_COMM_WORLD, &r);
    fathom_mpi_wait(&r, st);
}

void fathom_mpi_bcast(void *buf, int count, MPI_Datatype t) {
    MPI_Request r;
    MPI_Ibcast(buf, count, t, 0, MPI_COMM_WORLD, &r);
    fathom_mpi_wait(&r, NULL);
}

void fathom_mpi_barrier(void) {
    MPI_Request r;
    MPI_Ibarrier(MPI_COMM_WORLD, &r);
    fathom_mpi_wait(&r, NULL);
}

void fathom_mpi_share_int(int *value) { fathom_mpi_bcast(value, 1, MPI_INT); }

#endif /* FATHOM_HAVE_MPI */
