/* stage_decode.c - decode+preprocess pool: read or fetch, decode, network input.
 *
 * DESIGN: `workers` threads pop q_decode in any order. For each item: the sink's check (resume
 * / existing outputs), then read the file or fetch the URL, decode, compute the network size
 * and preprocess into the item's grow-only x buffer; the decoded pixels are released at once
 * (only the network input travels on). Items that need no inference (skipped, failed) go
 * straight to q_write. The last worker to leave closes q_infer. No per-item allocation here
 * except the decoder's pixel buffer and a fetched URL's bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "pipeline/pipeline.h"

static void load_item(struct fathom_pipeline *pl, fathom_item *it) {
    fathom_status st = FATHOM_OK;
    if (it->kind == FATHOM_ITEM_FILE) {
        st = fathom_image_load(it->source.s, pl->p.max_pixels, &it->image);
    } else if (it->kind == FATHOM_ITEM_URL) {
        uint8_t *data = NULL; /* owned: fetched bytes */
        size_t size = 0;
        st = fathom_fetch_url(pl->fetcher, it->source.s, &data, &size);
        if (st == FATHOM_OK) st = fathom_image_decode(data, size, it->source.s, pl->p.max_pixels,
                                                      &it->image);
        free(data);
    }
    if (st != FATHOM_OK) {
        fathom_item_fail_last(it, st);
        return;
    }
    if (!it->image.rgb || it->image.width <= 0 || it->image.height <= 0) {
        fathom_item_fail(it, FATHOM_ERR_INTERNAL, "%s: source gave no pixels", it->source.s);
        return;
    }
    it->width = it->image.width;
    it->height = it->image.height;
    if (pl->vda) return; /* the VDA stage preprocesses the pixels, in frame order */
    if (fathom_model_is_depthpro(pl->model)) { /* fixed 1536^2 input, EXIF focal */
        fathom_dp_item_input(pl, it);
        fathom_image_free(&it->image);
        return;
    }
    int uh, uw; /* the official size, for the warning */
    fathom_network_size(it->height, it->width, pl->p.input_size, &uh, &uw);
    if (fathom_network_size_capped(it->height, it->width, pl->p.input_size,
                                   pl->p.max_network_pixels, &it->net_h, &it->net_w) &&
        (it->kind != FATHOM_ITEM_FRAME || it->index == 0)) /* a video: once */
        fathom_log(FATHOM_LOG_WARN, "%s: a %dx%d image gives a %dx%d network input (%.1f MP); "
                   "capped to %dx%d (max network pixels %llu)", it->source.s, it->width,
                   it->height, uw, uh, uw * (double)uh / 1e6, it->net_w, it->net_h,
                   (unsigned long long)pl->p.max_network_pixels);
    st = fathom_item_reserve(&it->x, &it->x_cap, (size_t)3 * it->net_h * it->net_w);
    if (st == FATHOM_OK)
        st = fathom_preprocess(it->image.rgb, it->height, it->width, it->image.stride, it->net_h,
                               it->net_w, it->x);
    if (st != FATHOM_OK) fathom_item_fail(it, st, "%s: %s", it->source.s, fathom_last_error());
    fathom_image_free(&it->image); /* only x travels on */
}

void *fathom_stage_decode(void *arg) {
    struct fathom_pipeline *pl = arg;
    void *p;
    while (fathom_queue_pop(pl->q_decode, &p) == 1) {
        fathom_item *it = p;
        double t = fathom_now_s();
        if (it->state == FATHOM_ITEM_PENDING && pl->sink.ops->check) {
            int skip = 0;
            fathom_status st = pl->sink.ops->check(pl->sink.self, it, &skip);
            if (st != FATHOM_OK) fathom_item_fail_last(it, st);
            else if (skip) it->state = FATHOM_ITEM_SKIPPED;
        }
        if (it->state == FATHOM_ITEM_PENDING && fathom_item_cancelled(pl, it))
            fathom_item_fail(it, FATHOM_ERR_INTERRUPTED, "%s: not started: interrupted",
                             it->source.s);
        if (it->state == FATHOM_ITEM_PENDING) load_item(pl, it);
        it->t_stage[FATHOM_STAGE_DECODE] = fathom_now_s() - t;
        fathom_pipeline_add_busy(pl, FATHOM_STAGE_DECODE, it->t_stage[FATHOM_STAGE_DECODE]);
        /* q_infer/q_write close only after every decode worker has left: the push succeeds */
        /* (the VDA stage sees every index: it feeds the model in frame order) */
        fathom_queue_push(it->state == FATHOM_ITEM_PENDING || pl->vda ? pl->q_infer : pl->q_write,
                          it);
    }
    if (atomic_fetch_sub(&pl->decode_alive, 1) == 1) fathom_queue_close(pl->q_infer);
    return NULL;
}
