/* blas.c - OpenBLAS threads: a process-wide setting, so the host program decides (opt-in). */
#include "core/blas.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cblas.h>
#include <stdatomic.h>

#include "core/log.h"
#include "fathom.h"

static atomic_int g_warned;

void fathom_blas_serial(int on) {
    (void)on; /* "off" leaves the host's setting alone: there is nothing of ours to undo */
    if (on) openblas_set_num_threads(1);
}

void fathom_blas_check(void) {
    int n = openblas_get_num_threads();
    if (n > 1 && !atomic_exchange(&g_warned, 1))
        fathom_log(FATHOM_LOG_WARN,
                   "OpenBLAS runs %d threads inside fathom's own threaded kernels, which is "
                   "several times slower: call fathom_blas_serial(1) at start-up (it changes "
                   "OpenBLAS for the whole process)", n);
}

fathom_status fathom_blas_serial_call(fathom_status (*fn)(void *), void *arg) {
    fathom_status st = FATHOM_OK;
#ifdef _OPENMP
#pragma omp parallel num_threads(1)
    {
        omp_set_num_threads(1);
        st = fn(arg);
    }
#else
    st = fn(arg);
#endif
    return st;
}
