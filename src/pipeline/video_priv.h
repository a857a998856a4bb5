/* video_priv.h - the state a video job shares between its source, its sink and the caller. */
#ifndef FATHOM_PIPELINE_VIDEO_PRIV_H
#define FATHOM_PIPELINE_VIDEO_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "video/video_npz.h"
#include "pipeline/sink.h"
#include "pipeline/source.h"
#include "pipeline/video_job.h"

/* Timing of one emitted frame, queued by the source for the sink (both see index order). */
typedef struct video_meta {
    uint64_t index;        /* the pipeline item's */
    int64_t frame;         /* the video frame's (names the sequence files; > index on resume) */
    int64_t pts, duration; /* in the reader's time base */
} video_meta;

struct fathom_video_job {
    atomic_int refs;                 /* source + sink + caller */
    fathom_video_reader *reader;     /* owned */
    fathom_video_writer *writer;     /* owned; NULL without a depth video */
    fathom_video_npz *npz;           /* owned; NULL without --video-npz */
    char npz_path[4096];
    int npz_complete;
    fathom_video_run_opts opts;      /* copy; video_path points into video_path below */
    char *input;                     /* owned */
    char *stem;                      /* owned: input name without folder and extension */
    char *outdir;                    /* owned */
    char video_path[4096];
    fathom_write_opts write;         /* colormap, invert, metric for the sequences and colors */
    int64_t total;                   /* expected frames, -1 when unknown */

    pthread_mutex_t mu;              /* meta ring and the counters below */
    video_meta *meta;                /* owned ring */
    size_t meta_cap, meta_head, meta_count;
    atomic_int source_done;          /* the source reached the end of its input */
    int64_t frames_written, frames_failed;
    int complete;
    int write_failed;                /* an emit failed: the source stops (under mu) */
    char write_error[512];           /* its message, naming the frame (under mu) */
    int64_t failed_frame;            /* that frame (under mu) */
    int skipped;                     /* --resume: every output complete, nothing to do */
    int64_t resume_from;             /* first frame this run makes */
    char seq_dir[4096];              /* OUTDIR/<stem> when frame sequences are asked */
    int asked_npz, asked_seq;        /* outputs asked (opts may drop done ones on --resume) */
    char notes[1024];                /* what --resume decided, for the user */
    int vda;                         /* Video Depth Anything (1 offline, 2 streaming): frames
                                        depend on earlier ones (no continuing), one range */
};

/* Marker written in a frame sequence's folder when the sequence is complete (--resume). */
#define FATHOM_VIDEO_SEQ_DONE ".fathom-complete"

/* The sink records a failed output write: later frames are refused, the source stops. */
void fathom_video_job_write_failed(fathom_video_job *job, int64_t frame, const char *msg);

/* Take one more reference / drop one (frees at zero). */
void fathom_video_job_ref(fathom_video_job *job);
void fathom_video_job_unref(fathom_video_job *job);

/* Queue a frame's timing (source thread) / take the oldest (sink). */
fathom_status fathom_video_meta_push(fathom_video_job *job, const video_meta *m);
int fathom_video_meta_pop(fathom_video_job *job, video_meta *m);

/* The source and the sink of a job; each takes a reference. */
fathom_status fathom_video_source_create(fathom_video_job *job, fathom_source *out);
fathom_status fathom_video_sink_create(fathom_video_job *job, fathom_sink *out);

#endif
