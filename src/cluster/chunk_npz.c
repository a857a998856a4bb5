/* chunk_npz.c - sequential reader of a video npz (see chunk_npz.h). */
#include "cluster/chunk_npz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "core/status.h"

struct fathom_chunk_npz {
    char *path;           /* owned */
    zip_t *za;            /* owned */
    zip_file_t *depth;    /* owned: positioned at the next frame */
    int64_t n, *pts;      /* owned: n pts */
    int h, w, tb_num, tb_den;
};

/* Read an npy header from f: little-endian dtype `descr`, shape dims into shape[0..*nd-1]. */
static fathom_status npy_header(const char *path, const char *member, zip_file_t *f,
                                const char *descr, int64_t shape[3], int *nd) {
    unsigned char pre[12];
    if (zip_fread(f, pre, 10) != 10 || memcmp(pre, "\x93NUMPY", 6))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: %s is not an npy array", path, member);
    size_t hl = pre[8] | (size_t)pre[9] << 8;
    if (pre[6] >= 2) { /* version 2+: 4-byte header length */
        if (zip_fread(f, pre + 10, 2) != 2)
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: %s: short header", path, member);
        hl |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    if (hl > 65536) return fathom_fail(FATHOM_ERR_FORMAT, "%s: %s: header too long", path, member);
    char *h = malloc(hl + 1); /* owned */
    if (!h) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    if (zip_fread(f, h, hl) != (zip_int64_t)hl) {
        free(h);
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: %s: short header", path, member);
    }
    h[hl] = '\0';
    char want[32];
    snprintf(want, sizeof want, "'%s'", descr);
    const char *sh = strstr(h, "'shape':");
    int ok = strstr(h, want) && strstr(h, "'fortran_order': False") && sh;
    *nd = 0;
    const char *p = sh ? strchr(sh, '(') : NULL;
    while (ok && p && *nd < 3) {
        char *end;
        long long v = strtoll(p + 1, &end, 10);
        if (end == p + 1) break;
        shape[(*nd)++] = v;
        p = strchr(end, ',');
        if (!p || strchr(end, ')') < p) break;
    }
    free(h);
    if (!ok || *nd == 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: %s: not a C-order %s array", path, member, descr);
    return FATHOM_OK;
}

static fathom_status open_member(fathom_chunk_npz *z, const char *name, zip_file_t **f) {
    *f = zip_fopen(z->za, name, 0);
    if (!*f) return fathom_fail(FATHOM_ERR_FORMAT, "%s: no %s in the archive", z->path, name);
    return FATHOM_OK;
}

fathom_status fathom_chunk_npz_open(const char *path, fathom_chunk_npz **out) {
    *out = NULL;
    fathom_chunk_npz *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path))) {
        free(z);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    }
    int err = 0;
    fathom_status s = FATHOM_OK;
    zip_file_t *f = NULL; /* owned while reading pts / time base */
    int64_t shape[3];
    int nd;
    z->za = zip_open(path, ZIP_RDONLY, &err);
    if (!z->za) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: cannot open the archive (zip error %d)", path, err);
        goto end;
    }
    if ((s = open_member(z, "pts.npy", &f)) != FATHOM_OK ||
        (s = npy_header(path, "pts.npy", f, "<i8", shape, &nd)) != FATHOM_OK)
        goto end;
    z->n = shape[0];
    if (nd != 1 || z->n < 0 || !(z->pts = malloc((size_t)(z->n ? z->n : 1) * sizeof *z->pts)) ||
        zip_fread(f, z->pts, (zip_uint64_t)z->n * 8) != (zip_int64_t)z->n * 8) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: pts.npy is malformed", path);
        goto end;
    }
    zip_fclose(f);
    int64_t tb[2];
    if ((s = open_member(z, "time_base.npy", &f)) != FATHOM_OK ||
        (s = npy_header(path, "time_base.npy", f, "<i8", shape, &nd)) != FATHOM_OK)
        goto end;
    if (nd != 1 || shape[0] != 2 || zip_fread(f, tb, 16) != 16 || tb[0] < 1 || tb[1] < 1) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: time_base.npy is malformed", path);
        goto end;
    }
    z->tb_num = (int)tb[0], z->tb_den = (int)tb[1];
    zip_fclose(f);
    f = NULL;
    if ((s = open_member(z, "depth.npy", &z->depth)) != FATHOM_OK ||
        (s = npy_header(path, "depth.npy", z->depth, "<f4", shape, &nd)) != FATHOM_OK)
        goto end;
    if (nd != 3 || shape[0] != z->n || shape[1] < 1 || shape[2] < 1 || shape[1] > 1 << 16 ||
        shape[2] > 1 << 16) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: depth.npy shape does not match its %" PRId64
                        " timestamps", path, z->n);
        goto end;
    }
    z->h = (int)shape[1], z->w = (int)shape[2];
end:
    if (f) zip_fclose(f);
    if (s != FATHOM_OK) {
        fathom_chunk_npz_free(&z);
        return s;
    }
    *out = z;
    return FATHOM_OK;
}

void fathom_chunk_npz_free(fathom_chunk_npz **zp) {
    if (!zp || !*zp) return;
    fathom_chunk_npz *z = *zp;
    if (z->depth) zip_fclose(z->depth);
    if (z->za) zip_discard(z->za);
    free(z->pts);
    free(z->path);
    free(z);
    *zp = NULL;
}

int64_t fathom_chunk_npz_frames(const fathom_chunk_npz *z) { return z->n; }
void fathom_chunk_npz_size(const fathom_chunk_npz *z, int *h, int *w) { *h = z->h, *w = z->w; }
void fathom_chunk_npz_time_base(const fathom_chunk_npz *z, int *num, int *den) {
    *num = z->tb_num, *den = z->tb_den;
}
int64_t fathom_chunk_npz_pts(const fathom_chunk_npz *z, int64_t i) { return z->pts[i]; }

fathom_status fathom_chunk_npz_next(fathom_chunk_npz *z, float *depth) {
    zip_uint64_t bytes = (zip_uint64_t)z->h * z->w * sizeof(float);
    if (zip_fread(z->depth, depth, bytes) != (zip_int64_t)bytes)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: depth.npy ends early", z->path);
    return FATHOM_OK;
}
