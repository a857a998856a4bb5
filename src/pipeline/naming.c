/* naming.c - output paths and clash resolution (rules in naming.h). */
#include "pipeline/naming.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

const char *fathom_naming_suffix(unsigned formats, fathom_output_format one) {
    unsigned pngs = formats & (FATHOM_OUT_PNG16 | FATHOM_OUT_PNG8 | FATHOM_OUT_COLOR);
    unsigned first_png = pngs & (~pngs + 1); /* lowest bit: png16 < png8 < color */
    switch (one) {
    case FATHOM_OUT_NPY: return "npy";
    case FATHOM_OUT_NPZ: return "npz";
    case FATHOM_OUT_EXR: return "exr";
    case FATHOM_OUT_PNG16: return first_png == FATHOM_OUT_PNG16 ? "png" : "png16.png";
    case FATHOM_OUT_PNG8: return first_png == FATHOM_OUT_PNG8 ? "png" : "png8.png";
    case FATHOM_OUT_COLOR: return first_png == FATHOM_OUT_COLOR ? "png" : "color.png";
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

struct fathom_names {
    name_key *slots; /* owned: cap slots */
    size_t cap, count;
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

fathom_status fathom_names_create(fathom_names **out) {
    *out = NULL;
    fathom_names *n = calloc(1, sizeof *n);
    if (!n) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the output name set");
    n->cap = 1024;
    n->slots = calloc(n->cap, sizeof *n->slots);
    if (!n->slots) {
        free(n);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the output name set");
    }
    *out = n;
    return FATHOM_OK;
}

void fathom_names_free(fathom_names **np) {
    if (!np || !*np) return;
    free((*np)->slots);
    free(*np);
    *np = NULL;
}

/* Insert k; returns 1 when it was new, 0 when already present. */
static int insert_key(name_key *slots, size_t cap, name_key k) {
    size_t i = (size_t)(k.h1 ^ (k.h2 >> 7)) & (cap - 1);
    for (;;) {
        name_key *s = &slots[i];
        if (!s->h1 && !s->h2) {
            *s = k;
            return 1;
        }
        if (s->h1 == k.h1 && s->h2 == k.h2) return 0;
        i = (i + 1) & (cap - 1);
    }
}

static fathom_status grow(fathom_names *n) {
    size_t cap = n->cap * 2;
    name_key *slots = calloc(cap, sizeof *slots);
    if (!slots) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for %zu output names", n->count);
    for (size_t i = 0; i < n->cap; i++)
        if (n->slots[i].h1 || n->slots[i].h2) insert_key(slots, cap, n->slots[i]);
    free(n->slots);
    n->slots = slots;
    n->cap = cap;
    return FATHOM_OK;
}

static fathom_status try_claim(fathom_names *n, const char *name, int *ok) {
    if ((n->count + 1) * 2 > n->cap) FATHOM_TRY(grow(n));
    *ok = insert_key(n->slots, n->cap, key_of(name));
    n->count += *ok;
    return FATHOM_OK;
}

fathom_status fathom_names_claim(fathom_names *n, fathom_item *it) {
    int ok = 0;
    FATHOM_TRY(try_claim(n, it->rel_out.s, &ok));
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
        FATHOM_TRY(try_claim(n, buf, &ok));
        if (ok) return fathom_str_set(&it->rel_out, buf);
    }
    return fathom_fail(FATHOM_ERR_INTERNAL, "%s: no free output name", it->source.s);
}
