/* stage_source.c - the source thread: pool item -> source->next() -> unique name -> q_decode.
 *
 * DESIGN: one thread, so sources and the name set need no locks. It blocks on q_free when
 * every item is in flight (backpressure). It stops taking input on end of input, cancel, a
 * fatal error or (fail_fast) the first failure, and then closes q_decode, which drains the
 * rest of the pipeline. */
#include <string.h>

#include "cluster/shard.h"
#include "core/status.h"
#include "pipeline/pipeline.h"

void *fathom_stage_source(void *arg) {
    struct fathom_pipeline *pl = arg;
    uint64_t index = 0;
    while (!atomic_load(&pl->stop)) {
        void *p;
        if (fathom_queue_pop(pl->q_free, &p) != 1) break;
        fathom_item *it = p;
        if (atomic_load(&pl->stop)) { /* stopped while waiting for a free item */
            fathom_queue_push(pl->q_free, it);
            break;
        }
        double t = fathom_now_s();
        fathom_item_reset(it);
        it->index = index;
        it->t_start = t;
        int done = 0;
        fathom_status st;
        for (;;) { /* --shard, --mpi: every input is named, so names equal a single run's */
            st = pl->src.ops->next(pl->src.self, it, &done);
            if (st == FATHOM_OK && !done && it->rel_out.s && it->rel_out.s[0])
                st = fathom_names_claim(pl->names, it);
            if (st != FATHOM_OK || done ||
                (fathom_shard_takes(index, pl->shard_index, pl->shard_count) &&
                 (!pl->take || pl->take(pl->take_user, index))))
                break;
            index++; /* another shard's input: reuse the item for the next one */
            fathom_item_reset(it);
            it->index = index;
            if (atomic_load(&pl->stop)) {
                done = 1;
                break;
            }
            t = fathom_now_s();
            it->t_start = t;
        }
        if (st != FATHOM_OK || done) {
            /* an error after a cancel is the cancel's doing (EINTR on a stdin list) */
            if (st != FATHOM_OK && !atomic_load(&pl->stop))
                fathom_pipeline_set_fatal(pl, st, fathom_last_error());
            fathom_item_reset(it);
            fathom_queue_push(pl->q_free, it);
            break;
        }
        index++;
        it->t_stage[FATHOM_STAGE_SOURCE] = fathom_now_s() - t;
        fathom_pipeline_add_busy(pl, FATHOM_STAGE_SOURCE, it->t_stage[FATHOM_STAGE_SOURCE]);
        atomic_fetch_add(&pl->taken, 1);
        if (fathom_queue_push(pl->q_decode, it) != FATHOM_OK) break; /* cannot happen: we close it */
    }
    fathom_queue_close(pl->q_decode);
    return NULL;
}
