/* blas.h - the process-wide OpenBLAS thread setting (fathom_blas_serial in fathom.h). */
#ifndef FATHOM_CORE_BLAS_H
#define FATHOM_CORE_BLAS_H

/* Called when a CPU engine is made: logs one warning per process when OpenBLAS runs more
 * than one thread and the host program did not call fathom_blas_serial. */
void fathom_blas_check(void);

#endif
