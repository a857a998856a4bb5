/* vda_weights.c - Video Depth Anything checkpoints: split the file's tensors into the DA-V2
 * part (mapped by weights_map.c after renaming head.* -> depth_head.*) and the four temporal
 * modules (head.motion_modules.{m}.temporal_transformer.*, checked and converted here).
 *
 * Checks run in the same order as weights_map.c so the error names the first real problem:
 * the DA-V2 part first (it fixes the widths), then unknown and duplicate temporal names,
 * then missing ones in network order, then dtypes and shapes. */
#include "model/vda.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/pth.h"
#include "model/safetensors.h"

#define MM_PREFIX "head.motion_modules."
#define VDA_NAME 128
#define VDA_SLOTS (4 * 28)

static const char *strip_module(const char *n) {
    return strncmp(n, "module.", 7) == 0 ? n + 7 : n;
}

int fathom_vda_set_is_vda(const fathom_tensor_set *set) {
    for (size_t i = 0; i < set->n; i++) {
        const char *n = strip_module(set->t[i].name);
        if (strncmp(n, MM_PREFIX, strlen(MM_PREFIX)) == 0 || strncmp(n, "head.scratch.", 13) == 0 ||
            strncmp(n, "head.projects.", 14) == 0)
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- temporal slots */

typedef struct vslot {
    char name[VDA_NAME];   /* full official name */
    int ndim;
    int64_t shape[3];
    int64_t numel;
    float **dst;           /* field to point at the data */
    int part;              /* q/k/v: 0/1/2 inside the packed qkv; -1 otherwise */
    size_t off;            /* arena offset in floats */
    int found;             /* index + 1 of the file tensor */
} vslot;

typedef struct vctx {
    vslot s[VDA_SLOTS];
    int n;
    const char *path;
} vctx;

static void vslot_add(vctx *c, float **dst, int part, int ndim, int64_t d0, int64_t d1, int64_t d2,
                      const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static void vslot_add(vctx *c, float **dst, int part, int ndim, int64_t d0, int64_t d1, int64_t d2,
                      const char *fmt, ...) {
    vslot *s = &c->s[c->n++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    int64_t d[3] = {d0, d1, d2};
    s->ndim = ndim;
    s->numel = 1;
    for (int i = 0; i < ndim; i++) s->shape[i] = d[i], s->numel *= d[i];
    s->dst = dst;
    s->part = part;
}

static void build_slots(vctx *c, fathom_vda_weights *w) {
    for (int m = 0; m < 4; m++) {
        fathom_vda_module_weights *mm = &w->mm[m];
        const int64_t C = mm->C;
        char p[64];
        snprintf(p, sizeof p, MM_PREFIX "%d.temporal_transformer.", m);
        vslot_add(c, &mm->gn_w, -1, 1, C, 0, 0, "%snorm.weight", p);
        vslot_add(c, &mm->gn_b, -1, 1, C, 0, 0, "%snorm.bias", p);
        vslot_add(c, &mm->in_w, -1, 2, C, C, 0, "%sproj_in.weight", p);
        vslot_add(c, &mm->in_b, -1, 1, C, 0, 0, "%sproj_in.bias", p);
        for (int a = 0; a < 2; a++) {
            fathom_vda_attn_weights *at = &mm->attn[a];
            const char *q = "transformer_blocks.0.attention_blocks";
            vslot_add(c, &at->qkv_w, 0, 2, C, C, 0, "%s%s.%d.to_q.weight", p, q, a);
            vslot_add(c, &at->qkv_w, 1, 2, C, C, 0, "%s%s.%d.to_k.weight", p, q, a);
            vslot_add(c, &at->qkv_w, 2, 2, C, C, 0, "%s%s.%d.to_v.weight", p, q, a);
            vslot_add(c, &at->out_w, -1, 2, C, C, 0, "%s%s.%d.to_out.0.weight", p, q, a);
            vslot_add(c, &at->out_b, -1, 1, C, 0, 0, "%s%s.%d.to_out.0.bias", p, q, a);
            vslot_add(c, &at->pe, -1, 3, 1, FATHOM_VDA_T, C, "%s%s.%d.pos_encoder.pe", p, q, a);
            vslot_add(c, &at->norm_w, -1, 1, C, 0, 0, "%stransformer_blocks.0.norms.%d.weight", p, a);
            vslot_add(c, &at->norm_b, -1, 1, C, 0, 0, "%stransformer_blocks.0.norms.%d.bias", p, a);
        }
        vslot_add(c, &mm->ff1_w, -1, 2, 8 * C, C, 0, "%stransformer_blocks.0.ff.net.0.proj.weight", p);
        vslot_add(c, &mm->ff1_b, -1, 1, 8 * C, 0, 0, "%stransformer_blocks.0.ff.net.0.proj.bias", p);
        vslot_add(c, &mm->ff2_w, -1, 2, C, 4 * C, 0, "%stransformer_blocks.0.ff.net.2.weight", p);
        vslot_add(c, &mm->ff2_b, -1, 1, C, 0, 0, "%stransformer_blocks.0.ff.net.2.bias", p);
        vslot_add(c, &mm->ffn_w, -1, 1, C, 0, 0, "%stransformer_blocks.0.ff_norm.weight", p);
        vslot_add(c, &mm->ffn_b, -1, 1, C, 0, 0, "%stransformer_blocks.0.ff_norm.bias", p);
        vslot_add(c, &mm->out_w, -1, 2, C, C, 0, "%sproj_out.weight", p);
        vslot_add(c, &mm->out_b, -1, 1, C, 0, 0, "%sproj_out.bias", p);
    }
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 1024));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 1023) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

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

static void shape_str(char *out, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(out + k, cap - k, ")");
}

/* Temporal tensors of `set` (indices in idx) -> w. Widths in w->mm[m].C are set. */
static fathom_status map_temporal(fathom_tensor_set *set, const size_t *idx, size_t nidx,
                                  fathom_vda_weights *w) {
    vctx *c = calloc(1, sizeof *c); /* owned */
    float *scratch = NULL;          /* owned: conversion buffer for readers without memory */
    size_t scratch_n = 0;
    fathom_status st = FATHOM_OK;
    if (!c) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
    c->path = set->path;
    build_slots(c, w);
    /* names: unknown, duplicate */
    for (size_t i = 0; i < nidx; i++) {
        const fathom_raw_tensor *t = &set->t[idx[i]];
        const char *n = strip_module(t->name);
        int k = 0;
        while (k < c->n && strcmp(c->s[k].name, n) != 0) k++;
        if (k == c->n) {
            st = fathom_fail(FATHOM_ERR_FORMAT,
                             "%s: unexpected tensor '%s' (not a tensor of a Video Depth Anything temporal module)",
                             set->path, t->name);
            goto done;
        }
        if (c->s[k].found) {
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s' is given more than once", set->path, t->name);
            goto done;
        }
        c->s[k].found = (int)i + 1;
    }
    /* missing, in network order */
    for (int k = 0; k < c->n; k++)
        if (!c->s[k].found) {
            st = fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: missing tensor '%s' (Video Depth Anything temporal module)",
                             set->path, c->s[k].name);
            goto done;
        }
    /* dtypes and shapes */
    for (int k = 0; k < c->n; k++) {
        const vslot *s = &c->s[k];
        const fathom_raw_tensor *t = &set->t[idx[s->found - 1]];
        if (t->dtype == FATHOM_DT_OTHER) {
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s' has dtype %s (expected float32, float16 or bfloat16)",
                             set->path, t->name, t->dtype_name);
            goto done;
        }
        int ok = t->ndim == s->ndim;
        for (int d = 0; ok && d < s->ndim; d++) ok = t->shape[d] == s->shape[d];
        if (!ok) {
            char got[96], want[96];
            shape_str(got, sizeof got, t->ndim, t->shape);
            shape_str(want, sizeof want, s->ndim, s->shape);
            st = fathom_fail(FATHOM_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", set->path, t->name, got, want);
            goto done;
        }
    }
    /* arena: q/k/v share one packed (3C, C) block owned by the q slot */
    size_t floats = 0;
    for (int k = 0; k < c->n; k++) {
        vslot *s = &c->s[k];
        if (s->part > 0) {
            s->off = c->s[k - s->part].off + (size_t)s->part * (size_t)s->numel;
            continue;
        }
        s->off = floats;
        floats += ((size_t)s->numel * (s->part == 0 ? 3 : 1) + 15) / 16 * 16;
        if (s->numel > (int64_t)scratch_n) scratch_n = (size_t)s->numel;
    }
    w->arena_bytes = floats * sizeof(float);
    w->arena = fathom_alloc(w->arena_bytes);
    scratch = malloc(scratch_n * 4);
    if (!w->arena || !scratch) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
        goto done;
    }
    float *base = w->arena;
    for (int k = 0; k < c->n; k++) {
        const vslot *s = &c->s[k];
        const fathom_raw_tensor *t = &set->t[idx[s->found - 1]];
        float *dst = base + s->off;
        if (s->part <= 0) {
            *s->dst = dst;
            if (w->n_fields == FATHOM_VDA_MAX_FIELDS) {
                st = fathom_fail(FATHOM_ERR_INTERNAL, "%s: more than %d temporal tensors",
                                 set->path, FATHOM_VDA_MAX_FIELDS);
                goto done;
            }
            w->fields[w->n_fields++] = s->dst;
        }
        if (t->data) {
            convert(dst, t->data, t->numel, t->dtype);
        } else if (t->dtype == FATHOM_DT_F32) {
            st = set->read(set, t, dst);
        } else {
            st = set->read(set, t, scratch);
            if (st == FATHOM_OK) convert(dst, (const uint8_t *)scratch, t->numel, t->dtype);
        }
        if (st != FATHOM_OK) goto done;
        if (!strstr(s->name, "pos_encoder")) w->params += t->numel;
    }
done:
    free(scratch);
    free(c);
    return st;
}

/* Re-issue the DA-V2 mapper's error in the file's own names (head.*, not depth_head.*). */
static fathom_status restate_error(fathom_status st) {
    char msg[1024], out[1200];
    snprintf(msg, sizeof msg, "%s", fathom_last_error());
    size_t k = 0;
    for (const char *p = msg; *p && k + 1 < sizeof out;) {
        if (strncmp(p, "depth_head.", 11) == 0) {
            k += (size_t)snprintf(out + k, sizeof out - k, "head.");
            p += 11;
        } else if (strncmp(p, "Depth Anything V2", 17) == 0) {
            k += (size_t)snprintf(out + k, sizeof out - k, "Video Depth Anything");
            p += 17;
        } else {
            out[k++] = *p++;
        }
        if (k >= sizeof out) k = sizeof out - 1;
    }
    out[k] = '\0';
    return fathom_fail(st, "%s", out);
}

fathom_status fathom_vda_weights_map(fathom_tensor_set *set, const fathom_config *cfg,
                                     const fathom_model_params *params, fathom_weights **base,
                                     fathom_vda_weights **temporal) {
    *base = NULL;
    *temporal = NULL;
    fathom_status st = FATHOM_OK;
    size_t *idx = malloc((set->n ? set->n : 1) * sizeof *idx); /* owned: temporal tensors */
    char *names = malloc((set->n ? set->n : 1) * VDA_NAME);     /* owned: renamed DA-V2 names */
    fathom_tensor_set sub = *set;                                /* borrows set's reader */
    sub.t = malloc((set->n ? set->n : 1) * sizeof *sub.t);       /* owned */
    sub.n = 0;
    sub.close = NULL;
    fathom_vda_weights *w = fathom_calloc(sizeof *w); /* owned until handed out */
    size_t nidx = 0;
    if (!idx || !names || !sub.t || !w) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", set->path);
        goto done;
    }
    if (!fathom_vda_set_is_vda(set)) {
        st = fathom_fail(FATHOM_ERR_FORMAT,
                         "%s: a Depth Anything V2 (image) checkpoint, not a Video Depth Anything one (no head.motion_modules.*): "
                         "video depth needs video_depth_anything_{vits,vitb,vitl}.pth or metric_video_depth_anything_*.pth",
                         set->path);
        goto done;
    }
    for (size_t i = 0; i < set->n; i++) {
        const char *n = strip_module(set->t[i].name);
        if (strncmp(n, MM_PREFIX, strlen(MM_PREFIX)) == 0) {
            idx[nidx++] = i;
            continue;
        }
        fathom_raw_tensor t = set->t[i];
        if (strncmp(n, "head.", 5) == 0) {
            char *dst = names + sub.n * VDA_NAME;
            if ((size_t)snprintf(dst, VDA_NAME, "depth_head.%s", n + 5) >= VDA_NAME) {
                st = fathom_fail(FATHOM_ERR_FORMAT, "%s: unexpected tensor '%s'", set->path, set->t[i].name);
                goto done;
            }
            t.name = dst;
        }
        sub.t[sub.n++] = t;
    }
    if ((st = fathom_weights_map(&sub, cfg, params, base)) != FATHOM_OK) {
        st = restate_error(st);
        goto done;
    }
    const fathom_arch *a = &(*base)->arch;
    const int widths[4] = {a->out_ch[2], a->out_ch[3], a->features, a->features};
    for (int m = 0; m < 4; m++) {
        if (widths[m] % FATHOM_VDA_GROUPS || widths[m] % FATHOM_VDA_HEADS) {
            st = fathom_fail(FATHOM_ERR_UNSUPPORTED,
                             "%s: temporal module %d has width %d, not a multiple of %d (GroupNorm groups)",
                             set->path, m, widths[m], FATHOM_VDA_GROUPS);
            goto done;
        }
        w->mm[m].C = widths[m];
    }
    if ((st = map_temporal(set, idx, nidx, w)) != FATHOM_OK) goto done;
    (*base)->params += w->params;
done:
    free(idx);
    free(names);
    free(sub.t);
    if (st != FATHOM_OK) {
        fathom_weights_free(base);
        fathom_vda_weights_free(&w);
    }
    *temporal = w;
    return st;
}

static fathom_status open_set(const char *path, fathom_tensor_set *set) {
    uint8_t head[16] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: cannot open", path);
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    if (got > 0 && fathom_pth_sniff(head, (size_t)got)) return fathom_pth_open_file(path, set);
    if (got > 0 && fathom_st_sniff(head, (size_t)got)) return fathom_st_open_file(path, set);
    return fathom_fail(FATHOM_ERR_FORMAT, "%s: neither a PyTorch checkpoint (zip) nor a safetensors file", path);
}

fathom_status fathom_vda_weights_load(const char *path, const fathom_config *cfg,
                                      const fathom_model_params *params, fathom_weights **base,
                                      fathom_vda_weights **temporal) {
    *base = NULL;
    *temporal = NULL;
    fathom_tensor_set set;
    memset(&set, 0, sizeof set);
    FATHOM_TRY(open_set(path, &set));
    fathom_status st = fathom_vda_weights_map(&set, cfg, params, base, temporal);
    fathom_tensor_set_close(&set);
    return st;
}

int fathom_vda_file_is_vda(const char *path) {
    fathom_tensor_set set;
    memset(&set, 0, sizeof set);
    if (open_set(path, &set) != FATHOM_OK) {
        fathom_clear_error();
        return 0;
    }
    int r = fathom_vda_set_is_vda(&set);
    fathom_tensor_set_close(&set);
    return r;
}

/* 1 when the pointer stored at p points into [lo, lo + n). */
static int points_into(const void *p, const char *lo, size_t n) {
    const char *v;
    memcpy(&v, p, sizeof v);
    return v >= lo && v < lo + n;
}

fathom_status fathom_vda_weights_rebase(const fathom_vda_weights *h, void *base,
                                        fathom_vda_weights *out) {
    const char *hs = (const char *)h, *ha = h->arena;
    *out = *h;
    out->arena = base;
    for (size_t k = 0; k < h->n_fields; k++) {
        const char *f = (const char *)h->fields[k];
        if (f < hs || f + sizeof(float *) > hs + sizeof *h || !points_into(f, ha, h->arena_bytes))
            return fathom_fail(FATHOM_ERR_INTERNAL, "vda weights: slot %zu is not a tensor field", k);
        float *hp;
        memcpy(&hp, f, sizeof hp);
        float *np = (float *)((char *)base + ((const char *)hp - ha));
        memcpy((char *)out + (f - hs), &np, sizeof np);
    }
    /* nothing may still point into the host arena: scan the copy word by word */
    for (size_t o = 0; o + sizeof(void *) <= sizeof *out; o += sizeof(void *))
        if (points_into((const char *)out + o, ha, h->arena_bytes))
            return fathom_fail(FATHOM_ERR_INTERNAL, "vda weights: the field at byte %zu is missing "
                               "from the slot table (vda_weights.c)", o);
    return FATHOM_OK;
}

void fathom_vda_weights_free(fathom_vda_weights **w) {
    if (!w || !*w) return;
    fathom_free_sized((*w)->arena, (*w)->arena_bytes);
    fathom_free_sized(*w, sizeof **w);
    *w = NULL;
}
