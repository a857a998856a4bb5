/* depthpro.h - Apple Depth Pro: weights layout, loader and forward pass (internal).
 *
 * Spec: ../shared/spec/depth-pro.md, numerics: ../shared/golden-depthpro/README.md.
 * Field names follow the official code (apple/ml-depth-pro). Every width is read from the
 * tensor shapes; heads, hook blocks and LayerNorm eps come from config.json (HF folder, or
 * hf/config.json beside an official .pth), else the released values (16 heads, hooks 5/11,
 * eps 1e-6), which the shapes must then confirm.
 *
 * Ownership: fathom_dp_weights owns one float32 arena; every float* points into it. */
#ifndef FATHOM_MODEL_DEPTHPRO_H
#define FATHOM_MODEL_DEPTHPRO_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "fathom.h"
#include "model/weights.h"

#define FATHOM_DP_SIZE 384   /* ViT input and crop size */
#define FATHOM_DP_GRID 24    /* 384 / 16 */
#define FATHOM_DP_NET 1536   /* network input */
#define FATHOM_DP_CROPS 35   /* 25 (x0) + 9 (x1) + 1 (x2) */

typedef struct fathom_dp_vit {
    int D, depth, heads, mlp;
    float eps;
    float *cls, *pos;            /* (D), (577, D) */
    float *patch_w, *patch_b;    /* (D, 3, 16, 16), (D) */
    fathom_block_weights *blocks;/* owned array of depth */
    float *norm_w, *norm_b;      /* (D) */
} fathom_dp_vit;

typedef struct fathom_dp_rcu { float *c1_w, *c1_b, *c2_w, *c2_b; } fathom_dp_rcu;

typedef struct fathom_dp_fusion {
    fathom_dp_rcu rcu1, rcu2;    /* rcu1 unused in fusions[4] */
    float *deconv;               /* (dec, dec, 2, 2); NULL for fusions[0] */
    float *out_w, *out_b;        /* (dec, dec, 1, 1), (dec) */
} fathom_dp_fusion;

typedef struct fathom_dp_weights {
    fathom_dp_vit vit[3];        /* 0 patch encoder, 1 image encoder, 2 FOV encoder */
    int hooks[2];                /* 0-based blocks of the patch encoder (raw outputs) */
    int d[4];                    /* encoder_feature_dims */
    int dec;                     /* decoder_features */
    int head_mid, head_hidden;   /* 128, 32 */
    int fov_c, fov_h1, fov_h2;   /* 128, 64, 32 */

    float *lat0[4];              /* 1x1 (d0, D), ConvT (d0, dec), (dec, dec) x2 */
    float *lat1[3];              /* 1x1 (d0, D), ConvT (d0, d0) x2 */
    float *up[3][2];             /* upsample{k}: 1x1 (d[k+1], D), ConvT (d[k+1], d[k+1]) */
    float *lowres_w, *lowres_b;  /* ConvT (D_image, d3, 2, 2), (d3) */
    float *fuse_w, *fuse_b;      /* 1x1 (d3, 2 d3), (d3) */
    float *convs[5];             /* decoder.convs.{1..4}: (dec, c_in, 3, 3); [0] unused */
    fathom_dp_fusion fus[5];
    float *head_w[4], *head_b[4];/* head.{0,1,2,4} */
    float *fov_lin_w, *fov_lin_b;/* (fov_c, D_fov) */
    float *fov_ds_w, *fov_ds_b;  /* (fov_c, dec, 3, 3) */
    float *fov_head_w[3], *fov_head_b[3]; /* (h1, fov_c, 3, 3), (h2, h1, 3, 3), (1, h2, 6, 6) */

    char format[24];             /* "pth", "safetensors", "hf-folder" */
    char dtype[8];
    int64_t params;
    void *arena;                 /* owned */
    size_t arena_bytes;
    float ***fields;             /* owned: the slot table, address of every tensor field */
    size_t n_fields;
} fathom_dp_weights;

/* 1 when the set's tensor names are Depth Pro's (official or HF). */
int fathom_dp_is_depthpro_set(const fathom_tensor_set *set);
/* 1 when the set's names are Depth Anything V2's (official or HF). */
int fathom_dp_is_dav2_set(const fathom_tensor_set *set);

/* 1 when `path` (file or HF folder) holds Depth Pro tensors; reads only the names. */
int fathom_dp_detect(const char *path);
/* fathom info fields of a Depth Pro model. */
void fathom_dp_get_info(const fathom_dp_weights *w, fathom_model_info *info);

/* Load an official depth_pro.pt(h), a .safetensors with official or HF names, or an HF folder
 * (config.json + model.safetensors). Errors name the file and the first bad tensor. */
fathom_status fathom_dp_load(const char *path, fathom_dp_weights **out);
void fathom_dp_free(fathom_dp_weights **w);
/* A view of h whose tensors are at the same offsets in `base` (a device copy of h->arena),
 * through the slot table (fathom_slots_rebase): *out = *h with vit[v].blocks = blocks_out[v]
 * (vit[v].depth entries each, owned by the caller); fields stays h's (borrowed). */
fathom_status fathom_dp_rebase(const fathom_dp_weights *h, void *base, fathom_dp_weights *out,
                               fathom_block_weights *const blocks_out[3]);

/* Tap for the forward pass: host tensors, names as golden-depthpro/README.md "Intermediates". */
typedef void (*fathom_dp_tap_fn)(void *user, const char *name, const float *data, int ndim,
                                 const int64_t *shape);

/* Run the network on backend `be` with weights in its memory (fathom_dp_rebase for devices).
 * x: (3, 1536, 1536) normalized input and canon: (1536, 1536) canonical inverse depth, both in
 * backend memory; *fov_deg (host): FOV head output. Allocates its own activations (freed
 * before returning). */
fathom_status fathom_dp_forward(fathom_backend *be, const fathom_dp_weights *w, const float *x,
                                float *canon, float *fov_deg, fathom_dp_tap_fn tap, void *user);

/* Official preprocessing: RGB8 (h0, w0, stride bytes) -> 2 u/255 - 1 -> bilinear
 * (align_corners=False, PyTorch's float32 recipe) to 1536^2. x: (3, 1536, 1536). */
fathom_status fathom_dp_preprocess(const uint8_t *rgb, int h0, int w0, size_t stride, float *x);

/* EXIF FocalLengthIn35mmFilm of an image file's bytes (JPEG, PNG eXIf, WebP EXIF, TIFF) as
 * stored (may be 0 or negative); NAN when absent or unreadable. The official code uses it
 * only when > 0. */
double fathom_dp_exif_f35(const uint8_t *data, size_t size);

/* Focal length in pixels from the FOV (degrees) and the original width, as torch float32. */
float fathom_dp_focal_from_fov(float fov_deg, int w0);
/* f_px from a 35 mm-equivalent focal length (EXIF), in double as the official fpx_from_f35. */
double fathom_dp_focal_from_f35(int w0, int h0, double f35);

/* depth (h0, w0) metres = 1 / clamp(resize(canon * (w0 / f_px)), 1e-4, 1e4). If f_given > 0
 * it is used (rounded W/f in double, as with a NumPy f_px), else f_px from fov_deg. *f_used
 * receives the focal length used (may be NULL). */
fathom_status fathom_dp_postprocess(const float *canon, float fov_deg, double f_given, int h0,
                                    int w0, float *depth, double *f_used);

#endif
