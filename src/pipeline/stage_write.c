/* stage_write.c - postprocess+write pool: resize to the source size, hand to the sink.
 *
 * DESIGN: `workers` threads pop q_write in any order and resize each item's network output
 * to its source size (bilinear, align_corners) into item->depth (a worker buffer lent to the
 * item for unordered sinks, the item's own for ordered ones).
 * Unordered sinks are called right there, concurrently. Ordered sinks go through the reorder
 * buffer: the item is parked in slot index % n_items (at most n_items items are in flight,
 * so slots never collide), and whichever worker holds the lock delivers the run of
 * consecutive indices starting at next_index, one at a time. Every item is then accounted
 * and returned to the pool. A disk-full error stops the input (fatal): later items would
 * fail the same way, and what was written stays complete (temporary names + rename). */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "pipeline/pipeline.h"

static void write_one(struct fathom_pipeline *pl, fathom_item *it) {
    double t = fathom_now_s();
    fathom_status st = pl->sink.ops->write(pl->sink.self, it);
    if (st != FATHOM_OK && it->state != FATHOM_ITEM_FAILED) {
        fathom_item_fail_last(it, st);
        if (st == FATHOM_ERR_DISK_FULL) fathom_pipeline_set_fatal(pl, st, it->error);
    }
    it->t_stage[FATHOM_STAGE_WRITE] += fathom_now_s() - t;
}

/* Unordered sinks are done with item->depth when write() returns, so the source-size depth
 * map lives in a buffer of the worker, lent to the item for the write: idle items then hold
 * no full-resolution buffer (8 MB per 1080p item). Ordered sinks keep per-item buffers (the
 * item waits in the reorder buffer with its depth). */
static void swap_depth(fathom_item *it, float **buf, size_t *cap) {
    float *b = it->depth;
    size_t c = it->depth_cap;
    it->depth = *buf;
    it->depth_cap = *cap;
    *buf = b;
    *cap = c;
}

void *fathom_stage_write(void *arg) {
    struct fathom_pipeline *pl = arg;
    float *wbuf = NULL; /* owned: the worker's depth buffer (unordered sinks), grow-only */
    size_t wcap = 0;
    int lend = !pl->sink.ops->ordered;
    void *p;
    while (fathom_queue_pop(pl->q_write, &p) == 1) {
        fathom_item *it = p;
        double t = fathom_now_s();
        if (lend) swap_depth(it, &wbuf, &wcap); /* the item borrows the worker's buffer */
        if (it->state == FATHOM_ITEM_PENDING) {
            fathom_status st = fathom_item_reserve(&it->depth, &it->depth_cap,
                                                   (size_t)it->width * it->height);
            if (st == FATHOM_OK && fathom_model_is_depthpro(pl->model))
                fathom_dp_item_output(pl, it); /* metric depth with the focal length */
            else if (st == FATHOM_OK && pl->vda)
                ; /* the VDA stage gave the depth at the source size */
            else if (st == FATHOM_OK)
                fathom_resize_depth(it->depth_net, it->net_h, it->net_w, it->depth, it->height,
                                    it->width);
            else
                fathom_item_fail(it, st, "%s: %s", it->source.s, fathom_last_error());
        }
        it->t_stage[FATHOM_STAGE_WRITE] = fathom_now_s() - t;
        if (lend) {
            write_one(pl, it);
            swap_depth(it, &wbuf, &wcap); /* take the buffer back before the item is pooled */
            fathom_pipeline_add_busy(pl, FATHOM_STAGE_WRITE, it->t_stage[FATHOM_STAGE_WRITE]);
            fathom_pipeline_finish_item(pl, it);
            continue;
        }
        fathom_pipeline_add_busy(pl, FATHOM_STAGE_WRITE, it->t_stage[FATHOM_STAGE_WRITE]);
        pthread_mutex_lock(&pl->reorder_mu);
        pl->reorder[it->index % pl->n_items] = it;
        for (;;) {
            size_t slot = pl->next_index % pl->n_items;
            fathom_item *next = pl->reorder[slot];
            if (!next || next->index != pl->next_index) break;
            pl->reorder[slot] = NULL;
            pl->next_index++;
            double tw = fathom_now_s();
            write_one(pl, next);
            fathom_pipeline_add_busy(pl, FATHOM_STAGE_WRITE, fathom_now_s() - tw);
            pthread_mutex_unlock(&pl->reorder_mu); /* let others park items meanwhile */
            fathom_pipeline_finish_item(pl, next);
            pthread_mutex_lock(&pl->reorder_mu);
        }
        pthread_mutex_unlock(&pl->reorder_mu);
    }
    fathom_free_sized(wbuf, wcap * sizeof(float));
    return NULL;
}
