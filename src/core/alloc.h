/* alloc.h - tracked, aligned host allocation.
 *
 * Every large host buffer of libfathom (weights, activations, frames) goes through these, so
 * the governor and the benchmarks can read how many bytes the process holds for fathom.
 * All returned memory is 64-byte aligned (one cache line, one AVX-512 vector). */
#ifndef FATHOM_CORE_ALLOC_H
#define FATHOM_CORE_ALLOC_H

#include <stddef.h>

/* Returns NULL on failure (no message recorded: callers name what they were allocating). */
void *fathom_alloc(size_t bytes);
void *fathom_calloc(size_t bytes);
/* Accepts NULL. `bytes` must be the size given at allocation. */
void fathom_free_sized(void *p, size_t bytes);
/* Bytes currently held / the peak since start (all threads). */
size_t fathom_alloc_current(void);
size_t fathom_alloc_peak(void);

#endif
