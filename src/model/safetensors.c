/* safetensors.c - header parsing and validation; data stays in the caller's buffer or an mmap. */
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

#define ST_MAX_TENSORS 100000
#define ST_MAX_INT 9007199254740992.0 /* 2^53: JSON numbers above this are not exact */

typedef struct st_impl {
    void *map;        /* owned mapping (file), or NULL (memory) */
    size_t map_len;
    char **names;     /* owned: n strings */
    size_t n;
} st_impl;

static void st_close(fathom_tensor_set *s) {
    st_impl *im = s->impl;
    if (!im) return;
    for (size_t i = 0; i < im->n; i++) free(im->names[i]);
    free(im->names);
    if (im->map) munmap(im->map, im->map_len);
    free(im);
    s->impl = NULL;
}

static const struct { const char *name; fathom_dtype dt; size_t size; } st_dtypes[] = {
    {"F32", FATHOM_DT_F32, 4},   {"F16", FATHOM_DT_F16, 2},  {"BF16", FATHOM_DT_BF16, 2},
    {"F64", FATHOM_DT_OTHER, 8}, {"I64", FATHOM_DT_OTHER, 8}, {"U64", FATHOM_DT_OTHER, 8},
    {"I32", FATHOM_DT_OTHER, 4}, {"U32", FATHOM_DT_OTHER, 4}, {"I16", FATHOM_DT_OTHER, 2},
    {"U16", FATHOM_DT_OTHER, 2}, {"I8", FATHOM_DT_OTHER, 1},  {"U8", FATHOM_DT_OTHER, 1},
    {"BOOL", FATHOM_DT_OTHER, 1}, {"F8_E4M3", FATHOM_DT_OTHER, 1}, {"F8_E5M2", FATHOM_DT_OTHER, 1},
};

int fathom_st_sniff(const uint8_t *buf, size_t size) {
    if (size < 9) return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    /* the length may still be wrong (truncated file, huge header): the parser says which */
    return n >= 2 && n < ((uint64_t)1 << 40) && buf[8] == '{';
}

static int st_exact_int(const cJSON *j, double max) {
    return cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble <= max &&
           j->valuedouble == (double)(int64_t)j->valuedouble;
}

typedef struct st_span { uint64_t begin, end; size_t idx; } st_span;

static int st_span_cmp(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* One header entry -> t (name not set). */
static fathom_status st_entry(const cJSON *e, const char *path, uint64_t data_len,
                              fathom_raw_tensor *t, st_span *span) {
    const char *nm = e->string;
    if (!cJSON_IsObject(e))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", path, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return fathom_fail(FATHOM_ERR_FORMAT,
                           "%s: tensor '%s': needs \"dtype\", \"shape\" and \"data_offsets\" [begin, end]",
                           path, nm);
    size_t esize = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(dt->valuestring, st_dtypes[i].name) == 0) {
            t->dtype = st_dtypes[i].dt;
            esize = st_dtypes[i].size;
        }
    if (!esize)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype \"%.20s\"", path, nm,
                           dt->valuestring);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > 8)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: tensor '%s': %d dims (at most 8)", path, nm, nd);
    t->ndim = nd;
    int64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        const cJSON *d = cJSON_GetArrayItem(sh, i);
        if (!st_exact_int(d, ST_MAX_INT))
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                               path, nm, i);
        t->shape[i] = (int64_t)d->valuedouble;
        if (t->shape[i] && numel > INT64_MAX / 8 / t->shape[i])
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: tensor '%s': element count overflows", path, nm);
        numel *= t->shape[i];
    }
    t->numel = numel;
    const cJSON *b = cJSON_GetArrayItem(off, 0), *en = cJSON_GetArrayItem(off, 1);
    if (!st_exact_int(b, ST_MAX_INT) || !st_exact_int(en, ST_MAX_INT) || b->valuedouble > en->valuedouble)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': data_offsets are not 0 <= begin <= end",
                           path, nm);
    span->begin = (uint64_t)b->valuedouble;
    span->end = (uint64_t)en->valuedouble;
    if (span->end > data_len)
        return fathom_fail(FATHOM_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the data (%llu bytes)",
                           path, nm, (unsigned long long)span->begin, (unsigned long long)span->end,
                           (unsigned long long)data_len);
    if (span->end - span->begin != (uint64_t)numel * esize)
        return fathom_fail(FATHOM_ERR_FORMAT,
                           "%s: tensor '%s': %llu bytes of data for %lld %s elements (%llu expected)", path,
                           nm, (unsigned long long)(span->end - span->begin), (long long)numel,
                           t->dtype_name, (unsigned long long)numel * esize);
    return FATHOM_OK;
}

static fathom_status st_parse(const uint8_t *buf, size_t size, const char *path, fathom_tensor_set *out,
                              st_impl *im) {
    if (size < 8)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors header", path, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > FATHOM_ST_MAX_HEADER)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: safetensors header of %llu bytes (limit %u)", path,
                           (unsigned long long)hlen, FATHOM_ST_MAX_HEADER);
    if (hlen > size - 8)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: safetensors header of %llu bytes but the file has %zu (truncated?)",
                           path, (unsigned long long)hlen, size);
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen); /* owned */
    st_span *spans = NULL;                                                   /* owned */
    fathom_status s = FATHOM_OK;
    if (!root || !cJSON_IsObject(root)) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: safetensors header is not a JSON object", path);
        goto done;
    }
    size_t n = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) n++;
    if (n > ST_MAX_TENSORS) {
        s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %zu tensors (limit %d)", path, n, ST_MAX_TENSORS);
        goto done;
    }
    out->t = calloc(n ? n : 1, sizeof *out->t);
    im->names = calloc(n ? n : 1, sizeof *im->names);
    spans = calloc(n ? n : 1, sizeof *spans);
    if (!out->t || !im->names || !spans) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory for %zu tensors", path, n);
        goto done;
    }
    const uint8_t *data = buf + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;
    size_t i = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        fathom_raw_tensor *t = &out->t[i];
        s = st_entry(e, path, data_len, t, &spans[i]);
        if (s != FATHOM_OK) goto done;
        if (!(im->names[i] = strdup(e->string))) {
            s = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        im->n = ++i;
        t->name = im->names[i - 1];
        t->data = data + spans[i - 1].begin;
        t->src_index = (int64_t)(i - 1);
        spans[i - 1].idx = i - 1;
    }
    out->n = n;
    qsort(spans, n, sizeof *spans, st_span_cmp);
    for (size_t k = 1; k < n; k++)
        if (spans[k].begin < spans[k - 1].end && spans[k].begin != spans[k].end) {
            s = fathom_fail(FATHOM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data", path,
                            out->t[spans[k - 1].idx].name, out->t[spans[k].idx].name);
            goto done;
        }
done:
    free(spans);
    cJSON_Delete(root);
    return s;
}

static fathom_status st_open(const void *buf, size_t size, const char *name, void *map,
                             fathom_tensor_set *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", name);
    snprintf(out->format, sizeof out->format, "safetensors");
    st_impl *im = calloc(1, sizeof *im);
    if (!im) {
        if (map) munmap(map, size);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", name);
    }
    im->map = map;
    im->map_len = size;
    out->impl = im;
    out->close = st_close;
    fathom_status s = st_parse(buf, size, out->path, out, im);
    if (s != FATHOM_OK) fathom_tensor_set_close(out);
    return s;
}

fathom_status fathom_st_open_memory(const void *buf, size_t size, const char *name,
                                    fathom_tensor_set *out) {
    return st_open(buf, size, name, NULL, out);
}

void fathom_st_drop_pages(fathom_tensor_set *s, const void *p, size_t n) {
    const st_impl *im = s->close == st_close ? s->impl : NULL;
    if (!im || !im->map || !n) return;
    const uintptr_t m0 = (uintptr_t)im->map, m1 = m0 + im->map_len, pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    if ((uintptr_t)p < m0 || (uintptr_t)p + n > m1) return;
    /* whole pages only: a neighbour's partial page stays (it may not be copied yet) */
    const uintptr_t a = ((uintptr_t)p + pg - 1) / pg * pg, e = ((uintptr_t)p + n) / pg * pg;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

fathom_status fathom_st_open_file(const char *path, fathom_tensor_set *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fathom_fail(fathom_status_from_errno(errno), "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: %lld bytes, too short for a safetensors header", path,
                           (long long)sb.st_size);
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return fathom_fail(fathom_status_from_errno(err), "%s: mmap: %s", path, strerror(err));
    return st_open(map, (size_t)sb.st_size, path, map, out);
}
