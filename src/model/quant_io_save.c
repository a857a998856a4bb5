/* quant_io_save.c - `fathom quantize`: a model's weights, packed by a CPU engine of the
 * asked-for format, into a safetensors file (layout in quant_io.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_packed.h"
#include "core/alloc.h"
#include "core/file_hash.h"
#include "core/status.h"
#include "model/engine.h"
#include "model/model.h"
#include "model/quant_io.h"

static const char *const kind_names[] = {"bf16", "int8", "q4"};

/* One array of the file: its bytes (borrowed) and header entry */
typedef struct piece {
    char name[128];
    const char *dtype;
    int ndim;
    int64_t shape[4];
    const void *data;
    size_t bytes;
} piece;

typedef struct plan {
    piece *p; /* owned: n of cap */
    size_t n, cap;
} plan;

static fathom_status push(plan *pl, const char *name, const char *suffix, const char *dtype, int ndim,
                          const int64_t *shape, const void *data, size_t bytes) {
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? 2 * pl->cap : 256;
        piece *np = realloc(pl->p, cap * sizeof *np);
        if (!np) return fathom_fail(FATHOM_ERR_NOMEM, "quantize: out of memory");
        pl->p = np, pl->cap = cap;
    }
    piece *q = &pl->p[pl->n++];
    snprintf(q->name, sizeof q->name, "%s%s", name, suffix);
    q->dtype = dtype, q->ndim = ndim, q->data = data, q->bytes = bytes;
    memcpy(q->shape, shape, (size_t)ndim * sizeof *shape);
    return FATHOM_OK;
}

/* The arrays of packed matrix b (named after the fp32 tensor it stands for) */
static fathom_status push_packed(plan *pl, const char *name, const fathom_packed_blob *b) {
    const int64_t Np = b->Np, Kp = b->Kp;
    if (b->kind == FATHOM_PACKED_Q4) {
        FATHOM_TRY(push(pl, name, ":q4", "U8", 2, (int64_t[]){Np, Kp / 2}, b->a, b->na));
        return push(pl, name, ":q4_scale", "BF16", 2, (int64_t[]){Np, Kp / 32}, b->b, b->nb);
    }
    if (b->kind == FATHOM_PACKED_INT8) {
        FATHOM_TRY(push(pl, name, ":int8", "I8", 2, (int64_t[]){Np, Kp}, b->a, b->na));
        FATHOM_TRY(push(pl, name, ":int8_scale", "F32", 1, (int64_t[]){Np}, b->b, b->nb));
        return push(pl, name, ":int8_colsum", "I32", 1, (int64_t[]){Np}, b->c, b->nc);
    }
    return push(pl, name, ":bf16", "BF16", 2, (int64_t[]){Np, Kp}, b->a, b->na);
}

static cJSON *shape_json(int ndim, const int64_t *shape) {
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; a && d < ndim; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[d]));
    return a;
}

/* The header: every piece at consecutive offsets, then __metadata__ */
static char *header_json(const plan *pl, cJSON *meta) {
    cJSON *h = cJSON_CreateObject();
    size_t off = 0;
    for (size_t i = 0; h && i < pl->n; i++) {
        const piece *q = &pl->p[i];
        cJSON *e = cJSON_AddObjectToObject(h, q->name);
        if (!e) break;
        cJSON_AddStringToObject(e, "dtype", q->dtype);
        cJSON_AddItemToObject(e, "shape", shape_json(q->ndim, q->shape));
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + q->bytes)));
        off += q->bytes;
    }
    char *s = NULL;
    if (h) {
        cJSON_AddItemReferenceToObject(h, "__metadata__", meta);
        s = cJSON_PrintUnformatted(h);
        cJSON_Delete(h);
    }
    return s;
}

static fathom_status write_file(const char *path, const plan *pl, const char *hdr) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return fathom_fail(fathom_status_from_errno(errno), "%s: %s", tmp, strerror(errno));
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8; /* the format pads the header with spaces */
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len, 1, 8, f) == 8 && fwrite(hdr, 1, hl, f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (size_t i = 0; ok && i < pl->n; i++) ok = fwrite(pl->p[i].data, 1, pl->p[i].bytes, f) == pl->p[i].bytes;
    int err = errno;
    if (fclose(f) != 0 && ok) ok = 0, err = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, err = errno;
    if (!ok) {
        remove(tmp);
        return fathom_fail(fathom_status_from_errno(err), "%s: cannot write: %s", path, strerror(err));
    }
    return FATHOM_OK;
}

/* The architecture as a Hugging Face config.json (read back by fathom_config_parse): what the
 * shapes do not tell (layer indices, heads, metric) travels with the weights */
static char *config_json(const fathom_arch *a) {
    cJSON *c = cJSON_CreateObject(), *bb = cJSON_AddObjectToObject(c, "backbone_config");
    if (!bb) {
        cJSON_Delete(c);
        return NULL;
    }
    cJSON_AddNumberToObject(bb, "hidden_size", a->embed_dim);
    cJSON_AddNumberToObject(bb, "num_hidden_layers", a->depth);
    cJSON_AddNumberToObject(bb, "num_attention_heads", a->heads);
    cJSON_AddNumberToObject(bb, "mlp_ratio", (double)a->mlp_hidden / a->embed_dim);
    cJSON_AddBoolToObject(bb, "use_swiglu_ffn", a->swiglu);
    int oi[4];
    for (int k = 0; k < 4; k++) oi[k] = a->layer_idx[k] + 1; /* the file's are 1-based */
    cJSON_AddItemToObject(bb, "out_indices", cJSON_CreateIntArray(oi, 4));
    cJSON_AddNumberToObject(bb, "patch_size", a->patch);
    cJSON_AddNumberToObject(bb, "layer_norm_eps", a->ln_eps);
    cJSON_AddNumberToObject(c, "fusion_hidden_size", a->features);
    cJSON_AddItemToObject(c, "neck_hidden_sizes", cJSON_CreateIntArray(a->out_ch, 4));
    cJSON_AddNumberToObject(c, "head_hidden_size", a->head_hidden);
    cJSON_AddStringToObject(c, "depth_estimation_type", a->metric ? "metric" : "relative");
    cJSON_AddNumberToObject(c, "max_depth", a->max_depth);
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return s;
}

static cJSON *metadata(const fathom_model *m, fathom_packed_kind kind, const char *source, cJSON *packed) {
    const fathom_arch *a = &m->w->arch;
    cJSON *md = cJSON_CreateObject();
    char *cfg = config_json(a);
    cJSON_AddStringToObject(md, "config", cfg ? cfg : "{}");
    free(cfg);
    char hex[65];
    const char *base = strrchr(source, '/');
    fathom_file_sha256(source, hex);
    cJSON_AddStringToObject(md, "format", FATHOM_QUANT_FORMAT);
    cJSON_AddStringToObject(md, "fathom_quant_version", FATHOM_QUANT_VERSION);
    cJSON_AddStringToObject(md, "layout", FATHOM_QUANT_LAYOUT);
    cJSON_AddStringToObject(md, "architecture", a->name);
    cJSON_AddStringToObject(md, "weights", kind_names[kind]);
    cJSON_AddStringToObject(md, "source", base && base[1] ? base + 1 : source);
    cJSON_AddStringToObject(md, "source_sha256", hex);
    char *p = cJSON_PrintUnformatted(packed);
    cJSON_AddStringToObject(md, "packed", p ? p : "[]");
    free(p);
    return md;
}

/* The plan of w's file: each field fp32, or packed where the engine's set holds it */
static fathom_status plan_fields(const fathom_weights *w, const fathom_packed_blob *blobs, size_t nb, plan *pl,
                                 cJSON *packed) {
    for (size_t i = 0; i < w->n_fields; i++) {
        const fathom_field_info *in = &w->info[i];
        const float *t = *w->fields[i];
        const fathom_packed_blob *b = NULL;
        for (size_t j = 0; j < nb && !b; j++)
            if (blobs[j].src == t) b = &blobs[j];
        if (!b) {
            size_t numel = 1;
            for (int d = 0; d < in->ndim; d++) numel *= (size_t)in->shape[d];
            FATHOM_TRY(push(pl, in->name, "", "F32", in->ndim, in->shape, t, numel * sizeof(float)));
            continue;
        }
        FATHOM_TRY(push_packed(pl, in->name, b));
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(packed, e);
        cJSON_AddStringToObject(e, "name", in->name);
        cJSON_AddStringToObject(e, "kind", kind_names[b->kind]);
        cJSON_AddNumberToObject(e, "N", b->N);
        cJSON_AddNumberToObject(e, "K", b->K);
        cJSON_AddNumberToObject(e, "Np", b->Np);
        cJSON_AddNumberToObject(e, "Kp", b->Kp);
        cJSON_AddItemToObject(e, "shape", shape_json(in->ndim, in->shape));
    }
    return FATHOM_OK;
}

fathom_status fathom_model_quantize(const fathom_model *m, const fathom_engine_params *params, const char *source,
                                    const char *path) {
    if (!m || !params || !source || !path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "quantize: NULL argument");
    if (m->dp || m->vda || !m->w)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: quantized files hold Depth Anything V2 image models only "
                           "(not %s)", m->path, m->dp ? "Depth Pro" : "Video Depth Anything");
    if (!m->w->info) return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: weights without tensor names", m->path);
    fathom_engine_params ep = *params;
    ep.device = FATHOM_DEVICE_CPU, ep.release_fp32 = 0;
    fathom_packed_kind kind = ep.weights == FATHOM_WEIGHTS_Q4     ? FATHOM_PACKED_Q4
                              : ep.weights == FATHOM_WEIGHTS_INT8 ? FATHOM_PACKED_INT8
                                                                  : FATHOM_PACKED_BF16;
    if (ep.weights == FATHOM_WEIGHTS_DEFAULT && ep.precision != FATHOM_PRECISION_BF16)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "quantize: give a format (--weights int8|q4 or --precision bf16)");
    fathom_engine *e = NULL;
    FATHOM_TRY(fathom_engine_create(m, &ep, &e));
    plan pl = {0};
    fathom_packed_blob *blobs = NULL; /* owned: views into the engine's set */
    cJSON *packed = cJSON_CreateArray(), *md = NULL;
    char *hdr = NULL;
    size_t nb = fathom_cpu_packed_blobs(e->be, NULL, 0);
    fathom_status st = FATHOM_OK;
    if (!packed || !(blobs = fathom_alloc((nb ? nb : 1) * sizeof *blobs)))
        st = fathom_fail(FATHOM_ERR_NOMEM, "quantize: out of memory");
    if (st == FATHOM_OK) {
        fathom_cpu_packed_blobs(e->be, blobs, nb);
        st = plan_fields(m->w, blobs, nb, &pl, packed);
    }
    if (st == FATHOM_OK && !((md = metadata(m, kind, source, packed)) && (hdr = header_json(&pl, md))))
        st = fathom_fail(FATHOM_ERR_NOMEM, "quantize: out of memory");
    if (st == FATHOM_OK) st = write_file(path, &pl, hdr);
    free(hdr);
    cJSON_Delete(md);
    cJSON_Delete(packed);
    fathom_free_sized(blobs, (nb ? nb : 1) * sizeof *blobs);
    free(pl.p);
    fathom_engine_free(&e);
    return st;
}
