/* mpi_driver.h - `mpirun -np R fathom run --mpi ...` (docs/scale-out.md). Built only with
 * Open MPI (CMake FATHOM_MPI, defines FATHOM_HAVE_MPI); transport is MPI point-to-point, nothing
 * home-made. Rank 0 coordinates (plans, hands out work, records, merges); ranks 1..R-1 work with
 * their local --device engines; work is handed out on request, so a slow rank gets less.
 *   Videos: rank 0 plans the chunks and writes the manifest (chunk_job.h), then answers each
 *   worker's request with the next unfinished chunk; a finished chunk is recorded in the
 *   manifest as soon as the worker reports it; a failed chunk goes to another rank once. When
 *   all are done rank 0 merges. If a rank dies, mpirun ends the job (naming the rank); the
 *   manifest keeps every finished chunk, and a rerun with --resume does only the rest.
 *   Image sets: every worker walks the same inputs in the same order (names equal a single
 *   run's) and takes only the positions of the batches rank 0 hands it (batch k = positions
 *   kB..kB+B-1, handed out in increasing k); each worker writes REPORT.rank<r>.json and rank 0
 *   merges them into REPORT (report_merge.h): every input exactly once, one report. */
#ifndef FATHOM_CLUSTER_MPI_DRIVER_H
#define FATHOM_CLUSTER_MPI_DRIVER_H

#include <stdint.h>

#include "cluster/chunk_job.h"
#include "fathom.h"

/* fathom_mpi_init, _finalize, _abort, _share_int and the image calls: fathom.h (scale-out);
 * without FATHOM_HAVE_MPI they are stubs (cluster_api.c). */

/* Every rank calls it (size >= 2). Rank 0: plan/resume, hand out, merge; *res filled there. */
fathom_status fathom_mpi_run_video(const fathom_model *m, const fathom_run_params *params,
                                   const char *input, const fathom_video_run_opts *vo,
                                   const fathom_chunk_run_opts *co, fathom_chunk_run_result *res);


#endif
