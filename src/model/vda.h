/* vda.h - Video Depth Anything (../shared/spec/video-depth-anything.md): the temporal weights
 * that sit on top of a Depth Anything V2 encoder + DPT head, and the window / streaming
 * forward passes built from backend ops.
 *
 * A VDA checkpoint maps onto two owners: the DA-V2 part (pretrained.*, head.* renamed to
 * depth_head.*) becomes an ordinary fathom_weights (weights_map.c checks it), and the four
 * temporal modules (head.motion_modules.*) become fathom_vda_weights, checked here. */
#ifndef FATHOM_MODEL_VDA_H
#define FATHOM_MODEL_VDA_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "model/weights.h"

#define FATHOM_VDA_T 32        /* frames per window, PE length */
#define FATHOM_VDA_HEADS 8     /* temporal attention heads */
#define FATHOM_VDA_GROUPS 32   /* GroupNorm groups */
#define FATHOM_VDA_MAX_FIELDS 128 /* tensor fields of fathom_vda_weights (4 x 24 used) */

typedef struct fathom_vda_attn_weights {
    float *qkv_w;               /* (3C, C): to_q, to_k, to_v rows packed, no bias */
    float *out_w, *out_b;       /* to_out.0: (C, C), (C) */
    float *pe;                  /* (32, C) pos_encoder.pe, as stored (never recomputed) */
    float *norm_w, *norm_b;     /* norms.{a}: LayerNorm (C), eps 1e-5 */
} fathom_vda_attn_weights;

typedef struct fathom_vda_module_weights {
    int C;                      /* width */
    float *gn_w, *gn_b;         /* GroupNorm (C), eps 1e-6 */
    float *in_w, *in_b;         /* proj_in (C, C), (C) */
    fathom_vda_attn_weights attn[2];
    float *ffn_w, *ffn_b;       /* ff_norm LayerNorm (C) */
    float *ff1_w, *ff1_b;       /* ff.net.0.proj (8C, C), (8C): rows [value 4C | gate 4C] */
    float *ff2_w, *ff2_b;       /* ff.net.2 (C, 4C), (C) */
    float *out_w, *out_b;       /* proj_out (C, C), (C) */
} fathom_vda_module_weights;

typedef struct fathom_vda_weights {
    fathom_vda_module_weights mm[4]; /* mm0: layer_3, mm1: layer_4, mm2: refinenet4, mm3: refinenet3 */
    int64_t params;             /* temporal parameters (PE buffers excluded) */
    void *arena;                /* owned: every float* above points in here */
    size_t arena_bytes;
    /* The slot table (as fathom_weights'): the address of every tensor field above, one per
     * tensor the mapper filled; moving the weights (fathom_vda_weights_rebase) goes through it. */
    float **fields[FATHOM_VDA_MAX_FIELDS];
    size_t n_fields;
} fathom_vda_weights;

/* 1 when the tensor names are those of a Video Depth Anything checkpoint (head.motion_modules.*
 * or the DPT head under "head.projects." / "head.scratch."). */
int fathom_vda_set_is_vda(const fathom_tensor_set *set);

/* Map a VDA tensor set: the DA-V2 part into *base (fathom_weights_map), the temporal modules
 * into *temporal. cfg/params as for fathom_weights_map. On failure both outputs are NULL and
 * the error names the file and the first bad tensor (in the file's own spelling). */
fathom_status fathom_vda_weights_map(fathom_tensor_set *set, const fathom_config *cfg,
                                     const fathom_model_params *params, fathom_weights **base,
                                     fathom_vda_weights **temporal);
/* Open a .pth / .safetensors file and map it (above). */
fathom_status fathom_vda_weights_load(const char *path, const fathom_config *cfg,
                                      const fathom_model_params *params, fathom_weights **base,
                                      fathom_vda_weights **temporal);
/* 1 when `path` is a .pth / .safetensors whose names are VDA's (reads only the header). */
int fathom_vda_file_is_vda(const char *path);
void fathom_vda_weights_free(fathom_vda_weights **w);
/* A view of h whose tensor fields point into `base` (a copy of h->arena, e.g. in device
 * memory): *out = *h with every field of the slot table relocated. FATHOM_ERR_INTERNAL if a
 * field still points into h->arena afterwards (a tensor missing from the slot table), so a
 * device never gets a host pointer. out->fields stays h's (borrowed). */
fathom_status fathom_vda_weights_rebase(const fathom_vda_weights *h, void *base,
                                        fathom_vda_weights *out);
/* config.json beside `pth` when it is a VDA one (vda_config.c); *found = 0 when absent. */
fathom_status fathom_vda_config_near(const char *pth, fathom_config *cfg, int *found);

#endif
