/* chunk_job.h - one video as chunks on several engines at once, merged into one output
 * (`fathom run --chunks N --overlap K`, docs/scale-out.md).
 *
 *   1. plan (chunk_plan.h) and write the manifest (chunk_manifest.h) before any work;
 *      with resume, reuse a matching manifest and skip its finished chunks;
 *   2. one worker thread per device of the run params: each takes the next unfinished chunk
 *      and runs it as an ordinary video job over its time range (the reader seeks to the
 *      keyframe before it) into OUTDIR/.fathom-chunks/<name>.<hash>/cNNNNN/<stem>.npz (name:
 *      the input's file name; hash: of its real path, so same-named videos never share a
 *      work folder) (raw depth +
 *      pts, renamed into place when complete); the manifest is rewritten after each; a failed
 *      chunk is retried once (by whichever worker is free) before the video fails;
 *   3. merge (chunk_merge.c, from a thread of its own: chunk_follow.c) into the outputs asked
 *      for, chunk i as soon as chunks 0..i are finished (while the rest compute), as a single
 *      pass would write them:
 *      --video-npz and raw frame sequences of a per-frame model take every frame from the
 *      chunk that owns it (identical to a single pass); those of a relative Video Depth
 *      Anything model are aligned and cross-faded like the rest; the depth video and 8/16-bit sequences use the
 *      overlap: each chunk aligned to the previous one (align.h), cross-faded, then the
 *      usual temporal normalization; the source's audio and other streams are copied once.
 * The chunk folder is kept after the merge (remove it to reclaim the space; --resume of a
 * finished video merges again without running any chunk). */
#ifndef FATHOM_CLUSTER_CHUNK_JOB_H
#define FATHOM_CLUSTER_CHUNK_JOB_H

#include <pthread.h>
#include <stdatomic.h>

#include "cluster/chunk_plan.h"
#include "fathom.h"
#include "pipeline/video_job.h"

typedef struct fathom_chunk_run_opts {
    int n_chunks;             /* >= 1, or 0: automatic (fathom_chunk_auto) */
    int engines;              /* engines sharing the chunks (0: the devices of the params) */
    int overlap;              /* frames recomputed before each chunk, >= 0, or < 0: the
                                 default (fathom_chunk_default_overlap); only used where the
                                 merge aligns chunks or the model is temporal, else 0 */
    int resume;               /* reuse the manifest and the finished chunks */
    const atomic_int *cancel; /* borrowed, may be NULL: when set, running chunks stop and the
                                 manifest stays resumable */
} fathom_chunk_run_opts;

/* fathom_chunk_run_result: fathom.h (scale-out) */

/* Automatic chunk count for `frames` frames on `engines` engines: 3 per engine (dynamic
 * hand-out then evens out engines of different speed), but each chunk owns at least
 * 32 + 8 * overlap frames (so recomputed overlap stays under 1/8 of the work); at least 1. */
int fathom_chunk_auto(int64_t frames, int engines, int overlap);
/* 1 when the merge aligns chunks over their overlap: normalized outputs of relative models,
 * and every output of a relative Video Depth Anything model (video: each of its chunks has
 * its own scale and shift, raw depth too). Metric depth keeps its scale (never fitted). */
int fathom_chunk_aligns(const fathom_video_run_opts *vo, int metric, int video);
/* The overlap a chunk recomputes before its first frame, or 0 when none is needed: the
 * aligned outputs above, and a Video Depth Anything model even when metric (the frames give
 * its temporal windows their context). `overlap` < 0: the default, 16 frames, and for a
 * Video Depth Anything model one whole 32-frame window (its windows see 32 frames at once:
 * the fit then spans a full window of the chunk's own scale, not a partial one). */
int fathom_chunk_overlap(const fathom_video_run_opts *vo, int metric, int video, int overlap);
#define FATHOM_CHUNK_OVERLAP_DEFAULT 16
#define FATHOM_CHUNK_OVERLAP_VDA 32

/* Run `input` in chunks with params (outdir, devices: one worker each, formats, existing,
 * report_path: a JSON report of the chunks and seams) and video opts (outputs, tnorm; a
 * --start/--end/--max-frames range is refused). Errors name the input and the chunk. */
fathom_status fathom_chunked_video_run(const fathom_model *m, const fathom_run_params *params,
                                       const char *input, const fathom_video_run_opts *vo,
                                       const fathom_chunk_run_opts *co,
                                       fathom_chunk_run_result *res);

/* ---- internal: the steps, for the MPI driver (mpi_driver.c) ---- */
#include "cluster/chunk_manifest.h"
typedef struct fathom_chunk_ctx {
    char stem[1024], workdir[4096], mpath[4200];
    fathom_chunk_manifest man;  /* owned: the plan and what is done */
    int metric, video;          /* the model's: metric depth; Video Depth Anything */
    double t0, plan_s;          /* start; seconds planning (demux scan) */
    /* the timeline, for the report (where the time goes): per chunk, seconds from t0 when it
     * was handed out and when it was reported done, and the engine / rank that ran it */
    double *t_start, *t_end;    /* owned: n each */
    int *ran_on;                /* owned: n */
    int engines_created;        /* by every worker / rank (under the chunk table's lock) */
    pthread_mutex_t save_mu;    /* orders manifest saves (fathom_chunk_manifest_save_unlocked) */
    int save_mu_ready;
} fathom_chunk_ctx;
/* Chunk i handed to engine / rank `who`; chunk i done (call under the table's lock). */
void fathom_chunk_ctx_started(fathom_chunk_ctx *ctx, int i, int who);
void fathom_chunk_ctx_ended(fathom_chunk_ctx *ctx, int i);
/* Plan (or, resuming, load and check) the manifest, check the outputs, save the manifest. */
fathom_status fathom_chunk_prepare(const fathom_model *m, const fathom_run_params *params,
                                   const char *input, const fathom_video_run_opts *vo,
                                   const fathom_chunk_run_opts *co, fathom_chunk_ctx *ctx);
void fathom_chunk_ctx_clear(fathom_chunk_ctx *ctx);
struct fathom_chunk_follow;
/* After the workers and the merge thread f (stopped): the result (every chunk done and merged,
 * else interrupted or the merge's error) and the report (attempts: per chunk, may be NULL). */
fathom_status fathom_chunk_finish(fathom_chunk_ctx *ctx, const fathom_run_params *params,
                                  const char *input, const int *attempts,
                                  const struct fathom_chunk_follow *f,
                                  fathom_chunk_run_result *res);
/* The engines of one worker (local) or rank (MPI), kept across its chunks: created when its
 * first chunk runs (a weights upload on a GPU, quantization at load for int8/q4), not once per
 * chunk. A Video Depth Anything model has one instance (engine and temporal weights) instead,
 * started over for each chunk (fathom_vda_reset). */
typedef struct fathom_chunk_engines {
    fathom_engine *e[FATHOM_MAX_DEVICES]; /* owned, NULL until the first chunk */
    fathom_vda *vda;                       /* owned, NULL until the first chunk (VDA models) */
    int created;                           /* engines created so far (the report's count) */
} fathom_chunk_engines;
/* Free the engines (accepts NULL); created is kept. */
void fathom_chunk_engines_clear(fathom_chunk_engines *ce);
/* Run chunk i of `input` (plan entry c) with the devices of params into
 * workdir/cNNNNN/<stem>.npz, on the engines of ce (may be NULL: the chunk creates its own;
 * after a failed chunk they are freed, so a retry starts from fresh ones). on_pipeline (may
 * be NULL) is called with the chunk's pipeline before it runs (return 1 to not run it:
 * interrupted) and with NULL after. */
fathom_status fathom_chunk_run_one(const fathom_model *m, const fathom_run_params *params,
                                   const fathom_video_run_opts *vo, const char *input,
                                   const char *workdir, const fathom_chunk *c, int i,
                                   fathom_chunk_engines *ce,
                                   int (*on_pipeline)(void *user, fathom_pipeline *pl),
                                   void *user);

/* ---- internal: the merge step (chunk_merge.c) ---- */
typedef struct fathom_chunk_seam {
    int border;            /* between chunk border-1 and chunk border */
    int frames;            /* overlap frames used */
    double scale, shift, residual;
} fathom_chunk_seam;

/* The incremental merge: chunks are added in plan order, each as soon as it and every chunk
 * before it are finished, while later chunks still compute. Every frame is written once, as a
 * single pass would (the last frames of each chunk are held until the next chunk arrives: its
 * overlap aligns them, and its first timestamp ends the last one's duration). Memory: the held
 * overlap and the normalizer's look-ahead, whatever the video's length. */
typedef struct fathom_chunk_merger fathom_chunk_merger;
/* chunks (n entries), params, vo and seams (n - 1 entries, filled per border) are borrowed
 * for the merger's life; outputs open when chunk 0 is added. */
fathom_status fathom_chunk_merger_create(const char *input, const fathom_chunk *chunks, int n,
                                         const fathom_run_params *params,
                                         const fathom_video_run_opts *vo, int metric, int video,
                                         fathom_chunk_seam *seams, fathom_chunk_run_result *res,
                                         fathom_chunk_merger **out);
/* Add the next chunk (fathom_chunk_merger_next) from its finished archive. */
fathom_status fathom_chunk_merger_add(fathom_chunk_merger *mg, const char *chunk_npz);
int fathom_chunk_merger_next(const fathom_chunk_merger *mg);
/* After the last chunk: flush and finish the outputs (res->frames set). */
fathom_status fathom_chunk_merger_finish(fathom_chunk_merger *mg);
/* Accepts NULL; unfinished outputs stay under their temporary names. */
void fathom_chunk_merger_free(fathom_chunk_merger **mg);

/* ---- internal: the merge thread (chunk_follow.c) ----
 * Runs beside the chunk workers: waits on the chunk table's condition (cv, broadcast under mu
 * whenever a chunk is done) and merges chunk next as soon as man->done[next]; records
 * man->merged in the manifest (under mu, as the workers do). */
#include <pthread.h>
typedef struct fathom_chunk_follow {
    fathom_chunk_ctx *ctx;                /* borrowed */
    const fathom_run_params *params;      /* borrowed */
    const fathom_video_run_opts *vo;      /* borrowed */
    const char *input;                    /* borrowed */
    pthread_mutex_t *mu;                  /* borrowed: guards man->done, man->merged, quit */
    pthread_cond_t *cv;                   /* borrowed */
    const atomic_int *cancel;             /* borrowed, may be NULL */
    fathom_chunk_merger *mg;              /* owned */
    fathom_chunk_seam *seams;             /* owned: n */
    fathom_chunk_run_result *res;         /* borrowed */
    int quit;                             /* under mu: no chunk will finish any more */
    int merged_before;                    /* man->merged found by a resume (merged again) */
    fathom_status err;
    char err_msg[1024];
    double busy_s;                        /* seconds merging */
    double done_at;                       /* outputs finished, seconds from ctx->t0 (0: not) */
    pthread_t thr;
    int started;
} fathom_chunk_follow;
/* Start the merge thread (f zeroed first). */
fathom_status fathom_chunk_follow_start(fathom_chunk_follow *f, fathom_chunk_ctx *ctx,
                                        const fathom_run_params *params, const char *input,
                                        const fathom_video_run_opts *vo, pthread_mutex_t *mu,
                                        pthread_cond_t *cv, const atomic_int *cancel,
                                        fathom_chunk_run_result *res);
/* No more chunks will finish: merge what is left to merge, join (not under mu). */
void fathom_chunk_follow_stop(fathom_chunk_follow *f);
void fathom_chunk_follow_clear(fathom_chunk_follow *f);

#endif
