/* naming.c - output paths and clash resolution (rules in naming.h). */
#include "pipeline/naming.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "pipeline/manifest.h"

const char *fathom_naming_suffix(unsigned formats, fathom_output_format one) {
    (void)formats; /* one scheme: a format's suffix never depends on the others asked */
    switch (one) {
    case FATHOM_OUT_NPY: return "npy";
    case FATHOM_OUT_NPZ: return "npz";
    case FATHOM_OUT_EXR: return "exr";
    case FATHOM_OUT_PNG16: return "png";
    case FATHOM_OUT_PNG8: return "png8.png";
    case FATHOM_OUT_COLOR: return "color.png";
    }
    return "bin";
}

fathom_status fathom_naming_path(const char *outdir, const char *rel_out, unsigned formats,
                                 fathom_output_format one, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s.%s", outdir, rel_out, fathom_naming_suffix(formats, one));
    if (n < 0 || (size_t)n >= cap)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "output path for '%s' is longer than %zu bytes",
                           rel_out, cap - 1);
    return FATHOM_OK;
}

static const char *base_of(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

void fathom_naming_stem(const char *path, char *out, size_t cap) {
    const char *b = base_of(path);
    const char *dot = strrchr(b, '.');
    size_t n = (dot && dot != b) ? (size_t)(dot - b) : strlen(b);
    if (n >= cap) n = cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

const char *fathom_naming_ext(const char *path) {
    const char *b = base_of(path);
    const char *dot = strrchr(b, '.');
    return (dot && dot != b) ? dot + 1 : "";
}

void fathom_naming_clean_dir(const char *rel, char *out, size_t cap) {
    size_t len = strlen(out);
    const char *p = rel;
    const char *last = strrchr(rel, '/');
    if (!last) return; /* no folder part */
    while (p < last) {
        const char *e = memchr(p, '/', (size_t)(last - p));
        if (!e) e = last;
        size_t n = (size_t)(e - p);
        int skip = n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.');
        if (!skip && len + n + 2 < cap) {
            memcpy(out + len, p, n);
            len += n;
            out[len++] = '/';
            out[len] = '\0';
        }
        p = e + 1;
    }
}

/* ---- claimed-name set: open addressing over (h1, h2) pairs; (0, 0) marks empty ---- */

typedef struct name_key {
    uint64_t h1, h2;
} name_key;

typedef struct name_set {
    name_key *slots; /* owned: cap slots */
    size_t cap, count;
} name_set;

struct fathom_names {
    name_set names;            /* output file names claimed in this run */
    name_set inputs;           /* idents of the inputs taken (duplicates) */
    uint64_t *input_index;     /* owned: parallel to inputs.slots: the first item's index */
    unsigned formats;          /* 0: claim the bare rel_out (custom sources) */
    fathom_manifest *manifest; /* borrowed, may be NULL */
};

static name_key key_of(const char *s) {
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h1 = (h1 ^ *p) * 1099511628211ULL;                 /* FNV-1a */
        h2 = (h2 + *p) * 0xff51afd7ed558ccdULL;            /* multiplicative mix */
        h2 ^= h2 >> 29;
    }
    if (!h1 && !h2) h2 = 1;
    return (name_key){h1, h2};
}

static size_t slot_of(const name_set *set, name_key k) {
    size_t i = (size_t)(k.h1 ^ (k.h2 >> 7)) & (set->cap - 1);
    for (;;) {
        const name_key *s = &set->slots[i];
        if ((!s->h1 && !s->h2) || (s->h1 == k.h1 && s->h2 == k.h2)) return i;
        i = (i + 1) & (set->cap - 1);
    }
}

static int set_has(const name_set *set, name_key k) {
    const name_key *s = &set->slots[slot_of(set, k)];
    return s->h1 || s->h2;
}

/* Room for one more key; `extra` (may be NULL) is a uint64_t array kept parallel to slots. */
static fathom_status set_reserve(name_set *set, uint64_t **extra) {
    if ((set->count + 1) * 2 <= set->cap) return FATHOM_OK;
    name_set ns = {calloc(set->cap * 2, sizeof(name_key)), set->cap * 2, set->count};
    uint64_t *nx = extra ? calloc(ns.cap, sizeof *nx) : NULL;
    if (!ns.slots || (extra && !nx)) {
        free(ns.slots);
        free(nx);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for %zu output names", set->count);
    }
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->slots[i].h1 && !set->slots[i].h2) continue;
        size_t j = slot_of(&ns, set->slots[i]);
        ns.slots[j] = set->slots[i];
        if (nx) nx[j] = (*extra)[i];
    }
    free(set->slots);
    *set = ns;
    if (extra) {
        free(*extra);
        *extra = nx;
    }
    return FATHOM_OK;
}

fathom_status fathom_names_create(fathom_names **out) {
    *out = NULL;
    fathom_names *n = calloc(1, sizeof *n);
    if (!n) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the output name set");
    n->names.cap = n->inputs.cap = 1024;
    n->names.slots = calloc(n->names.cap, sizeof(name_key));
    n->inputs.slots = calloc(n->inputs.cap, sizeof(name_key));
    n->input_index = calloc(n->inputs.cap, sizeof *n->input_index);
    if (!n->names.slots || !n->inputs.slots || !n->input_index) {
        fathom_names_free(&n);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the output name set");
    }
    *out = n;
    return FATHOM_OK;
}

void fathom_names_configure(fathom_names *n, unsigned formats, fathom_manifest *manifest) {
    n->formats = formats;
    n->manifest = manifest;
}

void fathom_names_free(fathom_names **np) {
    if (!np || !*np) return;
    free((*np)->names.slots);
    free((*np)->inputs.slots);
    free((*np)->input_index);
    free(*np);
    *np = NULL;
}

static const fathom_output_format k_formats[] = {FATHOM_OUT_NPY,   FATHOM_OUT_NPZ,
                                                 FATHOM_OUT_PNG16, FATHOM_OUT_PNG8,
                                                 FATHOM_OUT_COLOR, FATHOM_OUT_EXR};
#define N_FORMATS (sizeof k_formats / sizeof k_formats[0])

/* Claim every output file of candidate `cand` when all are free (not claimed in this run, not
 * recorded in the manifest for another input). *ok = 1 when claimed. */
static fathom_status try_claim(fathom_names *n, const char *cand, const char *ident, int *ok) {
    char file[4200];
    name_key keys[N_FORMATS];
    size_t nk = 0;
    *ok = 0;
    for (size_t i = 0; i < N_FORMATS || (!n->formats && i == 0); i++) {
        if (n->formats && !(n->formats & k_formats[i])) continue;
        int len = n->formats ? snprintf(file, sizeof file, "%s.%s", cand,
                                        fathom_naming_suffix(n->formats, k_formats[i]))
                             : snprintf(file, sizeof file, "%s", cand);
        if (len < 0 || (size_t)len >= sizeof file)
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output name too long", cand);
        keys[nk] = key_of(file);
        if (set_has(&n->names, keys[nk])) return FATHOM_OK;
        if (n->formats && ident && *ident &&
            fathom_manifest_owner(n->manifest, file, ident) == FATHOM_OWNER_OTHER)
            return FATHOM_OK;
        nk++;
        if (!n->formats) break;
    }
    for (size_t i = 0; i < nk; i++) {
        FATHOM_TRY(set_reserve(&n->names, NULL));
        size_t j = slot_of(&n->names, keys[i]);
        if (!n->names.slots[j].h1 && !n->names.slots[j].h2) n->names.count++;
        n->names.slots[j] = keys[i];
    }
    *ok = 1;
    return FATHOM_OK;
}

/* Duplicate inputs: the second naming of one ident is skipped and points at the first. */
static fathom_status check_duplicate(fathom_names *n, fathom_item *it) {
    name_key k = key_of(it->ident.s);
    size_t j = slot_of(&n->inputs, k);
    if (n->inputs.slots[j].h1 || n->inputs.slots[j].h2) {
        it->dup_of = (int64_t)n->input_index[j];
        it->state = FATHOM_ITEM_SKIPPED;
        return FATHOM_OK;
    }
    FATHOM_TRY(set_reserve(&n->inputs, &n->input_index));
    j = slot_of(&n->inputs, k);
    n->inputs.slots[j] = k;
    n->input_index[j] = it->index;
    n->inputs.count++;
    return FATHOM_OK;
}

fathom_status fathom_names_claim(fathom_names *n, fathom_item *it) {
    if (it->kind != FATHOM_ITEM_FRAME && it->state == FATHOM_ITEM_PENDING) {
        char id[4096];
        fathom_manifest_source_id(it->source.s, id, sizeof id);
        FATHOM_TRY(fathom_str_set(&it->ident, id));
        FATHOM_TRY(check_duplicate(n, it));
        if (it->state == FATHOM_ITEM_SKIPPED) return FATHOM_OK; /* it writes nothing */
    }
    /* control bytes (a newline in a file name) never reach an output name */
    for (char *p = it->rel_out.s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '_';
    const char *ident = it->ident.s;
    int ok = 0;
    FATHOM_TRY(try_claim(n, it->rel_out.s, ident, &ok));
    if (ok) return FATHOM_OK;
    char buf[4096];
    const char *ext = fathom_naming_ext(it->source.s);
    size_t qm = strcspn(ext, "?#"); /* URLs: no query in names */
    for (int k = 1; k < 1000000; k++) {
        int len = k == 1  ? snprintf(buf, sizeof buf, "%s.%.*s", it->rel_out.s, (int)qm, ext)
                  : qm == 0 ? snprintf(buf, sizeof buf, "%s.%d", it->rel_out.s, k)
                            : snprintf(buf, sizeof buf, "%s.%.*s.%d", it->rel_out.s, (int)qm, ext, k);
        if (len < 0 || (size_t)len >= sizeof buf)
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output name too long", it->source.s);
        if (k == 1 && qm == 0) continue; /* no extension: go straight to numbers */
        for (char *p = buf; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '_';
        FATHOM_TRY(try_claim(n, buf, ident, &ok));
        if (ok) return fathom_str_set(&it->rel_out, buf);
    }
    return fathom_fail(FATHOM_ERR_INTERNAL, "%s: no free output name", it->source.s);
}
