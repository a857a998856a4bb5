/* pipeline.h - internals shared by pipeline.c and the stage files.
 *
 * DESIGN (the whole pipeline; each stage file repeats its own part)
 *
 *   source thread --q_decode--> decode pool (W) --q_infer--> infer (1 per device)
 *        ^                          |  (skipped/failed items go straight on)   |
 *        |                          +-------------------q_write---------------+
 *        |                                                   v
 *        +------------------- q_free <------------- write pool (W) -> sink
 *
 *   Items: a fixed pool (item.h) circulates; q_free holds the idle ones. The source thread
 *   takes a free item before asking the source for the next input, so at most `n_items`
 *   inputs are in flight and memory is bounded by the queue sizes whatever the input count.
 *   Ordering: no order between items is kept across the pools (parallel workers); each item
 *   carries its source index. Ordered sinks get index order back through the reorder buffer
 *   in stage_write.c. The report lists items in completion order, each with its index.
 *   Backpressure: every queue is bounded; a slow stage blocks the push of the stage before it,
 *   up to the source, which then stops reading input.
 *   Shutdown: the source thread closes q_decode when the input ends, on cancel, on a fatal
 *   error, or after the first failure with fail_fast. The last decode worker to leave closes
 *   q_infer; the last inference thread closes q_write; the write pool drains it. So every item
 *   taken from the source is finished (written, skipped or failed) before run() returns:
 *   cancel means "stop taking input and start no new image" (the batch in progress is
 *   written; images not yet decoded or inferred fail as interrupted, video frames finish;
 *   a second Ctrl-C in the CLI exits at once; temporary-name writes keep final names clean).
 *   Errors: an item's failure stays in the item (state, status, message) and travels to the
 *   sink and the report. Only setup-level failures (the source cannot go on, the disk is full,
 *   the sink cannot finish) are fatal: recorded once in `fatal` and they stop the input.
 *   Threads never print; progress leaves through the on_stats/on_item callbacks. */
#ifndef FATHOM_PIPELINE_PIPELINE_H
#define FATHOM_PIPELINE_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "fathom.h"
#include "net/fetch.h"
#include "pipeline/input_guard.h"
#include "pipeline/item.h"
#include "pipeline/manifest.h"
#include "pipeline/naming.h"
#include "pipeline/queue.h"
#include "pipeline/report.h"
#include "pipeline/sink.h"
#include "pipeline/source.h"

struct fathom_pipeline {
    fathom_run_params p;            /* copy; pointers inside are borrowed */
    const fathom_model *model;      /* borrowed */
    fathom_source src;              /* owned */
    fathom_sink sink;               /* owned */
    fathom_engine *engines[FATHOM_MAX_DEVICES]; /* owned (not for VDA models), except the lent */
    unsigned lent;                  /* bit d: engines[d] is borrowed (fathom_pipeline_create_lent) */
    struct fathom_vda_stage *vda;   /* owned, Video Depth Anything models only (stage_vda.c) */
    fathom_vda **vda_keep;          /* borrowed, may be NULL: the caller's slot for a VDA model
                                       instance kept across pipelines (fathom_pipeline_create_lent) */
    fathom_fetcher *fetcher;        /* owned */
    fathom_names *names;            /* owned */
    fathom_manifest *manifest;      /* owned, NULL for custom sinks: OUTDIR's manifest */
    fathom_input_ids *input_ids;    /* owned, may be NULL: inputs named (never written over) */
    fathom_report *report;          /* owned, NULL without report_path */
    fathom_item *items;             /* owned: the pool */
    size_t n_items;
    fathom_queue *q_free, *q_decode, *q_infer, *q_write; /* owned */

    atomic_int cancel;              /* fathom_pipeline_cancel */
    atomic_int stop;                /* stop taking input (cancel, fatal, fail_fast) */
    atomic_int decode_alive, infer_alive;
    atomic_llong taken, done, skipped, failed, finished, batches;
    atomic_llong busy_ns[FATHOM_STAGE_COUNT];
    double t0;                      /* monotonic start of run() */

    pthread_mutex_t mu;             /* fatal, on_item, report */
    pthread_mutex_t reorder_mu;     /* reorder buffer; held while an ordered sink writes */
    fathom_status fatal;
    char fatal_msg[512];
    /* ordered sinks */
    fathom_item **reorder;          /* owned array (items borrowed): n_items slots */
    uint64_t next_index;
    int ran;
    int shard_index, shard_count;   /* inputs source only (cluster/shard.h); 0/0: all */
    int (*take)(void *user, uint64_t pos); /* inputs source only: run params' take */
    void *take_user;
};

/* Monotonic seconds. */
double fathom_now_s(void);
/* Record a fatal error (first one wins) and stop taking input. */
void fathom_pipeline_set_fatal(struct fathom_pipeline *pl, fathom_status s, const char *msg);
/* Account a finished item (counters, report, on_item) and return it to the pool. Called from
 * write workers. */
void fathom_pipeline_finish_item(struct fathom_pipeline *pl, fathom_item *it);
/* Add seconds of work to a stage's busy counter. */
void fathom_pipeline_add_busy(struct fathom_pipeline *pl, fathom_stage s, double seconds);
/* After a cancel, an image not yet decoded or inferred is not started (the stages fail it as
 * interrupted): Ctrl-C stops after the batch in progress. Video frames still finish, so an
 * ordered sink never sees a hole. */
static inline int fathom_item_cancelled(struct fathom_pipeline *pl, const fathom_item *it) {
    return it->kind != FATHOM_ITEM_FRAME && atomic_load(&pl->cancel);
}

/* Depth Pro items (stage_depthpro.c): network input and EXIF focal length from the decoded
 * image; metric depth at the source size from the canonical inverse depth. Both fail the item
 * with a message on error. */
void fathom_dp_item_input(struct fathom_pipeline *pl, fathom_item *it);
void fathom_dp_item_output(struct fathom_pipeline *pl, fathom_item *it);

/* Stage thread bodies (arg: the pipeline); stage_<name>.c. */
void *fathom_stage_source(void *arg);
void *fathom_stage_decode(void *arg);
void *fathom_stage_infer(void *arg); /* arg: a fathom_infer_arg */
void *fathom_stage_write(void *arg);

/* Video Depth Anything (stage_vda.c): one inference thread on device 0 that feeds frames to
 * the model in index order and passes each item on when its depth (at the source size, in
 * item->depth) comes out; the write stage then leaves it as it is. The decode stage keeps
 * the frame's pixels (the model preprocesses in order) and sends every item, failed ones too,
 * through q_infer. The stage holds up to FATHOM_VDA_HELD items (offline output lags the input
 * by up to 32 frames), which the pool adds. */
#define FATHOM_VDA_HELD 40
fathom_status fathom_vda_stage_create(struct fathom_pipeline *pl, struct fathom_vda_stage **out);
void fathom_vda_stage_free(struct fathom_vda_stage **s);
void *fathom_stage_vda(void *arg); /* arg: the pipeline */

typedef struct fathom_infer_arg {
    struct fathom_pipeline *pl; /* borrowed */
    int slot;                   /* device slot: engines[slot] */
} fathom_infer_arg;

/* For custom sources and sinks (video): like fathom_pipeline_create, but items come from
 * `src` and go to `sink` (both taken over: freed by fathom_pipeline_free, also on failure).
 * params->inputs, outdir, formats, existing and recursive are ignored. */
fathom_status fathom_pipeline_create_with(const fathom_model *m, const fathom_run_params *params,
                                          fathom_source *src, fathom_sink *sink,
                                          fathom_pipeline **out);
/* The same, with engines kept by the caller across pipelines (the chunks of a video share
 * their worker's engine: created once, not once per chunk): engines (may be NULL) has one
 * entry per device of params; a non-NULL entry is used, borrowed, instead of creating one.
 * A Video Depth Anything model has one instance instead: vda_keep (may be NULL) is the
 * caller's slot for it; a non-NULL *vda_keep is started over (fathom_vda_reset) and used,
 * else the new instance is put there. The caller frees it (fathom_vda_free) after the
 * pipeline. */
fathom_status fathom_pipeline_create_lent(const fathom_model *m, const fathom_run_params *params,
                                          fathom_engine *const *engines, fathom_vda **vda_keep,
                                          fathom_source *src, fathom_sink *sink,
                                          fathom_pipeline **out);

#endif
