/* depthpro_config.h - what a Depth Pro config.json adds to the tensor shapes. */
#ifndef FATHOM_MODEL_DEPTHPRO_CONFIG_H
#define FATHOM_MODEL_DEPTHPRO_CONFIG_H

#include <stddef.h>

#include "model/depthpro.h"

typedef struct fathom_dp_config {
    int present;           /* a config was read */
    int heads[3];          /* per ViT (patch, image, fov); 0 = absent */
    double eps[3];         /* 0 = absent */
    int hidden[3], layers[3]; /* 0 = absent; checked against the shapes */
    int has_hooks, hooks[2]; /* official order (HF's reversed) */
    int fusion;            /* fusion_hidden_size; 0 = absent */
} fathom_dp_config;

fathom_status fathom_dp_config_parse(const char *text, size_t n, const char *path, fathom_dp_config *out);
fathom_status fathom_dp_config_load(const char *path, fathom_dp_config *out);

/* Map a tensor set (official or HF names) onto fathom_dp_weights (depthpro_weights.c); cfg
 * overrides what the shapes cannot say. Errors name the first bad tensor. */
fathom_status fathom_dp_map_set(fathom_tensor_set *set, const fathom_dp_config *cfg, fathom_dp_weights **out);

#endif
