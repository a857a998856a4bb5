/*
 * fathom.h - the one public header of libfathom.
 *
 * libfathom turns images and videos into depth maps with Depth Anything V2, on the CPU or on
 * NVIDIA GPUs, reading the weight files users download (official .pth, Hugging Face folders,
 * .safetensors) without conversion.
 *
 *   fathom_model *m;  fathom_engine *e;
 *   if (fathom_model_load("depth_anything_v2_vits.pth", NULL, &m) != FATHOM_OK)
 *       fprintf(stderr, "%s\n", fathom_last_error());
 *   fathom_engine_create(m, NULL, &e);
 *   fathom_network_size(h0, w0, 518, &H, &W);
 *   fathom_preprocess(rgb, h0, w0, w0 * 3, H, W, x);      // x: (3, H, W) float
 *   fathom_engine_forward(e, x, 1, H, W, net);            // net: (H, W) float
 *   fathom_resize_depth(net, H, W, depth, h0, w0);        // depth: (h0, w0) float
 *   fathom_engine_free(&e); fathom_model_free(&m);
 *
 * Thread safety: a fathom_model is read-only after loading and may be shared by any number of
 * engines and threads. A fathom_engine belongs to one thread at a time.
 * Errors: every fallible call returns a fathom_status; fathom_last_error() gives the detailed
 * message (naming the file, tensor or item) of the last failure on the calling thread.
 * The library never prints and never exits.
 */
#ifndef FATHOM_H
#define FATHOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== status */

typedef enum fathom_status {
    FATHOM_OK = 0,
    FATHOM_ERR_INVALID_ARG,  /* a caller passed something impossible */
    FATHOM_ERR_NOMEM,        /* host or device allocation failed */
    FATHOM_ERR_IO,           /* open/read/write failed (errno in the message) */
    FATHOM_ERR_NOT_FOUND,    /* file, tensor or device missing */
    FATHOM_ERR_FORMAT,       /* corrupt or malformed data */
    FATHOM_ERR_UNSUPPORTED,  /* valid but not handled (dtype, codec, architecture) */
    FATHOM_ERR_SHAPE,        /* tensor or image dimensions do not fit */
    FATHOM_ERR_TOO_LARGE,    /* over a configured limit (pixels, bytes) */
    FATHOM_ERR_DEVICE,       /* GPU/driver problem */
    FATHOM_ERR_NETWORK,      /* download failed */
    FATHOM_ERR_INTERRUPTED,  /* stopped by a signal / cancel request */
    FATHOM_ERR_DISK_FULL,    /* ENOSPC / EDQUOT while writing */
    FATHOM_ERR_INTERNAL,     /* a bug: please report */
    FATHOM_STATUS_COUNT
} fathom_status;

/* Short text for a status ("corrupt or malformed data"). Never NULL. */
const char *fathom_strerror(fathom_status s);
/* Detailed message of the last failure on this thread ("" if none). Valid until the next
 * failing call on the same thread. */
const char *fathom_last_error(void);
/* Library version string. */
const char *fathom_version(void);

/* ======================================================================== model (weights) */

typedef struct fathom_model fathom_model;

typedef struct fathom_model_params {
    int metric;       /* -1: from config.json (relative when absent); 0: relative; 1: metric */
    float max_depth;  /* metric head scale; <= 0: from config.json, else 20 */
} fathom_model_params;

fathom_model_params fathom_model_default_params(void);

/* Load a model: an official .pth checkpoint, a Hugging Face folder (config.json +
 * model.safetensors) or a single .safetensors file (official or HF tensor names).
 * params may be NULL. On success *out is owned by the caller (fathom_model_free). */
fathom_status fathom_model_load(const char *path, const fathom_model_params *params,
                                fathom_model **out);
void fathom_model_free(fathom_model **m);

typedef struct fathom_model_info {
    char format[24];     /* "pth", "safetensors", "hf-folder" */
    char arch[16];       /* "vits", "vitb", "vitl", "vitg", or "custom" (from config.json) */
    char dtype[8];       /* storage dtype of the file: "f32", "f16", "bf16", "mixed" */
    int64_t params;      /* parameters used by the forward pass (+ unused ones listed below) */
    int64_t unused_params; /* known-unused tensors accepted (mask_token, refinenet4.resConfUnit1) */
    int metric;          /* 1: metric depth in meters; 0: relative disparity */
    float max_depth;     /* metric only */
    int embed_dim, depth, heads, mlp_hidden, features;
    int out_channels[4];
    int layer_idx[4];    /* 0-based encoder blocks feeding the head */
} fathom_model_info;

void fathom_model_get_info(const fathom_model *m, fathom_model_info *info);
/* Multiply-adds x2 of one forward pass at network size (H, W). */
double fathom_model_flops(const fathom_model *m, int net_h, int net_w);

/* ======================================================================== engine (inference) */

typedef enum fathom_device_kind { FATHOM_DEVICE_CPU = 0, FATHOM_DEVICE_CUDA = 1 } fathom_device_kind;
typedef enum fathom_precision {
    FATHOM_PRECISION_DEFAULT = 0, /* fp32 on CPU; bf16 on GPUs that have it, else fp16 */
    FATHOM_PRECISION_FP32,
    FATHOM_PRECISION_FP16,
    FATHOM_PRECISION_BF16
} fathom_precision;

typedef struct fathom_engine fathom_engine;

typedef struct fathom_engine_params {
    fathom_device_kind device;
    int device_index;        /* CUDA device ordinal */
    int threads;             /* CPU threads for the engine; <= 0: all cores */
    fathom_precision precision;
    size_t gpu_mem_limit;    /* bytes; 0 = no limit */
} fathom_engine_params;

fathom_engine_params fathom_engine_default_params(void);

/* An engine owns its activations and scratch; the model is borrowed and must outlive it. */
fathom_status fathom_engine_create(const fathom_model *m, const fathom_engine_params *params,
                                   fathom_engine **out);
void fathom_engine_free(fathom_engine **e);

/* Reserve activations for up to `batch` images of network size (net_h, net_w), both
 * multiples of 14. Later forward calls at this or a smaller batch/size allocate nothing. */
fathom_status fathom_engine_reserve(fathom_engine *e, int batch, int net_h, int net_w);

/* x: (batch, 3, net_h, net_w) normalized input (fathom_preprocess), host memory.
 * depth: (batch, net_h, net_w) host memory: relative disparity or meters (metric). */
fathom_status fathom_engine_forward(fathom_engine *e, const float *x, int batch, int net_h,
                                    int net_w, float *depth);

/* Optional: called after each named stage of the next forward passes with the stage's output
 * (host memory, valid during the call). Names follow ../shared/golden: "tokens.embed",
 * "tokens.block<i>", "features.<k>", "reassemble.<k>", "layer_rn.<k>", "fusion.refinenet<k>",
 * "head.conv1", "head.conv2", "head.preact". Pass NULL to remove. For tests and debugging. */
typedef void (*fathom_tap_fn)(void *user, const char *name, const float *data, int ndim,
                              const int64_t *shape);
void fathom_engine_set_tap(fathom_engine *e, fathom_tap_fn fn, void *user);

/* Bytes of activation memory currently reserved by the engine (host or device). */
size_t fathom_engine_reserved_bytes(const fathom_engine *e);

/* ======================================================================== pre/post-processing */

/* Network input size for an h0 x w0 image, exactly as the official Resize (keep aspect,
 * lower bound, multiple of 14, round half to even). */
void fathom_network_size(int h0, int w0, int input_size, int *net_h, int *net_w);

/* Official preprocessing: RGB8 (stride bytes per row) -> /255 -> cv2 INTER_CUBIC (A=-0.75,
 * no antialias, float64) to (net_h, net_w) -> ImageNet normalize -> out (3, net_h, net_w). */
fathom_status fathom_preprocess(const uint8_t *rgb, int h0, int w0, size_t stride, int net_h,
                                int net_w, float *out);

/* Bilinear align_corners=True resize of a depth map (h, w) -> (h0, w0). */
void fathom_resize_depth(const float *in, int h, int w, float *out, int h0, int w0);

/* ======================================================================== media: images */
/* (section owned by src/media) */

/* A decoded 8-bit RGB image. Owns `rgb` (free with fathom_image_free). */
typedef struct fathom_image {
    int width, height;
    size_t stride;      /* bytes per row (>= 3 * width) */
    uint8_t *rgb;       /* owned: height * stride bytes, RGB order */
    int src_bits;       /* bit depth of the source (8 or 16) */
    int src_channels;   /* channels in the source (1 grey, 2 grey+alpha, 3, 4) */
} fathom_image;

/* Decode JPEG, PNG (8/16-bit, grey, alpha, palette), WebP, or anything FFmpeg decodes as a
 * still image (BMP, TIFF, ...), applying EXIF orientation as cv2.imread does. Alpha is
 * dropped, grey expanded, 16-bit reduced to 8 bits (as cv2.imread(IMREAD_COLOR)).
 * `name` is used in error messages. Images over max_pixels (0 = no limit) are refused with
 * FATHOM_ERR_TOO_LARGE before any pixel buffer is allocated. */
fathom_status fathom_image_decode(const void *data, size_t size, const char *name,
                                  uint64_t max_pixels, fathom_image *out);
/* Read a file (at most 1 GiB; the extension is ignored) and decode it. Missing file:
 * FATHOM_ERR_NOT_FOUND; directory: INVALID_ARG; empty: FORMAT. On failure *out is zeroed. */
fathom_status fathom_image_load(const char *path, uint64_t max_pixels, fathom_image *out);
void fathom_image_free(fathom_image *img); /* accepts a zeroed image; zeroes it */

/* Depth output formats (bit set). */
typedef enum fathom_output_format {
    FATHOM_OUT_NPY = 1 << 0,   /* float32 .npy, raw values */
    FATHOM_OUT_NPZ = 1 << 1,   /* compressed .npz with array "depth", raw values */
    FATHOM_OUT_PNG16 = 1 << 2, /* 16-bit grey PNG, per-image min..max -> 0..65535 */
    FATHOM_OUT_PNG8 = 1 << 3,  /* 8-bit grey PNG, min..max -> 0..255 (truncated, as run.py) */
    FATHOM_OUT_COLOR = 1 << 4, /* RGB colormap PNG */
    FATHOM_OUT_EXR = 1 << 5    /* float32 single-channel EXR ("Z"), raw values */
} fathom_output_format;

typedef enum fathom_colormap {
    FATHOM_CMAP_SPECTRAL_R = 0, /* the official run.py look */
    FATHOM_CMAP_INFERNO,
    FATHOM_CMAP_TURBO,
    FATHOM_CMAP_GRAY
} fathom_colormap;

typedef struct fathom_write_opts {
    int invert;                /* normalized outputs only: near = dark */
    fathom_colormap colormap;  /* FATHOM_OUT_COLOR */
    int metric;                /* 1: values are meters; 0: relative disparity (stored as text) */
    float norm_min, norm_max;  /* when norm_min < norm_max: use these instead of the image's
                                  own min..max for 8/16-bit outputs (video EMA) */
} fathom_write_opts;

/* File extension of one format ("npy", "npz", "png", "png", "png", "exr"). */
const char *fathom_output_ext(fathom_output_format one);
/* Write depth (h, w) in one format to `path`, via a temporary name in the same directory
 * renamed when complete: a crash never leaves a partial file under `path`. Disk full and
 * permission errors name the path. opts may be NULL (defaults). Missing parent directories
 * are created. Raw formats (npy, npz, exr) ignore invert and norm_min/max. Exact layouts,
 * rounding and PNG text chunks: docs/formats.md. */
fathom_status fathom_depth_write(const char *path, fathom_output_format one, const float *depth,
                                 int h, int w, const fathom_write_opts *opts);

/* ======================================================================== pipeline */
/* (section owned by src/pipeline) */

/* `fathom run` as a library call: inputs -> decode+preprocess pool -> one inference thread per
 * device -> postprocess+write pool, joined by bounded queues (docs/pipeline.md).
 *
 *   fathom_run_params p = fathom_run_default_params();
 *   p.inputs = paths; p.n_inputs = n; p.outdir = "out";
 *   fathom_pipeline *pl;
 *   fathom_pipeline_create(model, &p, &pl);   // checks inputs and output dir, builds engines
 *   fathom_pipeline_run(pl, &stats);          // blocks; fathom_pipeline_cancel() from elsewhere
 *   fathom_pipeline_free(&pl);
 */

#define FATHOM_MAX_DEVICES 16

typedef enum fathom_exist {
    FATHOM_EXISTING_ERROR = 0, /* an item whose output exists fails (nothing is overwritten) */
    FATHOM_EXISTING_RESUME,    /* items whose outputs all exist are skipped */
    FATHOM_EXISTING_OVERWRITE  /* existing outputs are replaced */
} fathom_exist;

/* Folder entries a walk does not take, by reason (fathom_run_stats.ignored). */
typedef enum fathom_ignored_kind {
    FATHOM_IGNORED_NOT_IMAGE = 0, /* regular file without an image extension */
    FATHOM_IGNORED_SPECIAL,       /* FIFO, socket or device (never opened) */
    FATHOM_IGNORED_FOLDER,        /* sub-folder not walked (no -r, or a symlink) */
    FATHOM_IGNORED_KINDS
} fathom_ignored_kind;

/* Counters of a run; the totals add up: done + skipped + failed == finished, and at the end
 * finished == taken (every input taken from the source ends in one of the three). */
typedef struct fathom_run_stats {
    int64_t total;        /* inputs expected, -1 when unknown (folders and lists are lazy) */
    int64_t taken;        /* inputs taken from the source */
    int64_t done, skipped, failed, finished;
    double elapsed_s;     /* since fathom_pipeline_run started */
    int queue_fill[3];    /* items waiting before decode, infer, write */
    int queue_cap[3];
    double busy_s[4];     /* summed work seconds of the source, decode, infer, write stages */
    int64_t batches;      /* inference batches run */
    int cancelled;        /* stopped by fathom_pipeline_cancel */
    int64_t ignored[FATHOM_IGNORED_KINDS]; /* folder entries not taken, by reason */
    fathom_status fatal;  /* FATHOM_OK, or the setup error that stopped the run (message in
                             fathom_run_stats.fatal_msg) */
    char fatal_msg[512];
} fathom_run_stats;

/* One finished item, for progress output. Valid during the call. */
typedef struct fathom_item_event {
    uint64_t index;
    const char *source;   /* path / URL / frame name */
    const char *outputs;  /* '\n'-separated output paths ("" when failed) */
    int state;            /* 1 done, 2 skipped, 3 failed */
    fathom_status status;
    const char *error;    /* "" unless failed */
    double seconds;       /* from taken to finished */
} fathom_item_event;

/* Default image size limit of a run: Pillow's decompression-bomb limit (2 x 89478485 pixels,
 * e.g. 13377 x 13377), so a 1 KB file declaring 26000 x 26000 fails before allocating. */
#define FATHOM_DEFAULT_MAX_PIXELS 178956970ULL

typedef struct fathom_run_params {
    const char *const *inputs; /* borrowed: files, folders, .txt lists, "-", http(s) URLs */
    int n_inputs;
    const char *outdir;        /* borrowed: created when missing */
    int recursive;             /* walk sub-folders */
    void *stdin_list;          /* borrowed FILE *: where "-" reads its list (NULL: none) */
    unsigned formats;          /* fathom_output_format bits; 0 = npy */
    fathom_write_opts write;   /* invert, colormap (metric is taken from the model) */
    fathom_exist existing;
    int input_size;            /* network lower bound (518) */
    uint64_t max_pixels;       /* per input image, checked before any pixel buffer is
                                  allocated; 0 = none (default FATHOM_DEFAULT_MAX_PIXELS) */
    int batch;                 /* largest inference batch (>= 1) */
    double batch_timeout_s;    /* longest wait for a full batch */
    int workers;               /* threads in the decode pool and in the write pool */
    int queue;                 /* capacity of each queue between stages */
    int n_devices;             /* inference threads, one engine each (>= 1) */
    fathom_engine_params devices[FATHOM_MAX_DEVICES];
    int fail_fast;             /* stop taking input after the first failed item */
    int shard_index;           /* --shard K/N, images only: take the inputs at positions p */
    int shard_count;           /* (source order) with p % shard_count == shard_index; count 0
                                  or 1: all. Names and indexes equal an unsharded run's */
    int (*take)(void *user, uint64_t pos); /* may be NULL: images only, after the shard test:
                                  whether this process takes input position pos (called in
                                  increasing pos order from the source thread; `fathom run
                                  --mpi` hands out batches this way). Set: temporaries of dead
                                  processes are not cleaned (an OUTDIR shared by machines) */
    void *take_user;
    const char *report_path;   /* borrowed, may be NULL: JSON report written at the end */
    int argc;                  /* with argv (borrowed, may be NULL): the command line, */
    const char *const *argv;   /* recorded in the report ("fathom" + argv[0..argc-1]) */
    const char *model_path;    /* borrowed, may be NULL: recorded in the report (with the
                                  sha256 of its weight file) */
    /* URL inputs */
    size_t max_download_bytes; /* 0: fetcher default */
    double download_timeout_s; /* per attempt; 0: fetcher default */
    int download_retries;      /* < 0: fetcher default */
    struct fathom_governor *governor; /* borrowed, may be NULL: advises batch size and pauses */
    /* progress: on_stats every stats_interval_s (and once at the end) on the thread inside
     * fathom_pipeline_run; on_item for every finished item, from a write worker (serialized) */
    void (*on_stats)(void *user, const fathom_run_stats *stats);
    void (*on_item)(void *user, const fathom_item_event *ev);
    void *user;
    double stats_interval_s;
} fathom_run_params;

/* npy, 518, batch 4, timeout 0.05 s, workers 2, queue 4, one CPU device, existing = error. */
fathom_run_params fathom_run_default_params(void);

typedef struct fathom_pipeline fathom_pipeline;

/* Check inputs (a missing input named on the command line is an error here, naming it), the
 * output dir (created; must be writable), create one engine per device. The model is
 * borrowed and must outlive the pipeline. *out owned by the caller (fathom_pipeline_free). */
fathom_status fathom_pipeline_create(const fathom_model *m, const fathom_run_params *params,
                                     fathom_pipeline **out);
/* Run to the end (or cancel). Returns FATHOM_OK when the run completed, even when items
 * failed (see stats->failed); FATHOM_ERR_INTERRUPTED after a cancel; another status for a
 * setup error met while running (stats->fatal). stats may be NULL. Call once. */
fathom_status fathom_pipeline_run(fathom_pipeline *pl, fathom_run_stats *stats);
/* Stop taking input; items in flight finish and are written. Async-signal-safe. */
void fathom_pipeline_cancel(fathom_pipeline *pl);
void fathom_pipeline_free(fathom_pipeline **pl);

/* ======================================================================== governor */
/* (section owned by src/governor) */

/* The resource governor (docs/governor.md). A sampler thread reads each GPU through NVML (when
 * libnvidia-ml.so.1 is present) and the machine and process through /proc; a PID controller
 * turns the gap between measured and target utilization into an advised batch size and a
 * pause before each batch of the inference stages. For a CPU slot (or a GPU without NVML)
 * utilization is the stage's duty cycle: busy time over wall time. An emergency rule backs off
 * hard when utilization comes within 2 points of max_util or memory within 5 % of its cap,
 * then recovers gradually. Without a target the governor only enforces limits and reports. */

#define FATHOM_GOVERNOR_MAX_SLOTS 16
#define FATHOM_GOVERNOR_NICE_KEEP 1000 /* params.nice: leave the process priority alone */

typedef struct fathom_governor fathom_governor;

typedef struct fathom_governor_params {
    int slots;                  /* inference stages governed (one per device), 1..MAX_SLOTS */
    fathom_device_kind device[FATHOM_GOVERNOR_MAX_SLOTS]; /* kind of each slot */
    int device_index[FATHOM_GOVERNOR_MAX_SLOTS];          /* CUDA/NVML ordinal of GPU slots */
    double target_util;         /* percent in (0, 100); <= 0: no target (limits + report only) */
    double max_util;            /* percent ceiling for the emergency rule; >= 100: none */
    int batch_min, batch_max;   /* advised batch range; batch_max <= 0: the stage's maximum */
    double hz;                  /* sampler rate, default 10 */
    int nice;                   /* process niceness to set (-20..19); NICE_KEEP: leave */
    size_t gpu_mem_limit;       /* bytes per GPU; 0: none */
    double gpu_mem_fraction;    /* of each GPU's total memory, (0, 1]; 0: none */
    double gpu_power_limit_w;   /* opt-in: NVML power limit (W) for each GPU slot, restored by
                                   fathom_governor_free / fathom_governor_restore_limits; 0: leave */
    size_t host_mem_limit;      /* process RSS cap for the emergency rule; 0: none */
} fathom_governor_params;

/* One slot, CPU, no target, max_util 100 (off), batch 1..stage max, 10 Hz, no limits. */
fathom_governor_params fathom_governor_default_params(void);

/* Validates params, applies nice, resolves GPU memory caps, sets the power limit (refused with
 * FATHOM_ERR_DEVICE and a clear message without privileges or NVML) and starts the sampler.
 * Nothing is changed when it fails. On success *out is owned by the caller. */
fathom_status fathom_governor_create(const fathom_governor_params *params, fathom_governor **out);
/* Stops the sampler and restores the power limit. Accepts NULL and *g == NULL; sets *g = NULL. */
void fathom_governor_free(fathom_governor **g);

/* Bytes the engine of GPU slot `slot` must fit within (fathom_engine_params.gpu_mem_limit):
 * the smaller of gpu_mem_limit and gpu_mem_fraction x total. 0: no cap. */
size_t fathom_governor_gpu_mem_limit(const fathom_governor *g, int slot);

/* The params the governor was created with (as validated); zeroed when g is NULL. For reports. */
void fathom_governor_get_params(const fathom_governor *g, fathom_governor_params *out);

typedef struct fathom_governor_stats {
    double target_util;       /* percent; <= 0: none */
    double max_util;          /* percent; >= 100: none */
    double util;              /* measured utilization the controller sees (percent) */
    double duty;              /* inference duty cycle over the recent window (percent) */
    int batch;                /* last advised batch (0 before the first) */
    double pause_s;           /* last advised pause */
    double busy_s, paused_s;  /* totals since create: engine busy, advised pauses */
    double wall_s;            /* since create */
    uint64_t batches, items;
    int emergency;            /* 1 while backing off */
    uint64_t util_limit_hits; /* samples that triggered the emergency rule on utilization */
    uint64_t mem_limit_hits;  /* ... on GPU memory or host RSS */
    uint64_t samples;         /* sampler ticks so far */
    double cpu_load;          /* machine CPU busy percent (/proc/stat); < 0: unknown */
    double self_cpu_s;        /* CPU time of this process */
    size_t rss_bytes;         /* resident set size of this process */
    int gpu_valid;            /* 1: the gpu_* fields hold NVML readings for this slot */
    double gpu_util, gpu_power_w, gpu_temp_c;
    uint64_t gpu_mem_used, gpu_mem_total;
    size_t gpu_mem_limit;     /* resolved cap, 0: none */
    double power_limit_w;     /* set by the governor; 0: untouched */
} fathom_governor_stats;

/* Snapshot for progress lines and --report. Zeroes *out when g is NULL or slot is invalid. */
void fathom_governor_get_stats(fathom_governor *g, int slot, fathom_governor_stats *out);

/* One line for progress displays, e.g. "target 50% util 49.8% batch 4 pause 0.20s" plus
 * ", backing off" during an emergency and ", limits hit: util 3 mem 0" once any was hit.
 * Writes at most cap bytes (NUL included); returns the length it wanted, like snprintf. */
int fathom_governor_describe(fathom_governor *g, int slot, char *buf, size_t cap);

/* Put back the GPU power limits the governor changed. Idempotent; takes no locks and allocates
 * nothing (one NVML call per GPU), so a signal handler may call it before _exit. The normal
 * Ctrl-C path (set a flag, drain, fathom_governor_free) restores without it. */
void fathom_governor_restore_limits(void);

/* Parse a byte size: "4G", "512M", "1.5GiB", "300k", "1048576" (K/M/G/T = powers of 1024,
 * optional "B"/"iB"). Refuses empty, negative, junk and overflowing text with INVALID_ARG. */
fathom_status fathom_parse_bytes(const char *text, size_t *out);

#ifdef __cplusplus
}
#endif
#endif /* FATHOM_H */
