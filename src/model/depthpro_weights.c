/* depthpro_weights.c - official or Hugging Face Depth Pro tensors -> fathom_dp_weights.
 *
 * Steps, each finishing before the next so the error names the first real problem:
 *   1. translate every file name to its official name (HF query/key/value become parts of qkv);
 *   2. read the architecture from the shapes, then heads/hooks/eps from config.json;
 *   3. list the expected tensors ("slots") with shapes and destinations;
 *   4. unknown and duplicate names, then missing ones, then dtypes and shapes;
 *   5. one float32 arena, every tensor converted into it; the slot table (the address of every
 *      tensor field) is kept, so fathom_dp_rebase can move the weights to a device.
 * Files and what a tensor set is: depthpro_load.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/depthpro.h"
#include "model/depthpro_config.h"

#define DP_NAME 128
#define DP_MAX_DIM 65536

typedef struct dp_slot {
    char name[DP_NAME];
    int ndim;
    int64_t shape[4];
    int64_t numel;
    float **dst;
    int parts;        /* 3: qkv (HF stores query/key/value) */
    unsigned filled;
    size_t off;       /* floats into the arena */
} dp_slot;

typedef struct dp_ctx {
    fathom_tensor_set *set;
    const char *path;
    char (*names)[DP_NAME]; /* owned: official name of file tensor i */
    int *part;              /* owned: -1 whole, 0/1/2 HF query/key/value */
    dp_slot *slots;         /* owned */
    size_t nslots, cap;
    fathom_status err;
} dp_ctx;

static const char *const vit_official[3] = {"encoder.patch_encoder.", "encoder.image_encoder.", "fov.encoder.0."};
static const char *const vit_hf[3] = {"depth_pro.encoder.patch_encoder.model.", "depth_pro.encoder.image_encoder.model.",
                                      "fov_model.fov_encoder.model."};
static const char *const vit_label[3] = {"patch encoder", "image encoder", "FOV encoder"};

/* ---------------------------------------------------------------- name translation */

static int eat(const char **p, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(*p, prefix, n) != 0) return 0;
    *p += n;
    return 1;
}

static int eat_index(const char **p, int *v) {
    const char *s = *p;
    int x = 0, k = 0;
    while (s[k] >= '0' && s[k] <= '9' && k < 4) x = x * 10 + (s[k++] - '0');
    if (k == 0 || s[k] != '.') return 0;
    *v = x;
    *p = s + k + 1;
    return 1;
}

/* HF ViT-internal name -> official (timm) name. */
static int hf_vit(const char *p, const char *pre, char *out, size_t cap, int *part) {
    int i, n = -1;
    if (strcmp(p, "embeddings.cls_token") == 0) n = snprintf(out, cap, "%scls_token", pre);
    else if (strcmp(p, "embeddings.position_embeddings") == 0) n = snprintf(out, cap, "%spos_embed", pre);
    else if (eat(&p, "embeddings.patch_embeddings.projection.")) n = snprintf(out, cap, "%spatch_embed.proj.%s", pre, p);
    else if (eat(&p, "layernorm.")) n = snprintf(out, cap, "%snorm.%s", pre, p);
    else if (eat(&p, "encoder.layer.") && eat_index(&p, &i)) {
        static const char *const qkv[3] = {"attention.attention.query.", "attention.attention.key.",
                                           "attention.attention.value."};
        for (int k = 0; k < 3 && n < 0; k++)
            if (eat(&p, qkv[k])) {
                *part = k;
                n = snprintf(out, cap, "%sblocks.%d.attn.qkv.%s", pre, i, p);
            }
        if (n >= 0) {
        } else if (eat(&p, "attention.output.dense.")) n = snprintf(out, cap, "%sblocks.%d.attn.proj.%s", pre, i, p);
        else if (strcmp(p, "layer_scale1.lambda1") == 0) n = snprintf(out, cap, "%sblocks.%d.ls1.gamma", pre, i);
        else if (strcmp(p, "layer_scale2.lambda1") == 0) n = snprintf(out, cap, "%sblocks.%d.ls2.gamma", pre, i);
        else n = snprintf(out, cap, "%sblocks.%d.%s", pre, i, p);
    }
    return n >= 0 && (size_t)n < cap;
}

static int hf_fusion(const char *p, int k, char *out, size_t cap) {
    int n = -1, r, c;
    if (eat(&p, "projection.")) n = snprintf(out, cap, "decoder.fusions.%d.out_conv.%s", k, p);
    else if (eat(&p, "deconv.")) n = snprintf(out, cap, "decoder.fusions.%d.deconv.%s", k, p);
    else if (eat(&p, "residual_layer") && (r = *p - '0') >= 1 && r <= 2 && (p++, eat(&p, ".convolution")) &&
             (c = *p - '0') >= 1 && c <= 2 && p[1] == '.')
        n = snprintf(out, cap, "decoder.fusions.%d.resnet%d.residual.%d.%s", k, r, c == 1 ? 1 : 3, p + 2);
    return n >= 0 && (size_t)n < cap;
}

/* Returns 1 and the official name when `in` is an HF Depth Pro name. */
static int hf_to_official(const char *in, char *out, size_t cap, int *part) {
    const char *p = in;
    int j, l, n = -1;
    *part = -1;
    for (int v = 0; v < 3; v++)
        if (eat(&p, vit_hf[v])) return hf_vit(p, vit_official[v], out, cap, part);
    if (eat(&p, "depth_pro.neck.feature_upsample.")) {
        if (eat(&p, "image_block.layers.0.")) n = snprintf(out, cap, "encoder.upsample_lowres.%s", p);
        else if (eat(&p, "scaled_images.") && eat_index(&p, &j) && j <= 2 && eat(&p, "layers.") && eat_index(&p, &l))
            n = snprintf(out, cap, "encoder.upsample%d.%d.%s", 2 - j, l, p);
        else if (eat(&p, "intermediate.") && eat_index(&p, &j) && j <= 1 && eat(&p, "layers.") && eat_index(&p, &l))
            n = snprintf(out, cap, "encoder.upsample_latent%d.%d.%s", 1 - j, l, p);
    } else if (eat(&p, "depth_pro.neck.fuse_image_with_low_res.")) {
        n = snprintf(out, cap, "encoder.fuse_lowres.%s", p);
    } else if (eat(&p, "depth_pro.neck.feature_projection.projections.") && eat_index(&p, &j) && j <= 3) {
        n = snprintf(out, cap, "decoder.convs.%d.%s", 4 - j, p);
    } else if (eat(&p, "fusion_stage.intermediate.") && eat_index(&p, &j) && j <= 3) {
        return hf_fusion(p, 4 - j, out, cap);
    } else if (eat(&p, "fusion_stage.final.")) {
        return hf_fusion(p, 0, out, cap);
    } else if (eat(&p, "head.layers.")) {
        n = snprintf(out, cap, "head.%s", p);
    } else if (eat(&p, "fov_model.fov_encoder.neck.")) {
        n = snprintf(out, cap, "fov.encoder.1.%s", p);
    } else if (eat(&p, "fov_model.conv.")) {
        n = snprintf(out, cap, "fov.downsample.0.%s", p);
    } else if (eat(&p, "fov_model.head.layers.")) {
        n = snprintf(out, cap, "fov.head.%s", p);
    }
    return n >= 0 && (size_t)n < cap;
}

/* ---------------------------------------------------------------- lookup */

static const fathom_raw_tensor *find(const dp_ctx *c, const char *name, int part) {
    for (size_t i = 0; i < c->set->n; i++)
        if (c->part[i] == part && strcmp(c->names[i], name) == 0) return &c->set->t[i];
    return NULL;
}

/* Dimension `dim` of tensor `name` (qkv: query part for HF). Fails naming the tensor. */
static fathom_status dim_of(const dp_ctx *c, const char *name, int dim, int ndim, int *v) {
    const fathom_raw_tensor *t = find(c, name, -1);
    if (!t) t = find(c, name, 0);
    if (!t) return fathom_fail(FATHOM_ERR_FORMAT, "%s: Depth Pro tensor '%s' is missing", c->path, name);
    if (t->ndim != ndim || t->shape[dim] < 1 || t->shape[dim] > DP_MAX_DIM)
        return fathom_fail(FATHOM_ERR_SHAPE, "%s: tensor '%s' has %d dims (first %lld); expected %d", c->path, name,
                           t->ndim, (long long)(t->ndim ? t->shape[0] : 0), ndim);
    *v = (int)t->shape[dim];
    return FATHOM_OK;
}

/* ---------------------------------------------------------------- slots */

static void add(dp_ctx *c, float **dst, int ndim, int64_t a, int64_t b, int64_t d, int64_t e, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static void add(dp_ctx *c, float **dst, int ndim, int64_t a, int64_t b, int64_t d, int64_t e, const char *fmt, ...) {
    if (c->err != FATHOM_OK) return;
    if (c->nslots == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 512;
        dp_slot *s = realloc(c->slots, cap * sizeof *s);
        if (!s) {
            c->err = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
            return;
        }
        c->slots = s, c->cap = cap;
    }
    dp_slot *s = &c->slots[c->nslots++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    int64_t sh[4] = {a, b, d, e};
    s->ndim = ndim;
    s->numel = 1;
    for (int i = 0; i < ndim; i++) s->shape[i] = sh[i], s->numel *= sh[i];
    s->dst = dst;
    s->parts = strstr(s->name, ".attn.qkv.") ? 3 : 1;
}

static void add_vit(dp_ctx *c, fathom_dp_vit *v, const char *pre) {
    const int64_t D = v->D, Hm = v->mlp;
    add(c, &v->cls, 3, 1, 1, D, 0, "%scls_token", pre);
    add(c, &v->pos, 3, 1, 1 + FATHOM_DP_GRID * FATHOM_DP_GRID, D, 0, "%spos_embed", pre);
    add(c, &v->patch_w, 4, D, 3, 16, 16, "%spatch_embed.proj.weight", pre);
    add(c, &v->patch_b, 1, D, 0, 0, 0, "%spatch_embed.proj.bias", pre);
    for (int i = 0; i < v->depth; i++) {
        fathom_block_weights *b = &v->blocks[i];
        add(c, &b->norm1_w, 1, D, 0, 0, 0, "%sblocks.%d.norm1.weight", pre, i);
        add(c, &b->norm1_b, 1, D, 0, 0, 0, "%sblocks.%d.norm1.bias", pre, i);
        add(c, &b->qkv_w, 2, 3 * D, D, 0, 0, "%sblocks.%d.attn.qkv.weight", pre, i);
        add(c, &b->qkv_b, 1, 3 * D, 0, 0, 0, "%sblocks.%d.attn.qkv.bias", pre, i);
        add(c, &b->proj_w, 2, D, D, 0, 0, "%sblocks.%d.attn.proj.weight", pre, i);
        add(c, &b->proj_b, 1, D, 0, 0, 0, "%sblocks.%d.attn.proj.bias", pre, i);
        add(c, &b->ls1, 1, D, 0, 0, 0, "%sblocks.%d.ls1.gamma", pre, i);
        add(c, &b->norm2_w, 1, D, 0, 0, 0, "%sblocks.%d.norm2.weight", pre, i);
        add(c, &b->norm2_b, 1, D, 0, 0, 0, "%sblocks.%d.norm2.bias", pre, i);
        add(c, &b->fc1_w, 2, Hm, D, 0, 0, "%sblocks.%d.mlp.fc1.weight", pre, i);
        add(c, &b->fc1_b, 1, Hm, 0, 0, 0, "%sblocks.%d.mlp.fc1.bias", pre, i);
        add(c, &b->fc2_w, 2, D, Hm, 0, 0, "%sblocks.%d.mlp.fc2.weight", pre, i);
        add(c, &b->fc2_b, 1, D, 0, 0, 0, "%sblocks.%d.mlp.fc2.bias", pre, i);
        add(c, &b->ls2, 1, D, 0, 0, 0, "%sblocks.%d.ls2.gamma", pre, i);
    }
    add(c, &v->norm_w, 1, D, 0, 0, 0, "%snorm.weight", pre);
    add(c, &v->norm_b, 1, D, 0, 0, 0, "%snorm.bias", pre);
}

static void add_rcu(dp_ctx *c, fathom_dp_rcu *r, int dec, int k, int u) {
    add(c, &r->c1_w, 4, dec, dec, 3, 3, "decoder.fusions.%d.resnet%d.residual.1.weight", k, u);
    add(c, &r->c1_b, 1, dec, 0, 0, 0, "decoder.fusions.%d.resnet%d.residual.1.bias", k, u);
    add(c, &r->c2_w, 4, dec, dec, 3, 3, "decoder.fusions.%d.resnet%d.residual.3.weight", k, u);
    add(c, &r->c2_b, 1, dec, 0, 0, 0, "decoder.fusions.%d.resnet%d.residual.3.bias", k, u);
}

static void add_all(dp_ctx *c, fathom_dp_weights *w) {
    for (int v = 0; v < 3; v++) add_vit(c, &w->vit[v], vit_official[v]);
    const int D = w->vit[0].D, Di = w->vit[1].D, Df = w->vit[2].D, dec = w->dec;
    const int *d = w->d;
    add(c, &w->lat0[0], 4, d[0], D, 1, 1, "encoder.upsample_latent0.0.weight");
    add(c, &w->lat0[1], 4, d[0], dec, 2, 2, "encoder.upsample_latent0.1.weight");
    add(c, &w->lat0[2], 4, dec, dec, 2, 2, "encoder.upsample_latent0.2.weight");
    add(c, &w->lat0[3], 4, dec, dec, 2, 2, "encoder.upsample_latent0.3.weight");
    add(c, &w->lat1[0], 4, d[0], D, 1, 1, "encoder.upsample_latent1.0.weight");
    add(c, &w->lat1[1], 4, d[0], d[0], 2, 2, "encoder.upsample_latent1.1.weight");
    add(c, &w->lat1[2], 4, d[0], d[0], 2, 2, "encoder.upsample_latent1.2.weight");
    for (int k = 0; k < 3; k++) {
        add(c, &w->up[k][0], 4, d[k + 1], D, 1, 1, "encoder.upsample%d.0.weight", k);
        add(c, &w->up[k][1], 4, d[k + 1], d[k + 1], 2, 2, "encoder.upsample%d.1.weight", k);
    }
    add(c, &w->lowres_w, 4, Di, d[3], 2, 2, "encoder.upsample_lowres.weight");
    add(c, &w->lowres_b, 1, d[3], 0, 0, 0, "encoder.upsample_lowres.bias");
    add(c, &w->fuse_w, 4, d[3], 2 * d[3], 1, 1, "encoder.fuse_lowres.weight");
    add(c, &w->fuse_b, 1, d[3], 0, 0, 0, "encoder.fuse_lowres.bias");
    for (int i = 1; i <= 4; i++) add(c, &w->convs[i], 4, dec, i == 1 ? d[0] : d[i - 1], 3, 3, "decoder.convs.%d.weight", i);
    for (int k = 0; k < 5; k++) {
        fathom_dp_fusion *f = &w->fus[k];
        add_rcu(c, &f->rcu1, dec, k, 1);
        add_rcu(c, &f->rcu2, dec, k, 2);
        if (k > 0) add(c, &f->deconv, 4, dec, dec, 2, 2, "decoder.fusions.%d.deconv.weight", k);
        add(c, &f->out_w, 4, dec, dec, 1, 1, "decoder.fusions.%d.out_conv.weight", k);
        add(c, &f->out_b, 1, dec, 0, 0, 0, "decoder.fusions.%d.out_conv.bias", k);
    }
    const int hm = w->head_mid, hh = w->head_hidden;
    add(c, &w->head_w[0], 4, hm, dec, 3, 3, "head.0.weight");
    add(c, &w->head_b[0], 1, hm, 0, 0, 0, "head.0.bias");
    add(c, &w->head_w[1], 4, hm, hm, 2, 2, "head.1.weight");
    add(c, &w->head_b[1], 1, hm, 0, 0, 0, "head.1.bias");
    add(c, &w->head_w[2], 4, hh, hm, 3, 3, "head.2.weight");
    add(c, &w->head_b[2], 1, hh, 0, 0, 0, "head.2.bias");
    add(c, &w->head_w[3], 4, 1, hh, 1, 1, "head.4.weight");
    add(c, &w->head_b[3], 1, 1, 0, 0, 0, "head.4.bias");
    add(c, &w->fov_lin_w, 2, w->fov_c, Df, 0, 0, "fov.encoder.1.weight");
    add(c, &w->fov_lin_b, 1, w->fov_c, 0, 0, 0, "fov.encoder.1.bias");
    add(c, &w->fov_ds_w, 4, w->fov_c, dec, 3, 3, "fov.downsample.0.weight");
    add(c, &w->fov_ds_b, 1, w->fov_c, 0, 0, 0, "fov.downsample.0.bias");
    add(c, &w->fov_head_w[0], 4, w->fov_h1, w->fov_c, 3, 3, "fov.head.0.weight");
    add(c, &w->fov_head_b[0], 1, w->fov_h1, 0, 0, 0, "fov.head.0.bias");
    add(c, &w->fov_head_w[1], 4, w->fov_h2, w->fov_h1, 3, 3, "fov.head.2.weight");
    add(c, &w->fov_head_b[1], 1, w->fov_h2, 0, 0, 0, "fov.head.2.bias");
    add(c, &w->fov_head_w[2], 4, 1, w->fov_h2, 6, 6, "fov.head.4.weight");
    add(c, &w->fov_head_b[2], 1, 1, 0, 0, 0, "fov.head.4.bias");
}

/* ---------------------------------------------------------------- architecture */

static fathom_status read_arch(dp_ctx *c, const fathom_dp_config *cfg, fathom_dp_weights *w) {
    char n[DP_NAME];
    for (int v = 0; v < 3; v++) {
        fathom_dp_vit *vt = &w->vit[v];
        const char *pre = vit_official[v];
        snprintf(n, sizeof n, "%spos_embed", pre);
        FATHOM_TRY(dim_of(c, n, 2, 3, &vt->D));
        int depth = 0;
        for (size_t i = 0; i < c->set->n; i++) {
            const char *p = c->names[i];
            int b;
            if (eat(&p, pre) && eat(&p, "blocks.") && eat_index(&p, &b) && b + 1 > depth) depth = b + 1;
        }
        if (depth == 0)
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: the %s has no blocks ('%sblocks.0.*' missing)", c->path,
                               vit_label[v], pre);
        vt->depth = depth;
        snprintf(n, sizeof n, "%sblocks.0.mlp.fc1.weight", pre);
        FATHOM_TRY(dim_of(c, n, 0, 2, &vt->mlp));
        if (cfg->present && cfg->hidden[v] && cfg->hidden[v] != vt->D)
            return fathom_fail(FATHOM_ERR_SHAPE, "%s: config says the %s has hidden_size %d, its tensors have %d",
                               c->path, vit_label[v], cfg->hidden[v], vt->D);
        if (cfg->present && cfg->layers[v] && cfg->layers[v] != vt->depth)
            return fathom_fail(FATHOM_ERR_SHAPE, "%s: config says the %s has %d layers, its tensors have %d", c->path,
                               vit_label[v], cfg->layers[v], vt->depth);
        if (cfg->present && cfg->heads[v]) {
            vt->heads = cfg->heads[v];
            vt->eps = cfg->eps[v] > 0 ? (float)cfg->eps[v] : 1e-6f;
        } else if (vt->D == 1024 && vt->depth == 24) {
            vt->heads = 16, vt->eps = 1e-6f;
        } else {
            return fathom_fail(FATHOM_ERR_UNSUPPORTED,
                               "%s: the %s is not the released ViT-L (width %d, %d blocks) and no config.json gives "
                               "its attention heads (put the HF config.json beside it, or in hf/)",
                               c->path, vit_label[v], vt->D, vt->depth);
        }
        if (vt->D % vt->heads)
            return fathom_fail(FATHOM_ERR_SHAPE, "%s: the %s's width %d is not a multiple of its %d heads", c->path,
                               vit_label[v], vt->D, vt->heads);
        vt->blocks = calloc((size_t)depth, sizeof *vt->blocks);
        if (!vt->blocks) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
    }
    if (cfg->present && cfg->has_hooks) {
        w->hooks[0] = cfg->hooks[0], w->hooks[1] = cfg->hooks[1];
    } else if (w->vit[0].D == 1024 && w->vit[0].depth == 24) {
        w->hooks[0] = 5, w->hooks[1] = 11;
    } else {
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: no config.json gives the hook blocks of this non-released patch encoder", c->path);
    }
    for (int k = 0; k < 2; k++)
        if (w->hooks[k] < 0 || w->hooks[k] >= w->vit[0].depth)
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: hook block %d is outside the patch encoder's %d blocks", c->path,
                               w->hooks[k], w->vit[0].depth);
    FATHOM_TRY(dim_of(c, "encoder.upsample_latent0.0.weight", 0, 4, &w->d[0]));
    FATHOM_TRY(dim_of(c, "encoder.upsample0.0.weight", 0, 4, &w->d[1]));
    FATHOM_TRY(dim_of(c, "encoder.upsample1.0.weight", 0, 4, &w->d[2]));
    FATHOM_TRY(dim_of(c, "encoder.upsample2.0.weight", 0, 4, &w->d[3]));
    FATHOM_TRY(dim_of(c, "decoder.fusions.0.out_conv.weight", 0, 4, &w->dec));
    if (cfg->present && cfg->fusion && cfg->fusion != w->dec)
        return fathom_fail(FATHOM_ERR_SHAPE, "%s: config says fusion_hidden_size %d, the decoder tensors have %d",
                           c->path, cfg->fusion, w->dec);
    FATHOM_TRY(dim_of(c, "head.0.weight", 0, 4, &w->head_mid));
    FATHOM_TRY(dim_of(c, "head.2.weight", 0, 4, &w->head_hidden));
    FATHOM_TRY(dim_of(c, "fov.encoder.1.weight", 0, 2, &w->fov_c));
    FATHOM_TRY(dim_of(c, "fov.head.0.weight", 0, 4, &w->fov_h1));
    FATHOM_TRY(dim_of(c, "fov.head.2.weight", 0, 4, &w->fov_h2));
    return FATHOM_OK;
}

/* ---------------------------------------------------------------- conversion */

static inline float f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        if (m == 0) bits = s;
        else {
            int k = 0;
            while (!(m & 1024)) m <<= 1, k++;
            bits = s | ((uint32_t)(113 - k) << 23) | ((m & 1023) << 13);
        }
    } else if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void convert(float *dst, const uint8_t *src, fathom_dtype dt, int64_t n) {
    if (dt == FATHOM_DT_F32) {
        memcpy(dst, src, (size_t)n * 4);
    } else if (dt == FATHOM_DT_F16) {
        for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &b, 4);
        }
    }
}

static dp_slot *slot_of(dp_ctx *c, const char *name) {
    for (size_t s = 0; s < c->nslots; s++)
        if (strcmp(c->slots[s].name, name) == 0) return &c->slots[s];
    return NULL;
}

static fathom_status check_and_fill(dp_ctx *c, fathom_dp_weights *w) {
    fathom_tensor_set *set = c->set;
    dp_slot **match = calloc(set->n ? set->n : 1, sizeof *match); /* owned */
    if (!match) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
    fathom_status st = FATHOM_OK;
    /* names */
    for (size_t i = 0; i < set->n && st == FATHOM_OK; i++) {
        dp_slot *s = c->names[i][0] ? slot_of(c, c->names[i]) : NULL;
        if (!s) {
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: unexpected tensor '%s' for Depth Pro", c->path, set->t[i].name);
            break;
        }
        unsigned bit = c->part[i] < 0 ? (s->parts == 3 ? 7u : 1u) : 1u << c->part[i];
        if ((c->part[i] >= 0 && s->parts != 3) || (s->filled & bit)) {
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s' appears twice (or qkv mixes packed and split forms)",
                             c->path, set->t[i].name);
            break;
        }
        s->filled |= bit;
        match[i] = s;
    }
    for (size_t s = 0; s < c->nslots && st == FATHOM_OK; s++)
        if (c->slots[s].filled != (c->slots[s].parts == 3 ? 7u : 1u))
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: Depth Pro tensor '%s' is missing", c->path, c->slots[s].name);
    /* dtypes and shapes */
    for (size_t i = 0; i < set->n && st == FATHOM_OK; i++) {
        const fathom_raw_tensor *t = &set->t[i];
        const dp_slot *s = match[i];
        if (t->dtype == FATHOM_DT_OTHER) {
            st = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (expected float32, float16 or bfloat16)",
                             c->path, t->name, t->dtype_name);
            break;
        }
        int64_t want[4];
        memcpy(want, s->shape, sizeof want);
        if (c->part[i] >= 0) want[0] /= 3;
        int ok = t->ndim == s->ndim;
        for (int k = 0; ok && k < s->ndim; k++) ok = t->shape[k] == want[k];
        if (!ok) {
            char got[96] = "", exp[96] = "";
            for (int k = 0; k < t->ndim && k < 8; k++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", k ? ", " : "", (long long)t->shape[k]);
            for (int k = 0; k < s->ndim; k++)
                snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", k ? ", " : "", (long long)want[k]);
            st = fathom_fail(FATHOM_ERR_SHAPE, "%s: tensor '%s' has shape [%s], expected [%s]", c->path, t->name, got, exp);
        }
    }
    /* arena */
    size_t total = 0;
    for (size_t s = 0; s < c->nslots && st == FATHOM_OK; s++) {
        c->slots[s].off = total;
        total += ((size_t)c->slots[s].numel + 15) / 16 * 16;
    }
    if (st == FATHOM_OK) {
        w->arena_bytes = total * sizeof(float);
        w->arena = fathom_alloc(w->arena_bytes);
        if (!w->arena) st = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate %zu bytes of weights", c->path, w->arena_bytes);
    }
    unsigned seen = 0;
    uint8_t *tmp = NULL; /* owned: staging for reduced-precision tensors */
    size_t tmp_cap = 0;
    for (size_t i = 0; i < set->n && st == FATHOM_OK; i++) {
        const fathom_raw_tensor *t = &set->t[i];
        const dp_slot *s = match[i];
        float *dst = (float *)w->arena + s->off + (c->part[i] > 0 ? (size_t)c->part[i] * (size_t)t->numel : 0);
        seen |= 1u << t->dtype;
        w->params += t->numel;
        size_t bytes = (size_t)t->numel * fathom_dtype_size(t->dtype);
        if (t->data) {
            convert(dst, t->data, t->dtype, t->numel);
        } else if (t->dtype == FATHOM_DT_F32) {
            st = set->read(set, t, dst);
        } else {
            if (bytes > tmp_cap) {
                free(tmp);
                tmp = malloc(bytes);
                tmp_cap = tmp ? bytes : 0;
                if (!tmp) {
                    st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
                    break;
                }
            }
            st = set->read(set, t, tmp);
            if (st == FATHOM_OK) convert(dst, tmp, t->dtype, t->numel);
        }
    }
    free(tmp);
    for (size_t s = 0; s < c->nslots && st == FATHOM_OK; s++) *c->slots[s].dst = (float *)w->arena + c->slots[s].off;
    if (st == FATHOM_OK) { /* the slot table, for moving the weights to a device */
        w->fields = malloc((c->nslots ? c->nslots : 1) * sizeof *w->fields);
        if (!w->fields) st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
        for (size_t s = 0; s < c->nslots && w->fields; s++) w->fields[s] = c->slots[s].dst;
        w->n_fields = w->fields ? c->nslots : 0;
    }
    snprintf(w->dtype, sizeof w->dtype, "%s", seen == 1u << FATHOM_DT_F32 ? "f32" : seen == 1u << FATHOM_DT_F16 ? "f16"
                                              : seen == 1u << FATHOM_DT_BF16 ? "bf16" : "mixed");
    free(match);
    return st;
}

fathom_status fathom_dp_map_set(fathom_tensor_set *set, const fathom_dp_config *cfg, fathom_dp_weights **out) {
    dp_ctx c = {.set = set, .path = set->path};
    fathom_dp_weights *w = calloc(1, sizeof *w); /* owned until *out */
    c.names = calloc(set->n ? set->n : 1, sizeof *c.names);
    c.part = calloc(set->n ? set->n : 1, sizeof *c.part);
    fathom_status st = FATHOM_OK;
    if (!w || !c.names || !c.part) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
        goto done;
    }
    if (!fathom_dp_is_depthpro_set(set)) {
        if (fathom_dp_is_dav2_set(set))
            st = fathom_fail(FATHOM_ERR_UNSUPPORTED,
                             "%s: this is a Depth Anything V2 checkpoint, not Depth Pro (load it as a Depth Anything V2 model)",
                             set->path);
        else
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: not a Depth Pro checkpoint (%zu tensors, first '%s')", set->path, set->n,
                             set->n ? set->t[0].name : "");
        goto done;
    }
    for (size_t i = 0; i < set->n; i++) {
        const char *nm = set->t[i].name;
        c.part[i] = -1;
        if (!hf_to_official(nm, c.names[i], DP_NAME, &c.part[i])) {
            c.part[i] = -1;
            if (strlen(nm) < DP_NAME) snprintf(c.names[i], DP_NAME, "%s", nm);
        }
    }
    if ((st = read_arch(&c, cfg, w)) != FATHOM_OK) goto done;
    add_all(&c, w);
    if ((st = c.err) != FATHOM_OK) goto done;
    if ((st = check_and_fill(&c, w)) != FATHOM_OK) goto done;
    snprintf(w->format, sizeof w->format, "%s", set->format);
    *out = w;
    w = NULL;
done:
    fathom_dp_free(&w);
    free(c.names);
    free(c.part);
    free(c.slots);
    return st;
}

void fathom_dp_free(fathom_dp_weights **w) {
    if (!w || !*w) return;
    fathom_free_sized((*w)->arena, (*w)->arena_bytes);
    for (int v = 0; v < 3; v++) free((*w)->vit[v].blocks);
    free((*w)->fields);
    free(*w);
    *w = NULL;
}

fathom_status fathom_dp_rebase(const fathom_dp_weights *h, void *base, fathom_dp_weights *out,
                               fathom_block_weights *const blocks_out[3]) {
    fathom_dp_weights tmp;
    fathom_slot_region reg[4] = {{h, &tmp, sizeof tmp, "fathom_dp_weights"}};
    for (int v = 0; v < 3; v++)
        reg[1 + v] = (fathom_slot_region){h->vit[v].blocks, blocks_out[v], sizeof *blocks_out[v] * (size_t)h->vit[v].depth,
                                          "a Depth Pro ViT block"};
    FATHOM_TRY(fathom_slots_rebase(h->fields, h->n_fields, &h->arena, h->arena_bytes, base, reg, 4));
    *out = tmp;
    for (int v = 0; v < 3; v++) out->vit[v].blocks = blocks_out[v];
    return FATHOM_OK;
}
