/* weights_map.c - official or Hugging Face tensor names -> fathom_weights.
 *
 * Steps, each finishing before the next so the error names the first real problem:
 *   1. translate every file name to its official name (weights_names.c: HF q/k/v become
 *      parts of qkv, HF fusion index j becomes refinenet 4 - j);
 *   2. infer the architecture from shapes, then apply config.json and the caller's params
 *      (weights_arch.c);
 *   3. build the list of expected tensors ("slots") with their shapes and destinations;
 *   4. check names (unknown, duplicate), then missing tensors, then dtypes and shapes;
 *   5. lay out one arena and convert every used tensor to float32 into it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/config.h"
#include "model/weights.h"
#include "model/weights_map.h"
#include "model/weights_names.h"

/* ---------------------------------------------------------------- name translation */

static void translate_all(map_ctx *c) {
    for (size_t i = 0; i < c->set->n; i++) {
        const char *nm = c->set->t[i].name;
        const char *p = nm;
        if (fathom_map_eat(&p, "module.")) nm = p; /* saved from DataParallel */
        mapped *m = &c->m[i];
        if (fathom_name_hf_to_official(nm, m->name, sizeof m->name, &m->part)) {
            c->hf = 1;
        } else {
            snprintf(m->name, sizeof m->name, "%s", nm);
            if (strlen(nm) >= sizeof m->name) m->name[0] = '\0'; /* too long: unknown */
        }
    }
}

const fathom_raw_tensor *fathom_map_find(const map_ctx *c, const char *official, int part) {
    for (size_t i = 0; i < c->set->n; i++)
        if ((c->m[i].part == part || c->m[i].part == -1) && strcmp(c->m[i].name, official) == 0)
            return &c->set->t[i];
    return NULL;
}

/* ---------------------------------------------------------------- slots */

static fathom_status add_slot(map_ctx *c, float **dst, int ndim, int64_t d0, int64_t d1, int64_t d2,
                              int64_t d3, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static fathom_status add_slot(map_ctx *c, float **dst, int ndim, int64_t d0, int64_t d1, int64_t d2,
                              int64_t d3, const char *fmt, ...) {
    if (c->nslots == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        slot *s = realloc(c->slots, cap * sizeof *s);
        if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
        c->slots = s;
        c->cap = cap;
    }
    slot *s = &c->slots[c->nslots++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    int64_t d[4] = {d0, d1, d2, d3};
    s->ndim = ndim;
    s->numel = 1;
    for (int i = 0; i < ndim; i++) {
        s->shape[i] = d[i];
        s->numel *= d[i]; /* dims are <= 4 * MAP_MAX_DIM: no overflow in int64 */
    }
    s->dst = dst;
    s->parts = 1;
    return FATHOM_OK;
}

#define SLOT(dst, nd, a, b, c_, d, ...) FATHOM_TRY(add_slot(c, dst, nd, a, b, c_, d, __VA_ARGS__))

static fathom_status build_slots(map_ctx *c, fathom_weights *w) {
    const fathom_arch *a = &w->arch;
    int64_t D = a->embed_dim, G = a->pos_grid, P = a->patch, F = a->features, Hm = a->mlp_hidden;
    const int64_t *O = (int64_t[4]){a->out_ch[0], a->out_ch[1], a->out_ch[2], a->out_ch[3]};
    SLOT(&w->cls_token, 3, 1, 1, D, 0, "pretrained.cls_token");
    SLOT(&w->pos_embed, 3, 1, 1 + G * G, D, 0, "pretrained.pos_embed");
    SLOT(NULL, 2, 1, D, 0, 0, "pretrained.mask_token");
    SLOT(&w->patch_w, 4, D, 3, P, P, "pretrained.patch_embed.proj.weight");
    SLOT(&w->patch_b, 1, D, 0, 0, 0, "pretrained.patch_embed.proj.bias");
    for (int i = 0; i < a->depth; i++) {
        fathom_block_weights *b = &w->blocks[i];
        SLOT(&b->norm1_w, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm1.weight", i);
        SLOT(&b->norm1_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm1.bias", i);
        SLOT(&b->qkv_w, 2, 3 * D, D, 0, 0, "pretrained.blocks.%d.attn.qkv.weight", i);
        c->slots[c->nslots - 1].parts = 3;
        SLOT(&b->qkv_b, 1, 3 * D, 0, 0, 0, "pretrained.blocks.%d.attn.qkv.bias", i);
        c->slots[c->nslots - 1].parts = 3;
        SLOT(&b->proj_w, 2, D, D, 0, 0, "pretrained.blocks.%d.attn.proj.weight", i);
        SLOT(&b->proj_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.attn.proj.bias", i);
        SLOT(&b->ls1, 1, D, 0, 0, 0, "pretrained.blocks.%d.ls1.gamma", i);
        SLOT(&b->norm2_w, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm2.weight", i);
        SLOT(&b->norm2_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.norm2.bias", i);
        if (a->swiglu) {
            SLOT(&b->fc1_w, 2, 2 * Hm, D, 0, 0, "pretrained.blocks.%d.mlp.w12.weight", i);
            SLOT(&b->fc1_b, 1, 2 * Hm, 0, 0, 0, "pretrained.blocks.%d.mlp.w12.bias", i);
            SLOT(&b->fc2_w, 2, D, Hm, 0, 0, "pretrained.blocks.%d.mlp.w3.weight", i);
            SLOT(&b->fc2_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.mlp.w3.bias", i);
        } else {
            SLOT(&b->fc1_w, 2, Hm, D, 0, 0, "pretrained.blocks.%d.mlp.fc1.weight", i);
            SLOT(&b->fc1_b, 1, Hm, 0, 0, 0, "pretrained.blocks.%d.mlp.fc1.bias", i);
            SLOT(&b->fc2_w, 2, D, Hm, 0, 0, "pretrained.blocks.%d.mlp.fc2.weight", i);
            SLOT(&b->fc2_b, 1, D, 0, 0, 0, "pretrained.blocks.%d.mlp.fc2.bias", i);
        }
        SLOT(&b->ls2, 1, D, 0, 0, 0, "pretrained.blocks.%d.ls2.gamma", i);
    }
    SLOT(&w->norm_w, 1, D, 0, 0, 0, "pretrained.norm.weight");
    SLOT(&w->norm_b, 1, D, 0, 0, 0, "pretrained.norm.bias");
    for (int k = 0; k < 4; k++) {
        SLOT(&w->proj_w[k], 4, O[k], D, 1, 1, "depth_head.projects.%d.weight", k);
        SLOT(&w->proj_b[k], 1, O[k], 0, 0, 0, "depth_head.projects.%d.bias", k);
    }
    SLOT(&w->resize0_w, 4, O[0], O[0], 4, 4, "depth_head.resize_layers.0.weight");
    SLOT(&w->resize0_b, 1, O[0], 0, 0, 0, "depth_head.resize_layers.0.bias");
    SLOT(&w->resize1_w, 4, O[1], O[1], 2, 2, "depth_head.resize_layers.1.weight");
    SLOT(&w->resize1_b, 1, O[1], 0, 0, 0, "depth_head.resize_layers.1.bias");
    SLOT(&w->resize3_w, 4, O[3], O[3], 3, 3, "depth_head.resize_layers.3.weight");
    SLOT(&w->resize3_b, 1, O[3], 0, 0, 0, "depth_head.resize_layers.3.bias");
    for (int k = 0; k < 4; k++)
        SLOT(&w->rn_w[k], 4, F, O[k], 3, 3, "depth_head.scratch.layer%d_rn.weight", k + 1);
    for (int k = 1; k <= 4; k++) {
        fathom_fusion_weights *f = &w->fusion[k - 1];
        const char *base = "depth_head.scratch.refinenet";
        SLOT(&f->out_w, 4, F, F, 1, 1, "%s%d.out_conv.weight", base, k);
        SLOT(&f->out_b, 1, F, 0, 0, 0, "%s%d.out_conv.bias", base, k);
        float **dw[2][2] = {{&f->rcu1_c1_w, &f->rcu1_c2_w}, {&f->rcu2_c1_w, &f->rcu2_c2_w}};
        float **db[2][2] = {{&f->rcu1_c1_b, &f->rcu1_c2_b}, {&f->rcu2_c1_b, &f->rcu2_c2_b}};
        for (int u = 1; u <= 2; u++)
            for (int cv = 1; cv <= 2; cv++) {
                int unused = k == 4 && u == 1; /* refinenet4 has a single input: RCU1 never runs */
                SLOT(unused ? NULL : dw[u - 1][cv - 1], 4, F, F, 3, 3, "%s%d.resConfUnit%d.conv%d.weight", base, k, u, cv);
                SLOT(unused ? NULL : db[u - 1][cv - 1], 1, F, 0, 0, 0, "%s%d.resConfUnit%d.conv%d.bias", base, k, u, cv);
            }
    }
    SLOT(&w->out1_w, 4, F / 2, F, 3, 3, "depth_head.scratch.output_conv1.weight");
    SLOT(&w->out1_b, 1, F / 2, 0, 0, 0, "depth_head.scratch.output_conv1.bias");
    SLOT(&w->out2_w, 4, a->head_hidden, F / 2, 3, 3, "depth_head.scratch.output_conv2.0.weight");
    SLOT(&w->out2_b, 1, a->head_hidden, 0, 0, 0, "depth_head.scratch.output_conv2.0.bias");
    SLOT(&w->out3_w, 4, 1, a->head_hidden, 1, 1, "depth_head.scratch.output_conv2.2.weight");
    SLOT(&w->out3_b, 1, 1, 0, 0, 0, "depth_head.scratch.output_conv2.2.bias");
    return FATHOM_OK;
}

static int slot_cmp(const void *a, const void *b) {
    return strcmp(((const slot *)a)->name, ((const slot *)b)->name);
}

/* ---------------------------------------------------------------- checks */

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
}

static const char *part_name(int part) {
    return part == 0 ? "query" : part == 1 ? "key" : part == 2 ? "value" : "";
}

/* Names: every file tensor must be expected, and fill its slot (or part) once. */
static fathom_status check_names(map_ctx *c) {
    for (size_t i = 0; i < c->set->n; i++) {
        mapped *m = &c->m[i];
        slot key;
        memcpy(key.name, m->name, sizeof key.name);
        slot *s = m->name[0] ? bsearch(&key, c->slots, c->nslots, sizeof *s, slot_cmp) : NULL;
        if (!s || (m->part >= 0 && s->parts != 3))
            return fathom_fail(FATHOM_ERR_FORMAT,
                               "%s: unexpected tensor '%s' (not a tensor of Depth Anything V2 %s with %d blocks)",
                               c->path, c->set->t[i].name, c->arch->name, c->arch->depth);
        unsigned bits = m->part >= 0 ? 1u << m->part : (s->parts == 3 ? 7u : 1u);
        if (s->filled & bits)
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s' is given more than once", c->path,
                               c->set->t[i].name);
        s->filled |= bits;
        m->slot = s;
    }
    return FATHOM_OK;
}

/* Missing tensors, reported in network order (slots were built in that order; sorted later). */
static fathom_status check_missing(map_ctx *c, const slot *ordered, size_t n) {
    for (size_t k = 0; k < n; k++) {
        slot key;
        memcpy(key.name, ordered[k].name, sizeof key.name);
        const slot *s = bsearch(&key, c->slots, c->nslots, sizeof *s, slot_cmp);
        unsigned want = s->parts == 3 ? 7u : 1u;
        if ((s->filled & want) == want || !s->dst) continue; /* unused tensors may be absent */
        int p = -1;
        if (s->parts == 3 && (s->filled || c->hf)) p = !(s->filled & 1) ? 0 : !(s->filled & 2) ? 1 : 2;
        char name[MAP_NAME + 32];
        if (c->hf) fathom_name_official_to_hf(s->name, p, name, sizeof name);
        else snprintf(name, sizeof name, "%s", s->name);
        if (p >= 0 && !c->hf)
            return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: missing tensor '%s' (the %s part is absent)", c->path,
                               name, part_name(p));
        return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: missing tensor '%s'", c->path, name);
    }
    return FATHOM_OK;
}

static fathom_status check_shapes(map_ctx *c, const fathom_arch *a) {
    for (size_t i = 0; i < c->set->n; i++) {
        const fathom_raw_tensor *t = &c->set->t[i];
        const slot *s = c->m[i].slot;
        if (t->dtype == FATHOM_DT_OTHER)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (float32, float16 or bfloat16 expected)",
                               c->path, t->name, t->dtype_name);
        int64_t want[4];
        memcpy(want, s->shape, sizeof want);
        if (c->m[i].part >= 0) want[0] /= 3;
        int ok = t->ndim == s->ndim;
        for (int d = 0; ok && d < s->ndim; d++) ok = t->shape[d] == want[d];
        if (!ok) {
            char got[160], exp[160];
            shape_str(got, sizeof got, t->ndim, t->shape);
            shape_str(exp, sizeof exp, s->ndim, want);
            return fathom_fail(FATHOM_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s for %s (dim %d, %d blocks)",
                               c->path, t->name, got, exp, a->name, a->embed_dim, a->depth);
        }
    }
    return FATHOM_OK;
}

/* ---------------------------------------------------------------- conversion */

static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu, bits;
    float f;
    if (em >= 0x7c00u) {
        bits = sign | 0x7f800000u | (em & 0x3ffu) << 13;          /* inf / nan */
    } else if (em >= 0x0400u) {
        bits = sign | ((em << 13) + 0x38000000u);                   /* normal: rebias 15 -> 127 */
    } else {
        f = (float)em * 5.9604644775390625e-8f;                     /* subnormal: em * 2^-24 */
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    memcpy(&f, &bits, 4);
    return f;
}

/* Little-endian source bytes -> float32; plain loops the compiler vectorizes. */
static void convert(float *dst, const uint8_t *src, int64_t n, fathom_dtype dt) {
    if (dt == FATHOM_DT_F32) {
        memcpy(dst, src, (size_t)n * 4);
    } else if (dt == FATHOM_DT_F16) {
        for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &bits, 4);
        }
    }
}

static fathom_status fill_arena(map_ctx *c, fathom_weights *w) {
    size_t floats = 0;
    size_t scratch_bytes = 0;
    for (size_t k = 0; k < c->nslots; k++) {
        slot *s = &c->slots[k];
        if (!s->dst) continue;
        s->off = floats;
        floats += ((size_t)s->numel + 15) / 16 * 16; /* 64-byte aligned tensors */
        if (floats > MAP_MAX_ARENA / 4)
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: weights need more than %zu GiB", c->path, MAP_MAX_ARENA >> 30);
    }
    for (size_t i = 0; i < c->set->n; i++) {
        const fathom_raw_tensor *t = &c->set->t[i];
        if (!t->data && t->dtype != FATHOM_DT_F32 && c->m[i].slot->dst &&
            (size_t)t->numel * 2 > scratch_bytes)
            scratch_bytes = (size_t)t->numel * 2;
    }
    w->arena_bytes = floats * 4;
    w->arena = fathom_alloc(w->arena_bytes);
    if (!w->arena)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate %zu MiB for the weights", c->path, w->arena_bytes >> 20);
    float *base = w->arena;
    w->fields = malloc(sizeof *w->fields * (c->nslots ? c->nslots : 1));
    w->info = calloc(c->nslots ? c->nslots : 1, sizeof *w->info);
    if (!w->fields || !w->info) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
    for (size_t k = 0; k < c->nslots; k++)
        if (c->slots[k].dst) {
            const slot *sl = &c->slots[k];
            fathom_field_info *in = &w->info[w->n_fields];
            snprintf(in->name, sizeof in->name, "%s", sl->name);
            in->ndim = sl->ndim;
            memcpy(in->shape, sl->shape, sizeof in->shape);
            *sl->dst = base + sl->off;
            w->fields[w->n_fields++] = sl->dst;
        }
    uint8_t *scratch = NULL; /* owned: staging for 16-bit tensors read through set->read */
    fathom_status st = FATHOM_OK;
    if (scratch_bytes && !(scratch = malloc(scratch_bytes))) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", c->path);
        goto done;
    }
    for (size_t i = 0; i < c->set->n; i++) {
        const fathom_raw_tensor *t = &c->set->t[i];
        const slot *s = c->m[i].slot;
        if (!s->dst) continue;
        float *dst = base + s->off + (c->m[i].part >= 0 ? (size_t)c->m[i].part * (size_t)t->numel : 0);
        if (t->data) {
            convert(dst, t->data, t->numel, t->dtype);
        } else if (t->dtype == FATHOM_DT_F32) {
            st = c->set->read(c->set, t, dst);
        } else {
            st = c->set->read(c->set, t, scratch);
            if (st == FATHOM_OK) convert(dst, scratch, t->numel, t->dtype);
        }
        if (st != FATHOM_OK) goto done;
    }
done:
    free(scratch);
    return st;
}

static void summarize(map_ctx *c, fathom_weights *w) {
    unsigned seen = 0;
    for (size_t i = 0; i < c->set->n; i++) {
        const fathom_raw_tensor *t = &c->set->t[i];
        seen |= 1u << t->dtype;
        if (c->m[i].slot->dst) w->params += t->numel;
        else w->unused_params += t->numel;
    }
    const char *dt = seen == 1u << FATHOM_DT_F32 ? "f32" : seen == 1u << FATHOM_DT_F16 ? "f16"
                     : seen == 1u << FATHOM_DT_BF16 ? "bf16" : "mixed";
    snprintf(w->dtype, sizeof w->dtype, "%s", dt);
    snprintf(w->format, sizeof w->format, "%s", c->set->format);
}

fathom_status fathom_weights_map(fathom_tensor_set *set, const fathom_config *cfg,
                                 const fathom_model_params *params, fathom_weights **out) {
    *out = NULL;
    map_ctx c = {.set = set, .path = set->path};
    slot *ordered = NULL;                     /* owned: slots in network order */
    fathom_weights *w = calloc(1, sizeof *w); /* owned until handed to *out */
    fathom_status st = FATHOM_OK;
    c.m = calloc(set->n ? set->n : 1, sizeof *c.m);
    if (!w || !c.m) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
        goto done;
    }
    translate_all(&c);
    fathom_map_infer_arch(&c, &w->arch);
    fathom_map_apply_config(&w->arch, cfg);
    fathom_map_apply_params(&w->arch, params);
    c.arch = &w->arch;
    if (w->arch.depth <= 0 || w->arch.depth > MAP_MAX_DEPTH) {
        st = w->arch.depth <= 0
                 ? fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: no encoder blocks (pretrained.blocks.* / backbone.encoder.layer.*): "
                                                     "not a Depth Anything V2 checkpoint", set->path)
                 : fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %d encoder blocks (at most %d)", set->path,
                               w->arch.depth, MAP_MAX_DEPTH);
        goto done;
    }
    fathom_map_name_arch(&w->arch);
    w->blocks = calloc((size_t)w->arch.depth, sizeof *w->blocks);
    if (!w->blocks) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
        goto done;
    }
    if ((st = build_slots(&c, w)) != FATHOM_OK) goto done;
    ordered = malloc(c.nslots * sizeof *ordered);
    if (!ordered) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
        goto done;
    }
    memcpy(ordered, c.slots, c.nslots * sizeof *ordered);
    qsort(c.slots, c.nslots, sizeof *c.slots, slot_cmp);
    if ((st = check_names(&c)) != FATHOM_OK) goto done;
    if ((st = check_missing(&c, ordered, c.nslots)) != FATHOM_OK) goto done;
    if ((st = fathom_map_check_arch(&c, &w->arch)) != FATHOM_OK) goto done;
    if ((st = check_shapes(&c, &w->arch)) != FATHOM_OK) goto done;
    if ((st = fill_arena(&c, w)) != FATHOM_OK) goto done;
    if (!(w->share = fathom_packed_share_new())) { /* engines of these weights share packed sets */
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
        goto done;
    }
    summarize(&c, w);
done:
    free(ordered);
    free(c.slots);
    free(c.m);
    if (st != FATHOM_OK) fathom_weights_free(&w);
    *out = w;
    return st;
}
