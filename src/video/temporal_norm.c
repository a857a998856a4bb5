/* temporal_norm.c - EMA min/max with look-ahead and scene-cut reset (see temporal_norm.h). */
#include "video/temporal_norm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define TN_CELLS (FATHOM_TNORM_THUMB * FATHOM_TNORM_THUMB)

typedef struct tn_slot {
    float lo, hi;
    int cut; /* this frame differs from the one before it: a new scene starts here */
} tn_slot;

struct fathom_tnorm {
    fathom_tnorm_opts opts;
    tn_slot *slot;  /* owned: cap = lookahead + 1, ring */
    int cap, head, count;
    int flushed, started;
    float ema_lo, ema_hi;
    int have_prev;
    float prev_lo, prev_hi;
    float prev_thumb[TN_CELLS];
    double acc[TN_CELLS];  /* scratch for the thumbnail of the frame being pushed */
    int cnt[TN_CELLS];
    int *col_cell;         /* owned: thumbnail column of each image column (w entries) */
    int col_w;
};

fathom_tnorm_opts fathom_tnorm_default_opts(void) {
    fathom_tnorm_opts o = {0.9f, 8, 0.3f};
    return o;
}

fathom_status fathom_tnorm_create(const fathom_tnorm_opts *opts, fathom_tnorm **out) {
    *out = NULL;
    fathom_tnorm_opts o = opts ? *opts : fathom_tnorm_default_opts();
    if (!(o.decay >= 0 && o.decay < 1) || o.lookahead < 0 || o.lookahead > 1024)
        return fathom_fail(FATHOM_ERR_INVALID_ARG,
                           "temporal normalization: decay %g must be in [0, 1), look-ahead %d in "
                           "[0, 1024]", o.decay, o.lookahead);
    fathom_tnorm *tn = calloc(1, sizeof *tn);
    if (tn) tn->slot = calloc((size_t)o.lookahead + 1, sizeof *tn->slot);
    if (!tn || !tn->slot) {
        free(tn);
        return fathom_fail(FATHOM_ERR_NOMEM, "temporal normalization: out of memory");
    }
    tn->opts = o;
    tn->cap = o.lookahead + 1;
    *out = tn;
    return FATHOM_OK;
}

void fathom_tnorm_free(fathom_tnorm **ptn) {
    if (!ptn || !*ptn) return;
    free((*ptn)->slot);
    free((*ptn)->col_cell);
    free(*ptn);
    *ptn = NULL;
}

int fathom_tnorm_pending(const fathom_tnorm *tn) { return tn->count; }

void fathom_tnorm_flush(fathom_tnorm *tn) { tn->flushed = 1; }

fathom_status fathom_tnorm_push(fathom_tnorm *tn, const float *depth, int h, int w) {
    if (tn->count == tn->cap)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "temporal normalization: window full");
    if (h <= 0 || w <= 0 || !depth)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "temporal normalization: empty frame");
    const int T = FATHOM_TNORM_THUMB;
    if (tn->col_w != w) { /* once per frame size: no division per pixel */
        int *cc = realloc(tn->col_cell, (size_t)w * sizeof *cc);
        if (!cc) return fathom_fail(FATHOM_ERR_NOMEM, "temporal normalization: out of memory");
        for (int x = 0; x < w; x++) cc[x] = (int)((int64_t)x * T / w);
        tn->col_cell = cc;
        tn->col_w = w;
    }
    const int *col_cell = tn->col_cell;
    float lo = INFINITY, hi = -INFINITY;
    memset(tn->acc, 0, sizeof tn->acc);
    memset(tn->cnt, 0, sizeof tn->cnt);
    for (int y = 0; y < h; y++) {
        const float *row = depth + (size_t)y * w;
        double *acc = tn->acc + (size_t)(y * T / h) * T;
        int *cnt = tn->cnt + (size_t)(y * T / h) * T;
        for (int x = 0; x < w; x++) {
            float v = row[x];
            if (!isfinite(v)) continue;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            acc[col_cell[x]] += v;
            cnt[col_cell[x]]++;
        }
    }
    if (!(lo <= hi)) lo = hi = 0; /* nothing finite */
    float thumb[TN_CELLS];
    float span = hi > lo ? hi - lo : 1;
    for (int i = 0; i < TN_CELLS; i++)
        thumb[i] = tn->cnt[i] ? (float)((tn->acc[i] / tn->cnt[i] - lo) / span) : 0;
    int cut = 0;
    if (tn->have_prev && tn->opts.cut_threshold > 0) {
        /* a new layout, or a depth range that hardly overlaps the previous one */
        double d = 0;
        for (int i = 0; i < TN_CELLS; i++) d += fabsf(thumb[i] - tn->prev_thumb[i]);
        double inter = fmin(hi, tn->prev_hi) - fmax(lo, tn->prev_lo);
        double uni = fmax(hi, tn->prev_hi) - fmin(lo, tn->prev_lo);
        cut = d / TN_CELLS > tn->opts.cut_threshold || (uni > 0 && inter / uni < 0.25);
    }
    memcpy(tn->prev_thumb, thumb, sizeof thumb);
    tn->prev_lo = lo;
    tn->prev_hi = hi;
    tn->have_prev = 1;
    tn_slot *s = &tn->slot[(tn->head + tn->count) % tn->cap];
    s->lo = lo;
    s->hi = hi;
    s->cut = cut;
    tn->count++;
    return FATHOM_OK;
}

int fathom_tnorm_pop(fathom_tnorm *tn, float *lo, float *hi, int *cut) {
    if (tn->count == 0 || (!tn->flushed && tn->count < tn->cap)) return 0;
    const tn_slot *f = &tn->slot[tn->head];
    float tlo = f->lo, thi = f->hi;
    for (int k = 1; k < tn->count; k++) { /* look ahead within this scene */
        const tn_slot *n = &tn->slot[(tn->head + k) % tn->cap];
        if (n->cut) break;
        tlo = n->lo < tlo ? n->lo : tlo;
        thi = n->hi > thi ? n->hi : thi;
    }
    const float a = tn->opts.decay;
    int reset = !tn->started || f->cut;
    float l = reset ? tlo : a * tn->ema_lo + (1 - a) * tlo;
    float u = reset ? thi : a * tn->ema_hi + (1 - a) * thi;
    if (f->lo < l) l = f->lo; /* never clip the frame itself */
    if (f->hi > u) u = f->hi;
    if (!(u > l)) u = l + (fabsf(l) > 1 ? fabsf(l) * 1e-6f : 1e-6f);
    tn->ema_lo = l;
    tn->ema_hi = u;
    tn->started = 1;
    *lo = l;
    *hi = u;
    if (cut) *cut = reset;
    tn->head = (tn->head + 1) % tn->cap;
    tn->count--;
    return 1;
}
