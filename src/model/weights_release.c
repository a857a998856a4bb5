/* weights_release.c - the packed weight sets one model's engines share, and giving the fp32
 * copies of packed weights back to the OS.
 *
 * Share: a CPU engine with packed weights (bf16 / int8 / q4) reads them, not the fp32 ones.
 * `fathom run` makes an engine per device, video job and chunk from one model, so the sets
 * live with the model (fathom_weights.share), one per key, and every engine of that key
 * borrows the same one. The lock covers the table and the build, so engines made at once on
 * several threads pack once; a set never changes once stored, so engines read it unlocked.
 *
 * Release: the model's fp32 tensors behind a packed set are then dead weight (1.2 GiB of
 * ViT-L). The arena is one allocation, so its pages are dropped in place (madvise
 * MADV_DONTNEED on the whole pages inside each tensor) rather than freed: the arena keeps its
 * owner (the weights, which free it whole), the tensor addresses stay valid as the sets'
 * lookup keys, and what was released reads as zeros, so no set is built after it. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/weights.h"

enum { SHARE_SLOTS = 16 }; /* keys: 3 formats x a few forced kernel choices */

struct fathom_packed_share {
    pthread_mutex_t lock; /* guards everything below */
    struct {
        int key;
        void *set;                /* owned: made by the build, freed by destroy */
        void (*destroy)(void *);
        int refs;                 /* engines holding it (the share keeps it at 0 too) */
    } slot[SHARE_SLOTS];
    int n;
    size_t released_bytes;        /* fp32 bytes given back, all calls */
    int released;                 /* 1 once a release ran: later ones do nothing */
    /* a quantized file's packed matrices (quant_io_load.c): their arrays are owned here and
     * borrowed by the sets of format `loaded` (-1: none, the weights came as fp32) */
    fathom_packed_blob *blobs;    /* owned: nblobs entries, cap capblobs */
    size_t nblobs, capblobs;
    int loaded;
};

fathom_packed_share *fathom_packed_share_new(void) {
    fathom_packed_share *s = fathom_calloc(sizeof *s); /* the caller's (fathom_weights.share) */
    if (s && pthread_mutex_init(&s->lock, NULL) != 0) {
        fathom_free_sized(s, sizeof *s);
        return NULL;
    }
    if (s) s->loaded = -1;
    return s;
}

void fathom_packed_share_free(fathom_packed_share **ps) {
    if (!ps || !*ps) return;
    fathom_packed_share *s = *ps;
    *ps = NULL;
    for (int i = 0; i < s->n; i++) s->slot[i].destroy(s->slot[i].set); /* before the arrays they borrow */
    for (size_t i = 0; i < s->nblobs; i++) {
        fathom_free_sized(s->blobs[i].a, s->blobs[i].na);
        fathom_free_sized(s->blobs[i].b, s->blobs[i].nb);
        fathom_free_sized(s->blobs[i].c, s->blobs[i].nc);
    }
    fathom_free_sized(s->blobs, s->capblobs * sizeof *s->blobs);
    pthread_mutex_destroy(&s->lock);
    fathom_free_sized(s, sizeof *s);
}

fathom_status fathom_packed_share_get(fathom_packed_share *s, int key, int format, fathom_packed_build_fn build,
                                      void *arg, void (*destroy)(void *), void **set) {
    *set = NULL;
    fathom_status st = FATHOM_OK;
    pthread_mutex_lock(&s->lock);
    int i = 0;
    while (i < s->n && s->slot[i].key != key) i++;
    if (i == s->n) {
        if (s->loaded >= 0 && format != s->loaded)
            st = fathom_fail(FATHOM_ERR_INVALID_ARG,
                             "these weights were loaded quantized (%s) from a file without their fp32 "
                             "copies; use that format (--weights / --precision), or the fp32 model",
                             s->loaded == FATHOM_PACKED_Q4 ? "--weights q4" : s->loaded == FATHOM_PACKED_INT8
                                 ? "--weights int8" : "--precision bf16");
        else if (s->released && s->loaded < 0)
            st = fathom_fail(FATHOM_ERR_INVALID_ARG,
                             "%.1f MiB of this model's fp32 weights were released (release_fp32) for the "
                             "engines of another format, which this engine would pack from; load the "
                             "model again for another format",
                             s->released_bytes / 1048576.0);
        else if (s->n == SHARE_SLOTS)
            st = fathom_fail(FATHOM_ERR_INVALID_ARG, "packed weights: more than %d formats of one model",
                             SHARE_SLOTS);
        else if ((st = build(arg, &s->slot[i].set)) == FATHOM_OK)
            s->slot[i].key = key, s->slot[i].destroy = destroy, s->slot[i].refs = 0, s->n++;
    }
    if (st == FATHOM_OK) {
        s->slot[i].refs++;
        *set = s->slot[i].set;
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

void fathom_packed_share_put(fathom_packed_share *s, const void *set) {
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++)
        if (s->slot[i].set == set && s->slot[i].refs > 0) s->slot[i].refs--;
    pthread_mutex_unlock(&s->lock);
}

fathom_status fathom_packed_share_preload(fathom_packed_share *s, const fathom_packed_blob *b) {
    if (s->nblobs == s->capblobs) {
        size_t cap = s->capblobs ? 2 * s->capblobs : 64;
        fathom_packed_blob *nb = fathom_alloc(cap * sizeof *nb);
        if (!nb) return fathom_fail(FATHOM_ERR_NOMEM, "packed weights: out of memory");
        if (s->nblobs) memcpy(nb, s->blobs, s->nblobs * sizeof *nb);
        fathom_free_sized(s->blobs, s->capblobs * sizeof *s->blobs);
        s->blobs = nb, s->capblobs = cap;
    }
    s->blobs[s->nblobs++] = *b;
    return FATHOM_OK;
}

void fathom_packed_share_mark_loaded(fathom_packed_share *s, fathom_packed_kind kind, size_t absent_bytes) {
    s->loaded = (int)kind;
    s->released_bytes += absent_bytes;
    s->released = 1; /* nothing more to give back */
}

int fathom_packed_share_loaded(const fathom_packed_share *s) { return s->loaded; } /* set before any engine */

const fathom_packed_blob *fathom_packed_share_blob(const fathom_packed_share *s, const float *src) {
    for (size_t i = 0; i < s->nblobs; i++)
        if (s->blobs[i].src == src) return &s->blobs[i];
    return NULL;
}

size_t fathom_packed_share_blobs(const fathom_packed_share *s, const fathom_packed_blob **first) {
    *first = s->blobs;
    return s->nblobs;
}

size_t fathom_packed_share_released(fathom_packed_share *s) {
    pthread_mutex_lock(&s->lock);
    size_t b = s->released_bytes;
    pthread_mutex_unlock(&s->lock);
    return b;
}

size_t fathom_weights_released(const fathom_weights *w) {
    return w->share ? fathom_packed_share_released(w->share) : w->released_bytes;
}

static fathom_status release_pages(fathom_weights *w, const float *const *src, const size_t *floats,
                                   size_t n, size_t *bytes) {
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
        *bytes += pb - pa;
    }
    return FATHOM_OK;
}

fathom_status fathom_weights_release(fathom_weights *w, const float *const *src, const size_t *floats,
                                     size_t n) {
    if (!w || !w->arena) return FATHOM_OK; /* weights not in an arena (tests): nothing to give */
    fathom_packed_share *s = w->share;
    if (!s) return release_pages(w, src, floats, n, &w->released_bytes);
    pthread_mutex_lock(&s->lock);
    fathom_status st = FATHOM_OK;
    if (!s->released && s->n == 1) { /* several formats: each may read what another packed */
        st = release_pages(w, src, floats, n, &s->released_bytes);
        s->released = 1; /* not copied to w->released_bytes: engines copy *w unlocked (engine.c) */
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}
