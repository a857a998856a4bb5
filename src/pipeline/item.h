/* item.h - the unit of work that flows through the pipeline: one image, URL or video frame.
 *
 * DESIGN
 *   Items are pooled. The pipeline allocates a fixed set of items when it starts (enough to
 *   fill every queue plus one per worker and the largest batch), and hands them out through a
 *   free queue. The source takes a free item (blocking when all are in flight: that is the
 *   backpressure which bounds memory), fills its identity, and the item travels
 *   source -> decode -> infer -> write, and back to the free queue.
 *   Buffers (strings, network input, depth maps) grow to the largest size seen and are kept
 *   across reuse, so the steady state allocates nothing per item except what the image
 *   decoder returns (fathom_image, released as soon as preprocessing is done).
 *   A failed item keeps travelling (every stage skips its work when status != OK) so that
 *   every input reaches the sink and the report: nothing is dropped silently, and ordered
 *   sinks see every index.
 *
 * Ownership: the item owns every pointer field marked `owned`; whichever stage holds the item
 * (the thread that popped it) may touch it, no one else. item_reset() keeps the buffers. */
#ifndef FATHOM_PIPELINE_ITEM_H
#define FATHOM_PIPELINE_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

typedef enum fathom_item_kind {
    FATHOM_ITEM_FILE = 0, /* `source` is a local path; the decode stage loads it */
    FATHOM_ITEM_URL,      /* `source` is an http(s) URL; the decode stage fetches it */
    FATHOM_ITEM_FRAME     /* the source already decoded `image` (video frame, stdin bytes) */
} fathom_item_kind;

typedef enum fathom_item_state {
    FATHOM_ITEM_PENDING = 0, /* in flight */
    FATHOM_ITEM_DONE,        /* all outputs written */
    FATHOM_ITEM_SKIPPED,     /* --resume: all outputs already present */
    FATHOM_ITEM_FAILED       /* status/error say why */
} fathom_item_state;

/* Stages, for timings and per-stage accounting. */
typedef enum fathom_stage {
    FATHOM_STAGE_SOURCE = 0,
    FATHOM_STAGE_DECODE, /* read/fetch + decode + preprocess */
    FATHOM_STAGE_INFER,  /* this item's share of its batch */
    FATHOM_STAGE_WRITE,  /* resize to source size + encode + write (sink) */
    FATHOM_STAGE_COUNT
} fathom_stage;

/* A growable string kept across reuse. */
typedef struct fathom_str {
    char *s;    /* owned; NUL-terminated ("" when empty after first use) */
    size_t cap; /* bytes allocated */
} fathom_str;

typedef struct fathom_item {
    uint64_t index;          /* 0-based position in source order (ordered sinks use it) */
    fathom_item_kind kind;
    fathom_str source;       /* owned: path, URL or "video.mp4#12": names the item in messages */
    fathom_str rel_out;      /* owned: output path relative to the output dir, without
                                extension ("sub/dir/stem"); set by the source, made unique
                                by naming.h in the source thread */
    fathom_str outputs;      /* owned: paths the sink wrote (or found, when skipped),
                                '\n'-separated; for the report */
    fathom_str ident;        /* owned: canonical input (realpath or URL) for the manifest
                                and duplicate detection; set by naming.h; "" for frames */
    int64_t dup_of;          /* index of the earlier item naming the same input, else -1 */

    /* decoded input */
    fathom_image image;      /* owned: decoded RGB (fathom_image_free); freed by the decode
                                stage right after preprocessing, or filled by the source for
                                FATHOM_ITEM_FRAME */
    int width, height;       /* source image size (kept after `image` is released) */
    int64_t pts;             /* video: presentation time in time_base units; else -1 */
    int tb_num, tb_den;      /* video: time base of pts; else 0/1 */
    void *user;              /* borrowed: per-item data of a custom source/sink (e.g. the
                                video source's frame metadata); the pipeline never touches it */

    /* network input and output */
    int net_h, net_w;        /* network size (multiples of 14) */
    float *x;                /* owned, grow-only: (3, net_h, net_w) preprocessed input */
    size_t x_cap;            /* floats allocated in x */
    float *depth_net;        /* owned, grow-only: (net_h, net_w) raw network output */
    size_t depth_net_cap;
    float *depth;            /* owned, grow-only: (height, width) output at the source size;
                                with an unordered sink the write worker swaps in its own
                                buffer for the write and takes it back (stage_write.c) */
    size_t depth_cap;

    /* Depth Pro only (stage_depthpro.c); reset to 0 / NAN */
    float fov_deg;           /* FOV head output, degrees */
    double f35_mm;           /* EXIF FocalLengthIn35mmFilm (0: none) */
    double focal_px;         /* focal length the metric depth used (0: not Depth Pro) */
    int focal_source;        /* 0 estimated, 1 EXIF, 2 given (--focal-px) */

    /* accounting */
    double t_stage[FATHOM_STAGE_COUNT]; /* seconds of work in each stage */
    double t_start, t_end;   /* monotonic seconds: taken from the pool / reached the sink */
    int batch_size;          /* size of the batch it was inferred in */
    int device_slot;         /* inference thread (device) that ran it */
    fathom_item_state state;
    fathom_status status;    /* FATHOM_OK unless FAILED */
    char error[512];         /* message naming the item and the cause when FAILED */
} fathom_item;

/* Zero a new item (no allocation). */
void fathom_item_init(fathom_item *it);
/* Forget the previous content for reuse: keeps the buffers, frees `image`. */
void fathom_item_reset(fathom_item *it);
/* Free every owned buffer. Accepts NULL. */
void fathom_item_destroy(fathom_item *it);

/* Set a growable string (grows it when needed). */
fathom_status fathom_str_set(fathom_str *str, const char *s);
/* Ensure the float buffer *buf (with *cap floats) holds at least n floats (grow-only,
 * tracked allocation, contents not kept). */
fathom_status fathom_item_reserve(float **buf, size_t *cap, size_t n);

/* Mark the item failed with status s and a formatted message ("<source>: <cause>" is the
 * caller's job). Keeps the first failure if already failed. */
void fathom_item_fail(fathom_item *it, fathom_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fail with the current thread's fathom_last_error() (or the status text) as the message. */
void fathom_item_fail_last(fathom_item *it, fathom_status s);

#endif
