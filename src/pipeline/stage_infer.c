/* stage_infer.c - one inference thread per device, owning its engine.
 *
 * DESIGN: the thread forms a batch from q_infer: the first item it gets fixes the network
 * shape; it then takes more items of the same shape until the batch is full or
 * batch_timeout_s has passed since the first one. An item of another shape ends the batch
 * and starts the next one (held in `pending`), so shapes never mix and nothing is reordered
 * needlessly. Before each batch the governor (when present) advises the batch size and a
 * pause; after it, the governor is told how long the engine was busy. Batch input/output
 * buffers are owned by the thread and grow to the largest batch seen; a batch of one runs
 * straight on the item's buffers. A failed forward fails every item of its batch, and the
 * run goes on. The last thread to leave closes q_write. */
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/status.h"
#include "governor/governor.h"
#include "pipeline/pipeline.h"

#define MAX_BATCH 256

typedef struct infer_state {
    fathom_engine *e;     /* borrowed: pl->engines[slot] */
    float *xb, *db;       /* owned, grow-only: batch input / output */
    size_t xb_cap, db_cap;
    fathom_item *batch[MAX_BATCH]; /* borrowed while in the batch */
} infer_state;

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void run_batch(struct fathom_pipeline *pl, int slot, infer_state *S, int n) {
    int h = S->batch[0]->net_h, w = S->batch[0]->net_w;
    size_t px = (size_t)h * w;
    double t = fathom_now_s();
    fathom_status st = fathom_engine_reserve(S->e, n, h, w);
    for (int i = 0; st == FATHOM_OK && i < n; i++)
        st = fathom_item_reserve(&S->batch[i]->depth_net, &S->batch[i]->depth_net_cap, px);
    if (st == FATHOM_OK && n == 1) {
        st = fathom_engine_forward(S->e, S->batch[0]->x, 1, h, w, S->batch[0]->depth_net);
    } else if (st == FATHOM_OK) {
        st = fathom_item_reserve(&S->xb, &S->xb_cap, (size_t)n * 3 * px);
        if (st == FATHOM_OK) st = fathom_item_reserve(&S->db, &S->db_cap, (size_t)n * px);
        for (int i = 0; st == FATHOM_OK && i < n; i++)
            memcpy(S->xb + (size_t)i * 3 * px, S->batch[i]->x, 3 * px * sizeof(float));
        if (st == FATHOM_OK) st = fathom_engine_forward(S->e, S->xb, n, h, w, S->db);
        for (int i = 0; st == FATHOM_OK && i < n; i++)
            memcpy(S->batch[i]->depth_net, S->db + (size_t)i * px, px * sizeof(float));
    }
    for (int i = 0; st == FATHOM_OK && i < n; i++) S->batch[i]->fov_deg = fathom_engine_fov_deg(S->e, i); /* Depth Pro */
    double dt = fathom_now_s() - t;
    const char *msg = st != FATHOM_OK ? fathom_last_error() : "";
    for (int i = 0; i < n; i++) {
        fathom_item *it = S->batch[i];
        if (st != FATHOM_OK)
            fathom_item_fail(it, st, "%s: inference failed: %s", it->source.s,
                             *msg ? msg : fathom_strerror(st));
        it->t_stage[FATHOM_STAGE_INFER] = dt / n;
        it->batch_size = n;
        it->device_slot = slot;
    }
    fathom_pipeline_add_busy(pl, FATHOM_STAGE_INFER, dt);
    atomic_fetch_add(&pl->batches, 1);
    if (pl->p.governor) fathom_governor_record(pl->p.governor, slot, dt, n);
    for (int i = 0; i < n; i++) fathom_queue_push(pl->q_write, S->batch[i]);
}

void *fathom_stage_infer(void *arg) {
    fathom_infer_arg *a = arg;
    struct fathom_pipeline *pl = a->pl;
    infer_state S;
    memset(&S, 0, sizeof S);
    S.e = pl->engines[a->slot];
    int max_batch = pl->p.batch < MAX_BATCH ? pl->p.batch : MAX_BATCH;
    fathom_item *pending = NULL; /* borrowed: first item of the next batch */
    for (;;) {
        void *p;
        if (!pending) {
            if (fathom_queue_pop(pl->q_infer, &p) != 1) break;
            pending = p;
        }
        int want = max_batch;
        if (pl->p.governor) {
            double pause = 0;
            fathom_governor_advise(pl->p.governor, a->slot, &want, &pause);
            if (want < 1) want = 1;
            if (want > max_batch) want = max_batch;
            sleep_s(pause);
        }
        if (fathom_item_cancelled(pl, pending)) { /* Ctrl-C: the batch running was the last */
            fathom_item_fail(pending, FATHOM_ERR_INTERRUPTED, "%s: not started: interrupted",
                             pending->source.s);
            fathom_queue_push(pl->q_write, pending);
            pending = NULL;
            continue;
        }
        int n = 0;
        S.batch[n++] = pending;
        pending = NULL;
        double deadline = fathom_now_s() + pl->p.batch_timeout_s;
        while (n < want) {
            double left = deadline - fathom_now_s();
            int r = left > 0 ? fathom_queue_pop_timeout(pl->q_infer, &p, left)
                             : fathom_queue_try_pop(pl->q_infer, &p);
            if (r != 1) break;
            fathom_item *it = p;
            if (it->net_h != S.batch[0]->net_h || it->net_w != S.batch[0]->net_w) {
                pending = it;
                break;
            }
            S.batch[n++] = it;
        }
        run_batch(pl, a->slot, &S, n);
    }
    fathom_free_sized(S.xb, S.xb_cap * sizeof(float));
    fathom_free_sized(S.db, S.db_cap * sizeof(float));
    if (atomic_fetch_sub(&pl->infer_alive, 1) == 1) fathom_queue_close(pl->q_write);
    return NULL;
}
