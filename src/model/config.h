/* config.h - the architecture fields of a Hugging Face DepthAnything config.json.
 *
 * Only keys that are present are taken (has_* = 1); absent ones are inferred from the tensor
 * shapes by weights_map.c, so a partial config never silently picks up HF's generic
 * defaults (image_size 224, patch 16) that do not describe Depth Anything. */
#ifndef FATHOM_MODEL_CONFIG_H
#define FATHOM_MODEL_CONFIG_H

#include <stddef.h>

#include "model/weights.h"

struct fathom_config {
    int has_hidden_size, hidden_size;          /* backbone_config.hidden_size: D */
    int has_layers, layers;                    /* backbone_config.num_hidden_layers */
    int has_heads, heads;                      /* backbone_config.num_attention_heads */
    int has_mlp_ratio; double mlp_ratio;       /* backbone_config.mlp_ratio */
    int has_swiglu, swiglu;                    /* backbone_config.use_swiglu_ffn */
    int has_out_indices, out_indices[4];       /* 0-based (the file's are 1-based) */
    int has_patch, patch;                      /* backbone_config.patch_size (or top-level) */
    int has_image_size, image_size;            /* backbone_config.image_size */
    int has_ln_eps; double ln_eps;             /* backbone_config.layer_norm_eps */
    int has_features, features;                /* fusion_hidden_size */
    int has_neck, neck[4];                     /* neck_hidden_sizes */
    int has_head_hidden, head_hidden;          /* head_hidden_size */
    int has_metric, metric;                    /* depth_estimation_type: "metric" / "relative" */
    int has_max_depth; double max_depth;       /* max_depth */
};

/* Parse config.json text (n bytes; `path` names it in errors). FATHOM_ERR_FORMAT for bad JSON
 * or a key of the wrong type or range. */
fathom_status fathom_config_parse(const char *text, size_t n, const char *path, fathom_config *out);
/* Read and parse a config.json file (at most 1 MiB). */
fathom_status fathom_config_load(const char *path, fathom_config *out);

#endif
