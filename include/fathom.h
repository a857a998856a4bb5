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
fathom_status fathom_image_load(const char *path, uint64_t max_pixels, fathom_image *out);
void fathom_image_free(fathom_image *img); /* accepts a zeroed image; zeroes it */

/* Depth output formats (bit set). */
typedef enum fathom_output_format {
    FATHOM_OUT_NPY = 1 << 0,   /* float32 .npy, raw values */
    FATHOM_OUT_NPZ = 1 << 1,   /* compressed .npz with array "depth", raw values */
    FATHOM_OUT_PNG16 = 1 << 2, /* 16-bit grey PNG, per-image min..max -> 0..65535 */
    FATHOM_OUT_PNG8 = 1 << 3,  /* 8-bit grey PNG, min..max -> 0..255 */
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
 * permission errors name the path. opts may be NULL (defaults). */
fathom_status fathom_depth_write(const char *path, fathom_output_format one, const float *depth,
                                 int h, int w, const fathom_write_opts *opts);

/* ======================================================================== pipeline */
/* (section owned by src/pipeline) */

/* ======================================================================== governor */
/* (section owned by src/governor) */

#ifdef __cplusplus
}
#endif
#endif /* FATHOM_H */
