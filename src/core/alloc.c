/* alloc.c - aligned allocation with process-wide byte counters (atomics, lock-free). */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FATHOM_ALIGN 64

static atomic_size_t cur_bytes, peak_bytes;

static void account(size_t bytes) {
    size_t now = atomic_fetch_add(&cur_bytes, bytes) + bytes;
    size_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {
    }
}

void *fathom_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    size_t rounded = (bytes + FATHOM_ALIGN - 1) / FATHOM_ALIGN * FATHOM_ALIGN;
    if (rounded < bytes) return NULL;
    void *p = aligned_alloc(FATHOM_ALIGN, rounded);
    if (p) account(bytes);
    return p;
}

void *fathom_calloc(size_t bytes) {
    void *p = fathom_alloc(bytes);
    if (p) memset(p, 0, bytes ? bytes : 1);
    return p;
}

void fathom_free_sized(void *p, size_t bytes) {
    if (!p) return;
    atomic_fetch_sub(&cur_bytes, bytes ? bytes : 1);
    free(p);
}

size_t fathom_alloc_current(void) { return atomic_load(&cur_bytes); }
size_t fathom_alloc_peak(void) { return atomic_load(&peak_bytes); }
