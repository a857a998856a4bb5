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
 *      chunk is retried once, on another worker when there is one, before the video fails;
 *      each worker fetches its next chunk ahead (chunk_worker.c);
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
/* The phases of one chunk run by a worker (its fixed cost, for the report). */
typedef struct fathom_chunk_times {
    double wait_s;   /* waiting for this chunk after the last one ended (exposed hand-out) */
    double open_s;   /* opening it (hidden when opened ahead) */
    double run_s;    /* its run: the pipeline's start, frames and drain, and finish_s */
    double first_s;  /* from the run's start to its first frame done (to ~20 ms) */
    double finish_s; /* closing the chunk's archive after the pipeline ended */
    int ahead;       /* 1: opened while the previous chunk ran */
    int engines;     /* engines created for it */
} fathom_chunk_times;
typedef struct fathom_chunk_ctx {
    char stem[1024], workdir[4096], mpath[4200];
    fathom_chunk_manifest man;  /* owned: the plan and what is done */
    int metric, video;          /* the model's: metric depth; Video Depth Anything */
    double t0, plan_s;          /* start; seconds planning (demux scan) */
    /* the timeline, for the report (where the time goes): per chunk, seconds from t0 when it
     * was handed out and when it was reported done, and the engine / rank that ran it */
    double *t_start, *t_end;    /* owned: n each */
    int *ran_on;                /* owned: n */
    int *failed_on;             /* owned: n; engine / rank of the first failed attempt, -1
                                   none (ran_on: the last attempt's) */
    fathom_chunk_times *times;  /* owned: n; the phases of each chunk's last run */
    double *t_handed;           /* owned: n; when it was handed out (ahead: before start) */
    int engines_created;        /* by every worker / rank (under the chunk table's lock) */
    pthread_mutex_t save_mu;    /* orders manifest saves (fathom_chunk_manifest_save_unlocked) */
    int save_mu_ready;
} fathom_chunk_ctx;
/* Chunk i handed to engine / rank `who`; chunk i ended (ok or not) with its phases t (may be
 * NULL): its start is its end less its run (call under the table's lock). */
void fathom_chunk_ctx_started(fathom_chunk_ctx *ctx, int i, int who);
void fathom_chunk_ctx_ended(fathom_chunk_ctx *ctx, int i, const fathom_chunk_times *t, int ok);
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
/* The engines for the devices of p that are not there yet (per-frame models). */
fathom_status fathom_chunk_engines_create(const fathom_model *m, const fathom_run_params *p,
                                         fathom_chunk_engines *ce);
/* Free the engines (accepts NULL); created is kept. */
void fathom_chunk_engines_clear(fathom_chunk_engines *ce);
/* What a worker calls around a chunk, all on the worker's own thread (the one inside
 * fathom_pipeline_run): on_pipeline with the chunk's pipeline before it runs (return 1 to not
 * run it: interrupted) and with NULL after; on_progress with the run's stats every ~20 ms
 * while it runs (the worker asks for and opens its next chunk from there). Any may be NULL. */
typedef struct fathom_chunk_hooks {
    int (*on_pipeline)(void *user, fathom_pipeline *pl);
    void (*on_progress)(void *user, const fathom_run_stats *st);
    void *user;
} fathom_chunk_hooks;
/* A chunk opened (its job and pipeline built: the input opened and sought to the chunk, the
 * outputs open), to run now or after the chunk running now (opened ahead). */
typedef struct fathom_chunk_opened {
    int i;                  /* the chunk, -1: none */
    fathom_video_job *job;  /* owned */
    fathom_pipeline *pl;    /* owned; borrows the engines of the fathom_chunk_engines */
    fathom_status s;        /* the open's status (the chunk fails with it when run) */
    char err[1024];
    double open_s;          /* seconds it took */
} fathom_chunk_opened;
/* Open chunk i of `input` (plan entry c) with the devices of params into
 * workdir/cNNNNN/<stem>.npz, on the engines of ce (may be NULL: the chunk creates its own;
 * created here when missing). o->s says how it went. */
void fathom_chunk_open(const fathom_model *m, const fathom_run_params *params,
                       const fathom_video_run_opts *vo, const char *input, const char *workdir,
                       const fathom_chunk *c, int i, fathom_chunk_engines *ce,
                       const fathom_chunk_hooks *hooks, fathom_chunk_opened *o);
/* Run an opened chunk (c: its plan entry); FATHOM_OK when its archive is complete. o is
 * cleared; *finish_s (may be NULL): seconds closing its archive. On failure the caller
 * drops what borrows ce and then ce (a retry starts afresh). */
fathom_status fathom_chunk_exec(const char *input, const fathom_chunk *c,
                                fathom_chunk_opened *o, const fathom_chunk_hooks *hooks,
                                double *finish_s);
/* Free an opened chunk that will not run (accepts one with i = -1). */
void fathom_chunk_opened_clear(fathom_chunk_opened *o);
/* Open and run chunk i at once (ce as above; after a failure ce is freed). */
fathom_status fathom_chunk_run_one(const fathom_model *m, const fathom_run_params *params,
                                   const fathom_video_run_opts *vo, const char *input,
                                   const char *workdir, const fathom_chunk *c, int i,
                                   fathom_chunk_engines *ce, const fathom_chunk_hooks *hooks);

/* ---- internal: one worker's loop with its next chunk fetched ahead (chunk_worker.c) ----
 * Where a worker's chunks come from: a local chunk table (chunk_job.c, mpi_video.c's rank 0)
 * or rank 0 over MPI. A chunk carries a fixed cost besides its frames: the hand-out (a round
 * trip under MPI), opening the input and seeking, the pipeline's start and drain. The worker
 * hides the first two behind the chunk it runs: once that chunk's remaining time (its rate so
 * far) is under FATHOM_CHUNK_AHEAD_S it asks for the next one, and opens it (per-frame models:
 * the pipeline borrows the same engines, and runs only after the current one) as soon as the
 * answer is there. Asking when the end is near, not at the start, keeps the hand-out greedy:
 * chunks go in the order the workers will be free, so a slow worker still gets fewer, and a
 * chunk waits at most that long on a worker that is still busy. The environment's
 * FATHOM_CHUNK_AHEAD_S overrides it (0: off; for A/B benchmarks). */
#define FATHOM_CHUNK_AHEAD_S 0.3
typedef struct fathom_chunk_feed {
    /* Report chunk `done` (-1: none) ended with s (times t, may be NULL; err: the failure's
     * message) and, when want, wait
     * for the next chunk: its index, or -1 when no chunk will come. Without want: -1. */
    int (*take)(void *self, int done, fathom_status s, const fathom_chunk_times *t,
                const char *err, int want);
    /* Ask for the next chunk without waiting (the answer: poll / wait). */
    void (*ask)(void *self);
    /* The answer to ask: 1 when there (*i: the chunk, -1: none now), 0 not yet. */
    int (*poll)(void *self, int *i);
    int (*wait)(void *self); /* wait for it */
    void *self;
} fathom_chunk_feed;
/* Run chunks from feed until it has none, on engines ce (the devices of params), with the
 * worker's hooks (on_pipeline; its on_progress is the loop's). */
void fathom_chunk_worker_loop(const fathom_model *m, const fathom_run_params *params,
                              const fathom_video_run_opts *vo, const char *input,
                              const char *workdir, const fathom_chunk *plan,
                              fathom_chunk_engines *ce, const fathom_chunk_feed *feed,
                              const fathom_chunk_hooks *hooks);

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
