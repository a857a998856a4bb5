/* video_job.h - `fathom run` on a video: frames through the image pipeline, in order, to a depth
 * video and/or frame sequences.
 *
 * DESIGN
 *   A job owns the reader (src/video/video_reader) and the outputs. It plugs a video source and
 *   an ordered video sink into the ordinary pipeline (fathom_pipeline_create_with), so frames
 *   are preprocessed by the decode pool, batched by the inference threads and resized by the
 *   write pool exactly as images are: a frame's depth equals the image path's depth for the
 *   same decoded pixels.
 *   Source: decodes one frame per next() (the pipeline's free-item pool is the backpressure),
 *   copies its RGB into the item, and records (index, pts, duration) for the sink.
 *   Sink (ordered, one frame at a time in index order): keeps `lookahead` frames for the
 *   temporal normalization (video/temporal_norm), then writes each frame to the video writer
 *   (with the source's other streams interleaved up to its time) and to the frame sequences
 *   (OUTDIR/<stem>/000000.<ext>). Raw float outputs (npy, npz, exr) are never normalized.
 *   Every decoded frame in range gives one output frame: a frame whose item failed is written
 *   as a copy of the previous depth (and counted), so the timing stays whole.
 *   Memory: the pool of items, lookahead + 1 depth frames, one frame of scratch per format.
 *   End: a complete run renames `<name>.partial-<pid>.<ext>` to its final name; an interrupted or
 *   failed run leaves the partial name (closed, playable up to its last frame).
 *   Lifetime: the job is shared by its source, its sink and the caller (reference counted); the
 *   caller releases its reference after fathom_pipeline_free, or at any time. */
#ifndef FATHOM_PIPELINE_VIDEO_JOB_H
#define FATHOM_PIPELINE_VIDEO_JOB_H

#include <stdatomic.h>
#include <stddef.h>

#include "fathom.h"
#include "video/temporal_norm.h"
#include "video/video_reader.h"
#include "video/video_writer.h"

typedef enum fathom_video_norm {
    FATHOM_VNORM_EMA = 0, /* exponential moving min/max + look-ahead + scene cuts (default) */
    FATHOM_VNORM_FRAME,   /* each frame's own min..max (flickers) */
    FATHOM_VNORM_VIDEO    /* one min..max for the whole video (Video Depth Anything, whose
                             scale its first window fixes; set by the job, video_spill.h) */
} fathom_video_norm;

typedef struct fathom_video_run_opts {
    fathom_video_reader_opts read;  /* --start --end --max-frames --max-res (passthrough set by
                                       the job when a video is written) */
    const char *video_path;         /* --video FILE (borrowed); NULL: no depth video */
    fathom_video_writer_opts enc;   /* --video-codec --crf --pix-fmt; enc.color: --video-color */
    unsigned seq_formats;           /* frame sequences: fathom_output_format bits; 0: none */
    int npz;                        /* --video-npz: all frames' raw depth in OUTDIR/<stem>.npz
                                       (video/video_npz.h) */
    fathom_video_norm normalize;    /* --normalize */
    fathom_tnorm_opts tnorm;        /* --ema-decay --lookahead --scene-cut */
    const atomic_int *cancel;       /* borrowed, may be NULL: non-zero interrupts a blocked open
                                       or read of the input (Ctrl-C before/while the job runs) */
    const char *rel_dir;            /* borrowed, may be NULL: outputs go to OUTDIR/<rel_dir>/ (a
                                       video found in a folder keeps its relative folder) */
    const char *const *inputs;      /* borrowed, may be NULL: every input of the run; no output
                                       of the job may be one of them (nor the job's own input) */
    int n_inputs;
    const char *const *claimed;     /* borrowed, may be NULL: outputs of the run's earlier videos
                                       (fathom_video_job_outputs); one of them again is a clash
                                       (a.mp4 and a.mkv), refused even with --overwrite */
    int n_claimed;
    fathom_engine *const *engines;  /* borrowed, may be NULL: one per device of the params, used
                                       instead of new ones (fathom_pipeline_create_lent) */
    fathom_vda **vda_keep;          /* borrowed, may be NULL: the caller's slot for a Video Depth
                                       Anything instance kept across jobs (the same) */
} fathom_video_run_opts;

void fathom_video_run_default_opts(fathom_video_run_opts *o);
/* The options inside a public fathom_video_opts (video_api.c; NULL for NULL): for library code
 * behind public calls that take one (src/cluster). */
const fathom_video_run_opts *fathom_video_opts_run_opts(const fathom_video_opts *o);

/* Parse one video flag of `fathom run` (name without dashes: "video", "video-codec", "crf",
 * "pix-fmt", "video-color", "video-npz", "start", "end", "max-frames", "max-res", "normalize",
 * "ema-decay", "lookahead", "scene-cut"; arg NULL for "video-color" and "video-npz").
 * Returns 1 when taken, 0 when `name` is not a video flag, -1 for a bad value (message in
 * fathom_last_error()). */
int fathom_video_parse_flag(fathom_video_run_opts *o, const char *name, const char *arg);
/* 1 when an input should be read as a video: a video file extension (.mp4 .mkv .mov .avi
 * .webm .m4v .ts .mts .m2ts .flv .wmv .mpg .mpeg .3gp .ogv .y4m) or a stream URL (rtsp://,
 * rtmp://, udp://, srt://, ...). */
int fathom_video_is_input(const char *path);

/* The report of one video of a run with several inputs: FILE.json -> FILE.<file name>.json, the
 * whole name with its extension ("take.1.mp4" and "take.2.mp4" differ), and FILE.<name>.<dup+1>.json
 * for the dup-th earlier video of the same name from another folder. */
void fathom_video_report_path(const char *report, const char *input, int dup, char *buf,
                              size_t n);
/* 1 when two inputs have the same file name (folders aside). */
int fathom_video_same_name(const char *a, const char *b);

typedef struct fathom_video_job fathom_video_job;

/* Open `input`, the outputs (the depth video under its partial name; sequences go under
 * params->outdir/<stem>/), and build the pipeline. With no video path and no sequence format,
 * the depth video is OUTDIR/<stem>_depth.mkv. An existing final video fails the job unless
 * params->existing is FATHOM_EXISTING_OVERWRITE.
 * FATHOM_EXISTING_RESUME: outputs that are complete (the final video, the npz, a frame sequence
 * with its `.fathom-complete` marker) are not made again; when all are, the job is skipped
 * (*pl = NULL, fathom_video_job_skipped). An unfinished frame sequence continues after its last
 * complete frame (every asked format present) when it is the only unfinished output; a depth
 * video or npz cannot be continued and starts again at frame 0 (fathom_video_job_notes says so).
 * On success *job (caller's reference, fathom_video_job_release) and *pl (fathom_pipeline_free)
 * are set. */
fathom_status fathom_video_job_create(const fathom_model *m, const fathom_run_params *params,
                                      const char *input, const fathom_video_run_opts *opts,
                                      fathom_video_job **job, fathom_pipeline **pl);
/* Drop the caller's reference. Accepts NULL. */
void fathom_video_job_release(fathom_video_job **job);

typedef struct fathom_video_job_stats {
    int64_t frames_read;      /* decoded in range */
    int64_t frames_written;   /* to the depth video / sequences (equals frames_read when done) */
    int64_t frames_failed;    /* items that failed (written as a copy of the previous depth) */
    int64_t decode_errors;    /* corrupt packets/frames skipped or concealed by the decoder */
    int truncated;            /* the input ended early */
    int64_t ts_jumps;         /* backwards timestamp jumps smoothed over */
    int complete;             /* the depth video was finished and renamed */
    int64_t resumed_from;     /* --resume: the first frame made by this run (0: all) */
    int write_failed;         /* an output write failed: the job stopped taking frames */
    char end_reason[160];     /* why the input ended early ("" when it did not) */
    char video_path[4096];    /* final name when complete, else the partial file ("" if none) */
    char npz_path[4096];      /* the --video-npz archive when complete, else "" */
} fathom_video_job_stats;

void fathom_video_job_get_stats(fathom_video_job *job, fathom_video_job_stats *out);
/* The job's output paths (depth video, npz, frame sequence folder; those asked), borrowed:
 * returns how many were put in out. */
int fathom_video_job_outputs(const fathom_video_job *job, const char *out[3]);
/* 1 when --resume found every output complete (no pipeline was built). */
int fathom_video_job_skipped(const fathom_video_job *job);
/* Lines for the user about what --resume decided ("" when nothing to say); borrowed. */
const char *fathom_video_job_notes(const fathom_video_job *job);
/* One or two human lines: frames, decode errors, truncation, where the depth video is. */
void fathom_video_job_summary(fathom_video_job *job, char *buf, size_t n);

#endif
