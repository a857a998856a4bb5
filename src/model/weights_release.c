/* weights_release.c - giving the fp32 copies of packed weights back to the OS.
 *
 * An engine with packed weights (CPU bf16 / int8 / q4, engine param release_fp32) reads its
 * own copies, so the model's fp32 tensors behind them are dead weight: 1.2 GiB of ViT-L. The
 * arena is one allocation, so its pages are dropped in place (madvise MADV_DONTNEED on the
 * whole pages inside each tensor) rather than freed: the arena keeps its owner (the model,
 * which frees it whole), the tensor addresses stay valid as the engine's lookup keys, and
 * what was released reads as zeros, which engine creation refuses (engine.c). */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/status.h"
#include "model/weights.h"

fathom_status fathom_weights_release(fathom_weights *w, const float *const *src, const size_t *floats,
                                     size_t n) {
    if (!w || !w->arena) return FATHOM_OK; /* weights not in an arena (tests): nothing to give */
    const uintptr_t lo = (uintptr_t)w->arena, hi = lo + w->arena_bytes;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = (uintptr_t)src[i], b = a + floats[i] * sizeof(float);
        if (a < lo || b > hi || b < a)
            return fathom_fail(FATHOM_ERR_INTERNAL, "weights: tensor %zu to release is outside the arena", i);
        uintptr_t pa = (a + page - 1) / page * page, pb = b / page * page; /* whole pages only */
        if (pb <= pa) continue;
        if (madvise((void *)pa, pb - pa, MADV_DONTNEED) != 0)
            return fathom_fail(FATHOM_ERR_INTERNAL, "weights: cannot release %zu bytes of tensor %zu",
                               (size_t)(pb - pa), i);
        w->released_bytes += pb - pa;
    }
    return FATHOM_OK;
}
