/* blas.h - the process-wide OpenBLAS thread setting (fathom_blas_serial in fathom.h). */
#ifndef FATHOM_CORE_BLAS_H
#define FATHOM_CORE_BLAS_H

#include "fathom.h"

/* Called when a CPU engine is made: logs one warning per process when OpenBLAS runs more
 * than one thread and the host program did not call fathom_blas_serial. */
void fathom_blas_check(void);

/* Runs fn(arg) and returns its status, with this thread's OpenMP team size 1 around it.
 * Threads that OpenMP did not start (pipeline, serve) default to a team of every core, and an
 * OpenMP OpenBLAS called outside the backend's regions (or from a region that --threads 1
 * leaves inactive) then opens a nested team on every GEMM: 10-25x slower under load. The size
 * is set inside a one-thread region, whose ICVs libgomp owns: set on the bare thread it
 * corrupted the heap at thread exit (serve, 2026-12-05). A team of one is not an active level,
 * so the backend's own regions still run their threads (as nested teams, which libgomp
 * starts on fresh threads each time; running fn bare instead when OpenBLAS is set to one
 * thread was tried and made video depth nondeterministic: docs/precision.md "Round 8: fp32"). */
fathom_status fathom_blas_serial_call(fathom_status (*fn)(void *), void *arg);

#endif
