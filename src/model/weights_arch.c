/* weights_arch.c - the architecture of a checkpoint: inferred from tensor shapes, then
 * config.json and the caller's parameters applied, named, and checked for the slot shapes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "model/weights_map.h"

static const struct {
    const char *name;
    int dim, depth, layers[4], features, out[4];
} known_arch[] = {
    {"vits", 384, 12, {2, 5, 8, 11}, 64, {48, 96, 192, 384}},
    {"vitb", 768, 12, {2, 5, 8, 11}, 128, {96, 192, 384, 768}},
    {"vitl", 1024, 24, {4, 11, 17, 23}, 256, {256, 512, 1024, 1024}},
    {"vitg", 1536, 40, {9, 19, 29, 39}, 384, {1536, 1536, 1536, 1536}},
};

static int64_t last_dim(const fathom_raw_tensor *t) { return t && t->ndim ? t->shape[t->ndim - 1] : 0; }
static int64_t first_dim(const fathom_raw_tensor *t) { return t && t->ndim ? t->shape[0] : 0; }

static int clamp_dim(int64_t v) { return v < 0 || v > MAP_MAX_DIM * 4 ? 0 : (int)v; }

void fathom_map_infer_arch(const map_ctx *c, fathom_arch *a) {
    memset(a, 0, sizeof *a);
    a->embed_dim = clamp_dim(last_dim(fathom_map_find(c, "pretrained.cls_token", -1)));
    int depth = 0;
    for (size_t i = 0; i < c->set->n; i++) {
        const char *p = c->m[i].name;
        int b;
        if (fathom_map_eat(&p, "pretrained.blocks.") && fathom_map_eat_index(&p, &b) && b + 1 > depth) depth = b + 1;
    }
    a->depth = depth;
    a->swiglu = fathom_map_find(c, "pretrained.blocks.0.mlp.w12.weight", -1) != NULL;
    if (a->swiglu) a->mlp_hidden = clamp_dim(first_dim(fathom_map_find(c, "pretrained.blocks.0.mlp.w12.weight", -1)) / 2);
    else a->mlp_hidden = clamp_dim(first_dim(fathom_map_find(c, "pretrained.blocks.0.mlp.fc1.weight", -1)));
    a->heads = a->embed_dim % 64 == 0 ? a->embed_dim / 64 : 0;
    const fathom_raw_tensor *pw = fathom_map_find(c, "pretrained.patch_embed.proj.weight", -1);
    a->patch = pw && pw->ndim == 4 ? clamp_dim(pw->shape[3]) : 14;
    const fathom_raw_tensor *pe = fathom_map_find(c, "pretrained.pos_embed", -1);
    if (pe && pe->ndim == 3 && pe->shape[1] >= 2 && pe->shape[1] <= (int64_t)MAP_MAX_GRID * MAP_MAX_GRID + 1) {
        int64_t g = (int64_t)llround(sqrt((double)(pe->shape[1] - 1)));
        a->pos_grid = g * g == pe->shape[1] - 1 ? (int)g : 0;
    }
    a->features = clamp_dim(first_dim(fathom_map_find(c, "depth_head.scratch.layer1_rn.weight", -1)));
    for (int k = 0; k < 4; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "depth_head.projects.%d.weight", k);
        a->out_ch[k] = clamp_dim(first_dim(fathom_map_find(c, nm, -1)));
        a->layer_idx[k] = -1;
    }
    a->head_hidden = clamp_dim(first_dim(fathom_map_find(c, "depth_head.scratch.output_conv2.0.weight", -1)));
    a->ln_eps = 1e-6f;
    a->max_depth = 20.0f;
    for (size_t k = 0; k < sizeof known_arch / sizeof known_arch[0]; k++)
        if (a->embed_dim == known_arch[k].dim && a->depth == known_arch[k].depth)
            memcpy(a->layer_idx, known_arch[k].layers, sizeof a->layer_idx);
}

void fathom_map_apply_config(fathom_arch *a, const fathom_config *cfg) {
    if (!cfg) return;
    if (cfg->has_hidden_size) a->embed_dim = cfg->hidden_size;
    if (cfg->has_layers) a->depth = cfg->layers;
    if (cfg->has_heads) a->heads = cfg->heads;
    if (cfg->has_swiglu) a->swiglu = cfg->swiglu;
    if (cfg->has_mlp_ratio) {
        int d = a->embed_dim;
        if (a->swiglu) {
            /* DINOv2 SwiGLUFFNFused: hidden = (int(D * ratio * 2/3) + 7) // 8 * 8 */
            a->mlp_hidden = ((int)(d * cfg->mlp_ratio * 2.0 / 3.0) + 7) / 8 * 8;
        } else {
            a->mlp_hidden = (int)(d * cfg->mlp_ratio);
        }
    }
    if (cfg->has_out_indices) memcpy(a->layer_idx, cfg->out_indices, sizeof a->layer_idx);
    if (cfg->has_patch) a->patch = cfg->patch;
    if (cfg->has_image_size && a->patch > 0) a->pos_grid = cfg->image_size / a->patch;
    if (cfg->has_ln_eps) a->ln_eps = (float)cfg->ln_eps;
    if (cfg->has_features) a->features = cfg->features;
    if (cfg->has_neck) memcpy(a->out_ch, cfg->neck, sizeof a->out_ch);
    if (cfg->has_head_hidden) a->head_hidden = cfg->head_hidden;
    if (cfg->has_metric) a->metric = cfg->metric;
    /* HF relative configs carry the class default max_depth 1: only a metric config's counts */
    if (cfg->has_max_depth && cfg->has_metric && cfg->metric) a->max_depth = (float)cfg->max_depth;
}

void fathom_map_apply_params(fathom_arch *a, const fathom_model_params *p) {
    if (!p) return;
    if (p->metric >= 0) a->metric = p->metric != 0;
    if (p->max_depth > 0) a->max_depth = p->max_depth;
}

void fathom_map_name_arch(fathom_arch *a) {
    snprintf(a->name, sizeof a->name, "custom");
    for (size_t k = 0; k < sizeof known_arch / sizeof known_arch[0]; k++) {
        if (a->embed_dim != known_arch[k].dim || a->depth != known_arch[k].depth ||
            a->features != known_arch[k].features || a->swiglu != (k == 3) ||
            memcmp(a->out_ch, known_arch[k].out, sizeof a->out_ch) != 0 ||
            memcmp(a->layer_idx, known_arch[k].layers, sizeof a->layer_idx) != 0 ||
            a->heads != a->embed_dim / 64 || a->patch != 14 || a->pos_grid != 37)
            continue;
        snprintf(a->name, sizeof a->name, "%s", known_arch[k].name);
    }
}

fathom_status fathom_map_check_arch(const map_ctx *c, const fathom_arch *a) {
    const char *path = c->path;
    struct { const char *what; int v, max; } f[] = {
        {"embed dim", a->embed_dim, MAP_MAX_DIM}, {"heads", a->heads, MAP_MAX_DIM},
        {"MLP hidden size", a->mlp_hidden, MAP_MAX_DIM * 4}, {"patch size", a->patch, 64},
        {"position grid", a->pos_grid, MAP_MAX_GRID}, {"DPT features", a->features, MAP_MAX_DIM},
        {"head hidden size", a->head_hidden, MAP_MAX_DIM}, {"out_channels[0]", a->out_ch[0], MAP_MAX_DIM},
        {"out_channels[1]", a->out_ch[1], MAP_MAX_DIM}, {"out_channels[2]", a->out_ch[2], MAP_MAX_DIM},
        {"out_channels[3]", a->out_ch[3], MAP_MAX_DIM},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0 || f[i].v > f[i].max)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot determine a valid %s (got %d; at most %d)",
                               path, f[i].what, f[i].v, f[i].max);
    if (a->embed_dim % a->heads)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: embed dim %d is not a multiple of %d heads", path,
                           a->embed_dim, a->heads);
    if (a->features % 2)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: DPT features %d is odd", path, a->features);
    for (int k = 0; k < 4; k++)
        if (a->layer_idx[k] < 0 || a->layer_idx[k] >= a->depth)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED,
                               "%s: cannot tell which blocks feed the head (%d blocks of dim %d is not vits/vitb/vitl/vitg; "
                               "use a folder with config.json giving out_indices)",
                               path, a->depth, a->embed_dim);
    return FATHOM_OK;
}
