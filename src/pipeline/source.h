/* source.h - where items come from: the first stage of the pipeline.
 *
 * DESIGN
 *   A source is a small vtable driven by ONE thread (the pipeline's source thread), so an
 *   implementation needs no locking. next() is called only after the pipeline has taken a
 *   free item from the pool, so a source can never run ahead of the queues: a folder of
 *   100k files or a 1M-line list is read lazily, one entry per call, and a video is decoded
 *   one frame per call.
 *   File and URL items only carry their name here; the decode pool reads/fetches and decodes
 *   them in parallel. Sources whose data is inherently sequential (video frames) decode in
 *   next() and hand over FATHOM_ITEM_FRAME items with `image` filled.
 *   Errors: an input that cannot be read but does not stop the run (an unreadable file inside
 *   a folder, a bad line in a list) is returned as an item already marked FAILED
 *   (fathom_item_fail) so it is counted and reported like any other item. A status other than
 *   FATHOM_OK from next() is fatal: the pipeline stops taking input, drains what is in flight
 *   and reports the error (exit code 2 in the CLI).
 *   Cancel: the pipeline simply stops calling next() and then calls free(). */
#ifndef FATHOM_PIPELINE_SOURCE_H
#define FATHOM_PIPELINE_SOURCE_H

#include <stdint.h>
#include <stdio.h>

#include "pipeline/item.h"

typedef struct fathom_source_ops {
    const char *name; /* "inputs", "video", ... (for messages) */
    /* Fill `it` (already reset; index, t_start set by the pipeline) with the next input:
     * kind, source, rel_out (path relative to the output dir, no extension), and for
     * FATHOM_ITEM_FRAME: image, width, height, pts, tb_num/tb_den. Sets *done = 1 (and fills
     * nothing) at the end of input. */
    fathom_status (*next)(void *self, fathom_item *it, int *done);
    /* Number of items when known (counted folders and lists, a video's frame count), else -1.
     * It may change while running (a background count lands; the exact number at the end). May be
     * NULL. Called from any thread: must be cheap and thread-safe (an atomic read). */
    int64_t (*total)(void *self);
    /* Release everything. Accepts NULL self. */
    void (*free)(void *self);
} fathom_source_ops;

typedef struct fathom_source {
    const fathom_source_ops *ops; /* borrowed (static table) */
    void *self;                   /* owned through ops->free */
} fathom_source;

/* ---- the built-in input source: files, folders, lists, stdin, URLs ---- */

typedef struct fathom_inputs_opts {
    int recursive;           /* descend into sub-folders of folder inputs */
    const char *skip_dir;    /* borrowed, may be NULL: a folder never walked (the output dir) */
    FILE *stdin_list;        /* borrowed, may be NULL: where "-" reads its list from */
} fathom_inputs_opts;

/* inputs: paths of image files, folders, list files (*.txt: one path or URL per line; blank
 * lines and lines starting with '#' ignored; relative paths are relative to the list's
 * folder), "-" (a list on stdin_list) or http(s) URLs. Every local input named here is
 * checked now: a missing or unreadable one is a setup error (FATHOM_ERR_NOT_FOUND /
 * FATHOM_ERR_IO naming the path). Folders are walked lazily with a stack of open
 * directories: entries of one folder are read and sorted when it is entered; hidden entries
 * (name starting with '.') are skipped, and only regular files with an image extension are
 * taken; the others (other extensions, FIFOs/sockets/devices, sub-folders without -r) are
 * counted by reason (fathom_inputs_source_ignored). List entries with a scheme other than http(s) are items
 * failed as unsupported.
 * Output names (rel_out):
 *   file argument or absolute list entry or URL: "<stem>"
 *   inside folder argument D:                     "<path relative to D>/<stem>"
 *   relative list entry "a/b/c.jpg":              "a/b/c" ('.' and '..' parts dropped)
 * The strings in inputs are copied. *out is owned by the caller (out->ops->free). */
fathom_status fathom_inputs_source_create(const char *const *inputs, int n,
                                          const fathom_inputs_opts *opts, fathom_source *out);

/* Entries of walked folders not taken so far, by fathom_ignored_kind (counts has
 * FATHOM_IGNORED_KINDS slots); zeros for other sources. Thread-safe (atomic reads). */
void fathom_inputs_source_ignored(const fathom_source *src, int64_t *counts);

/* Release a source (any implementation). Accepts a zeroed source; zeroes it. */
void fathom_source_free(fathom_source *src);

#endif
