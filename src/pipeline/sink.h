/* sink.h - where finished items go: the last stage of the pipeline.
 *
 * DESIGN
 *   The write pool (--workers threads) pops finished items, resizes the network output to the
 *   source size (item->depth) and hands each item to the sink. EVERY item reaches the sink,
 *   failed and skipped ones included (state != FATHOM_ITEM_PENDING), so ordered sinks see
 *   every index and can close gaps.
 *   Two kinds:
 *   - unordered (ordered = 0): write() is called concurrently from the write workers, in any
 *     order. The per-item file sink (one file per output format) is of this kind.
 *   - ordered (ordered = 1): the pipeline puts items into a reorder buffer and calls write()
 *     for one item at a time, in index order (0, 1, 2, ...), serialized under a lock, from
 *     whichever write worker completed the run of consecutive indices. The buffer never holds
 *     more items than the pool has (queue sizes + workers + batch), so memory stays bounded;
 *     a missing index is always in flight, because failed items travel on (see item.h).
 *     A video sink (encoder + muxer) is of this kind.
 *   write() returns FATHOM_OK, or a status with the message recorded by fathom_fail (naming the
 *   output path and the cause); the pipeline then marks the item FAILED. The sink fills
 *   item->outputs with the paths it wrote.
 *   finish() runs once after the last item (flush an encoder, write a trailer), on the
 *   pipeline's controlling thread, also after a cancel.
 *   Item buffers are borrowed during write(): keep nothing after returning (copy what is
 *   needed). */
#ifndef FATHOM_PIPELINE_SINK_H
#define FATHOM_PIPELINE_SINK_H

#include "pipeline/item.h"

typedef struct fathom_sink_ops {
    const char *name;
    int ordered; /* 1: write() in index order, one at a time; 0: concurrent, any order */
    /* Optional (may be NULL): called in the decode pool before any work on the item.
     * Set *skip = 1 when the item needs no work (--resume: all outputs present; fill
     * item->outputs), or return an error status (fathom_fail) when the item must not run
     * (an output exists and overwriting is not allowed). Thread-safe. */
    fathom_status (*check)(void *self, fathom_item *it, int *skip);
    /* Write one item (see above). For state PENDING items, item->depth holds
     * (height, width) floats. Called also for FAILED/SKIPPED items (usually a no-op). */
    fathom_status (*write)(void *self, fathom_item *it);
    /* Optional: after the last item. */
    fathom_status (*finish)(void *self);
    void (*free)(void *self); /* accepts NULL self */
} fathom_sink_ops;

typedef struct fathom_sink {
    const fathom_sink_ops *ops; /* borrowed (static table) */
    void *self;                 /* owned through ops->free */
} fathom_sink;

/* ---- the built-in file sink: OUTDIR/<rel_out>.<ext>, one file per format ---- */

typedef struct fathom_file_sink_opts {
    const char *outdir;       /* borrowed; created (mkdir -p) when missing */
    unsigned formats;         /* fathom_output_format bits */
    fathom_write_opts write;  /* invert, colormap, metric */
    fathom_exist exist;       /* what to do with outputs that already exist */
    struct fathom_manifest *manifest;       /* borrowed, may be NULL: OUTDIR's record of which
                                               input wrote which output (manifest.h) */
    const struct fathom_input_ids *inputs;  /* borrowed, may be NULL: inputs named, never
                                               written over (input_guard.h) */
} fathom_file_sink_opts;

/* Existing outputs (docs/pipeline.md): a file is replaced (--overwrite, or --resume redoing a
 * partly done input) only when the manifest records it as this input's output; a file that
 * is this input or one named on the command line is never written. The strings are copied. *out owned by the caller (fathom_sink_free). */
fathom_status fathom_file_sink_create(const fathom_file_sink_opts *opts, fathom_sink *out);
void fathom_sink_free(fathom_sink *sink); /* accepts a zeroed sink; zeroes it */

#endif
