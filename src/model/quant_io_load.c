/* quant_io_load.c - reading a quantized file (layout in quant_io.h).
 *
 * The file goes through the usual mapper (architecture from the shapes, every tensor checked)
 * as a tensor set in which each packed matrix appears as its fp32 tensor, shape from the
 * metadata, with no bytes: the mapper places it in the arena and our read() only notes where
 * (its lookup key), so those pages are never written and never become resident. The packed
 * arrays are then checked against the metadata (dtype, shape, sizes) and copied into the
 * weights' share, from which every engine of the file's format borrows them. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/config.h"
#include "model/quant_io.h"
#include "model/safetensors.h"

static const char *const kind_names[] = {"bf16", "int8", "q4"};

/* The header's __metadata__ of the safetensors file at path (NULL when it is none); *root owns it */
static cJSON *read_metadata(const char *path, cJSON **root) {
    *root = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    unsigned char len8[8];
    char *h = NULL; /* owned: the header text */
    uint64_t n = 0;
    if (pread(fd, len8, 8, 0) == 8) {
        for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
        if (n >= 2 && n <= FATHOM_ST_MAX_HEADER && (h = malloc(n + 1)) && pread(fd, h, n, 8) == (ssize_t)n) {
            h[n] = '\0';
            *root = cJSON_Parse(h);
        }
    }
    free(h);
    close(fd);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(*root, "__metadata__");
    return cJSON_IsObject(md) ? md : NULL;
}

static const char *meta_str(const cJSON *md, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int fathom_quant_sniff(const char *path) {
    cJSON *root;
    const cJSON *md = read_metadata(path, &root);
    const char *f = meta_str(md, "format");
    int yes = f && strcmp(f, FATHOM_QUANT_FORMAT) == 0;
    cJSON_Delete(root);
    return yes;
}

/* One packed matrix of the metadata */
typedef struct entry {
    char name[112];
    fathom_packed_kind kind;
    int N, K, Np, Kp, ndim;
    int64_t shape[4];
    float *dst; /* where the mapper placed its fp32 tensor (never written) */
} entry;

/* The tensor set the mapper reads: the file's fp32 tensors and one bodiless tensor per entry */
typedef struct qset {
    fathom_tensor_set pub; /* first: the mapper's read() gets &pub */
    fathom_tensor_set file;
    entry *e;              /* owned: ne */
    size_t ne;
    size_t nfile;          /* pub.t: the file's fp32 tensors first, then the entries */
} qset;

static fathom_status qset_read(fathom_tensor_set *s, const fathom_raw_tensor *t, void *dst) {
    qset *q = (qset *)s;
    size_t i = (size_t)(t - s->t);
    if (i < q->nfile || i >= q->nfile + q->ne)
        return fathom_fail(FATHOM_ERR_INTERNAL, "%s: tensor '%s' has no bytes", s->path, t->name);
    q->e[i - q->nfile].dst = dst;
    return FATHOM_OK;
}

static int get_int(const cJSON *o, const char *k, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi || v->valuedouble != (int)v->valuedouble)
        return 0;
    *out = (int)v->valuedouble;
    return 1;
}

/* Entry i of the metadata's "packed" array, checked for sense (not yet against the file) */
static fathom_status parse_entry(const char *path, const cJSON *o, size_t i, fathom_packed_kind kind, entry *e) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name"), *kd = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
    if (!cJSON_IsString(nm) || strlen(nm->valuestring) >= sizeof e->name || !cJSON_IsString(kd))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: metadata 'packed' entry %zu: no name or kind", path, i);
    snprintf(e->name, sizeof e->name, "%s", nm->valuestring);
    int k = -1;
    for (int j = 0; j < 3; j++)
        if (strcmp(kd->valuestring, kind_names[j]) == 0) k = j;
    /* an int8 file holds its DPT convs in bf16; otherwise every matrix is in the file's format */
    if (k < 0 || (k != (int)kind && !(kind == FATHOM_PACKED_INT8 && k == FATHOM_PACKED_BF16)))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': packed as \"%.16s\" in a %s file", path, e->name,
                           kd->valuestring, kind_names[kind]);
    e->kind = (fathom_packed_kind)k;
    const int big = 1 << 24;
    if (!get_int(o, "N", 1, big, &e->N) || !get_int(o, "K", 1, big, &e->K) || !get_int(o, "Np", 1, big, &e->Np) ||
        !get_int(o, "Kp", 1, big, &e->Kp) || e->Np < e->N || e->Kp < e->K || e->Np % 32 || e->Kp % 32)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': bad N, K, Np or Kp in the metadata", path, e->name);
    int nd = cJSON_GetArraySize(sh);
    int64_t numel = 1;
    if (!cJSON_IsArray(sh) || nd < 1 || nd > 4)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': bad shape in the metadata", path, e->name);
    e->ndim = nd;
    for (int d = 0; d < nd; d++) {
        const cJSON *v = cJSON_GetArrayItem(sh, d);
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > big)
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': bad shape in the metadata", path, e->name);
        e->shape[d] = (int64_t)v->valuedouble;
        numel *= e->shape[d];
    }
    if (numel != (int64_t)e->N * e->K)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': shape of %lld values for a %d x %d matrix", path,
                           e->name, (long long)numel, e->N, e->K);
    return FATHOM_OK;
}

/* The file's array NAME+suffix: its dtype and shape as entry e needs; *t the tensor */
static fathom_status find_array(const qset *q, const entry *e, const char *suffix, const char *dtype, int ndim,
                                int64_t d0, int64_t d1, const fathom_raw_tensor **t) {
    char want[160];
    snprintf(want, sizeof want, "%s%s", e->name, suffix);
    *t = NULL;
    for (size_t i = 0; i < q->file.n && !*t; i++)
        if (strcmp(q->file.t[i].name, want) == 0) *t = &q->file.t[i];
    const char *path = q->file.path;
    if (!*t) return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: tensor '%s' is missing", path, want);
    if (strcmp((*t)->dtype_name, dtype) != 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': dtype %s, expected %s", path, want, (*t)->dtype_name,
                           dtype);
    if ((*t)->ndim != ndim || (*t)->shape[0] != d0 || (ndim > 1 && (*t)->shape[1] != d1))
        return fathom_fail(FATHOM_ERR_SHAPE, "%s: tensor '%s': shape [%lld%s%lld], expected [%lld%s%lld]", path, want,
                           (long long)(*t)->shape[0], (*t)->ndim > 1 ? ", " : "",
                           (*t)->ndim > 1 ? (long long)(*t)->shape[1] : 0LL, (long long)d0, ndim > 1 ? ", " : "",
                           ndim > 1 ? (long long)d1 : 0LL);
    return FATHOM_OK;
}

/* A copy of t's bytes the share will own, into *p (*n bytes); the file's pages of them go back
 * (the peak is about one copy of the packed arrays, not the copy plus the mapped file) */
static fathom_status copy_array(fathom_tensor_set *file, const fathom_raw_tensor *t, size_t esize, void **p,
                                size_t *n) {
    *n = (size_t)t->numel * esize;
    if (!t->data) return fathom_fail(FATHOM_ERR_INTERNAL, "%s: tensor '%s' not in memory", file->path, t->name);
    if (!(*p = fathom_alloc(*n))) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", file->path);
    memcpy(*p, t->data, *n);
    fathom_st_drop_pages(file, t->data, *n);
    return FATHOM_OK;
}

/* Entry e's arrays, checked, copied into the share */
static fathom_status preload(qset *q, const entry *e, fathom_packed_share *share) {
    const char *path = q->file.path;
    if (!e->dst) return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s' is not a weight of this model", path, e->name);
    fathom_packed_blob b = {.src = e->dst, .kind = e->kind, .N = e->N, .K = e->K, .Np = e->Np, .Kp = e->Kp};
    snprintf(b.name, sizeof b.name, "%s", e->name);
    const fathom_raw_tensor *ta, *tb = NULL, *tc = NULL;
    fathom_status st;
    if (e->kind == FATHOM_PACKED_Q4) {
        st = find_array(q, e, ":q4", "U8", 2, e->Np, e->Kp / 2, &ta);
        if (st == FATHOM_OK) st = find_array(q, e, ":q4_scale", "BF16", 2, e->Np, e->Kp / 32, &tb);
    } else if (e->kind == FATHOM_PACKED_INT8) {
        st = find_array(q, e, ":int8", "I8", 2, e->Np, e->Kp, &ta);
        if (st == FATHOM_OK) st = find_array(q, e, ":int8_scale", "F32", 1, e->Np, 0, &tb);
        if (st == FATHOM_OK) st = find_array(q, e, ":int8_colsum", "I32", 1, e->Np, 0, &tc);
    } else {
        st = find_array(q, e, ":bf16", "BF16", 2, e->Np, e->Kp, &ta);
    }
    const size_t esize = e->kind == FATHOM_PACKED_BF16 ? 2 : 1;
    if (st == FATHOM_OK) st = copy_array(&q->file, ta, esize, &b.a, &b.na);
    if (st == FATHOM_OK && tb) st = copy_array(&q->file, tb, e->kind == FATHOM_PACKED_Q4 ? 2 : 4, &b.b, &b.nb);
    if (st == FATHOM_OK && tc) st = copy_array(&q->file, tc, 4, &b.c, &b.nc);
    if (st == FATHOM_OK) st = fathom_packed_share_preload(share, &b);
    if (st != FATHOM_OK) {
        fathom_free_sized(b.a, b.na);
        fathom_free_sized(b.b, b.nb);
        fathom_free_sized(b.c, b.nc);
    }
    return st;
}

/* The metadata: format, version, layout, the file's format (*kind) and its entries */
static fathom_status parse_metadata(const char *path, const cJSON *md, fathom_packed_kind *kind, qset *q,
                                    fathom_config *cfg) {
    const char *v = meta_str(md, "fathom_quant_version"), *lay = meta_str(md, "layout");
    const char *w = meta_str(md, "weights"), *pk = meta_str(md, "packed");
    if (!v || strcmp(v, FATHOM_QUANT_VERSION) != 0)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: metadata fathom_quant_version \"%.16s\": this fathom reads "
                           "version " FATHOM_QUANT_VERSION, path, v ? v : "(none)");
    if (!lay || strcmp(lay, FATHOM_QUANT_LAYOUT) != 0)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: metadata layout \"%.32s\": this fathom packs as "
                           FATHOM_QUANT_LAYOUT "; quantize the fp32 model again", path, lay ? lay : "(none)");
    int k = -1;
    for (int j = 0; w && j < 3; j++)
        if (strcmp(w, kind_names[j]) == 0) k = j;
    if (k < 0) return fathom_fail(FATHOM_ERR_FORMAT, "%s: metadata weights \"%.16s\": not bf16, int8 or q4", path,
                                  w ? w : "(none)");
    *kind = (fathom_packed_kind)k;
    const char *cj = meta_str(md, "config");
    if (!cj) return fathom_fail(FATHOM_ERR_FORMAT, "%s: metadata 'config' (the architecture) is missing", path);
    FATHOM_TRY(fathom_config_parse(cj, strlen(cj), path, cfg));
    cJSON *arr = pk ? cJSON_Parse(pk) : NULL;
    fathom_status st = FATHOM_OK;
    int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n < 1)
        st = fathom_fail(FATHOM_ERR_FORMAT, "%s: metadata 'packed' is not a list of packed tensors", path);
    else if (!(q->e = calloc((size_t)n, sizeof *q->e)))
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; st == FATHOM_OK && i < n; i++, q->ne++)
        st = parse_entry(path, cJSON_GetArrayItem(arr, i), (size_t)i, *kind, &q->e[i]);
    cJSON_Delete(arr);
    return st;
}

/* pub: the file's tensors but the packed arrays (NAME:suffix), then one bodiless F32 tensor
 * per entry */
static fathom_status build_set(const char *path, qset *q) {
    fathom_tensor_set *s = &q->pub;
    s->t = calloc(q->file.n + q->ne, sizeof *s->t);
    if (!s->t) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < q->file.n; i++)
        if (!strchr(q->file.t[i].name, ':')) s->t[s->n++] = q->file.t[i];
    q->nfile = s->n;
    for (size_t i = 0; i < q->ne; i++) {
        fathom_raw_tensor *t = &s->t[s->n++];
        const entry *e = &q->e[i];
        t->name = e->name, t->dtype = FATHOM_DT_F32, t->ndim = e->ndim, t->numel = (int64_t)e->N * e->K;
        snprintf(t->dtype_name, sizeof t->dtype_name, "F32");
        memcpy(t->shape, e->shape, sizeof e->shape);
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->format, sizeof s->format, "fathom-quant");
    s->read = qset_read;
    return FATHOM_OK;
}

fathom_status fathom_quant_load(const char *path, const fathom_model_params *params, fathom_weights **out) {
    *out = NULL;
    cJSON *root;
    const cJSON *md = read_metadata(path, &root);
    qset q;
    memset(&q, 0, sizeof q);
    fathom_config cfg;
    memset(&cfg, 0, sizeof cfg);
    fathom_packed_kind kind = FATHOM_PACKED_Q4;
    fathom_status st = md ? parse_metadata(path, md, &kind, &q, &cfg)
                          : fathom_fail(FATHOM_ERR_FORMAT, "%s: no safetensors metadata", path);
    cJSON_Delete(root);
    if (st == FATHOM_OK) st = fathom_st_open_file(path, &q.file);
    if (st == FATHOM_OK) st = build_set(path, &q);
    fathom_weights *w = NULL;
    if (st == FATHOM_OK) st = fathom_weights_map(&q.pub, &cfg, params, &w);
    size_t absent = 0;
    for (size_t i = 0; st == FATHOM_OK && i < q.ne; i++) {
        st = preload(&q, &q.e[i], w->share);
        absent += (size_t)q.e[i].N * q.e[i].K * sizeof(float);
    }
    if (st == FATHOM_OK) {
        fathom_packed_share_mark_loaded(w->share, kind, absent);
        w->released_bytes = absent;
        snprintf(w->dtype, sizeof w->dtype, "%s", kind_names[kind]); /* `fathom info`: what it computes with */
        *out = w;
        w = NULL;
    }
    fathom_weights_free(&w);
    free(q.pub.t);
    free(q.e);
    fathom_tensor_set_close(&q.file);
    return st;
}
