/* mpi_driver.h - `mpirun -np R fathom run --mpi ...` (docs/scale-out.md). Built only with
 * Open MPI (CMake FATHOM_MPI, defines FATHOM_HAVE_MPI); transport is MPI point-to-point, nothing
 * home-made. Rank 0 coordinates (plans, hands out work, records, merges) from a thread of its
 * own and computes with its local --device engines like every other rank, so R ranks are R
 * engines; work is handed out on request, so a slow rank gets less.
 *   Videos (mpi_video.c): rank 0 plans the chunks and writes the manifest (chunk_job.h); its
 *   hand-out thread answers each rank's request with the next unfinished chunk while rank 0's
 *   main thread takes chunks from the same table; a finished chunk is recorded in the manifest
 *   as soon as it is reported; a failed chunk goes to another rank once. Rank 0's merge
 *   thread merges chunk i once chunks 0..i are done (chunk_follow.c). If a rank dies, mpirun ends the job (naming the rank); the manifest keeps
 *   every finished chunk, and a rerun with --resume does only the rest.
 *   Image sets (mpi_images.c): every rank walks the same inputs in the same order (names equal
 *   a single run's) and takes only the positions of the batches it is handed (batch k =
 *   positions kB..kB+B-1, handed out in increasing k); each rank writes REPORT.rank<r>.json
 *   and rank 0 merges them into REPORT (report_merge.h): every input exactly once, one report.
 * Waiting ranks poll (MPI_Test and a short sleep) instead of MPI's busy-wait, so a rank that
 * waits leaves its core to the ranks that compute (several ranks per machine). */
#ifndef FATHOM_CLUSTER_MPI_DRIVER_H
#define FATHOM_CLUSTER_MPI_DRIVER_H

#include <stdint.h>

#include "cluster/chunk_job.h"
#include "fathom.h"

/* fathom_mpi_init, _finalize, _abort, _share_int and the image calls: fathom.h (scale-out);
 * without FATHOM_HAVE_MPI, cluster_api.c answers "built without MPI" instead. */

/* Every rank calls it (size >= 2). Rank 0: plan/resume, hand out, compute, merge; *res filled
 * there. */
fathom_status fathom_mpi_run_video(const fathom_model *m, const fathom_run_params *params,
                                   const char *input, const fathom_video_run_opts *vo,
                                   const fathom_chunk_run_opts *co, fathom_chunk_run_result *res);

/* 1 with this rank's place among the ranks of its machine (MPI_COMM_TYPE_SHARED, found by
 * fathom_mpi_init); 0 before it or without MPI. */
int fathom_mpi_local_rank(int *local_rank, int *local_size);

#ifdef FATHOM_HAVE_MPI
#include <mpi.h>
enum { FATHOM_TAG_REQ = 11, FATHOM_TAG_ASSIGN, FATHOM_TAG_IMG_REQ, FATHOM_TAG_IMG_FIN };
/* Wait for a request without spinning (MPI_Test, then sleeps growing to 2 ms). */
void fathom_mpi_wait(MPI_Request *req, MPI_Status *st);
/* MPI_Recv / MPI_Bcast over fathom_mpi_wait. */
void fathom_mpi_recv(void *buf, int count, MPI_Datatype t, int src, int tag, MPI_Status *st);
void fathom_mpi_bcast(void *buf, int count, MPI_Datatype t);
/* MPI_Barrier over fathom_mpi_wait. A job starts with one: on a loaded or oversubscribed
 * machine the ranks finish loading the model seconds apart; the early ones would wait for
 * rank 0 (or rank 0 for them) inside the job, where it is counted as the job's time. */
void fathom_mpi_barrier(void);
#endif

#endif
