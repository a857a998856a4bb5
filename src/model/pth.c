/* pth.c - torch.save zip archives through libzip: locate data.pkl, check storages, read bytes. */
#include "model/pth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "core/status.h"
#include "model/pickle.h"

/* Deflate cannot expand more than ~1032:1; a larger declared size is a lie (zip bomb). */
#define PTH_MAX_RATIO 1100u

typedef struct pth_impl {
    zip_t *za;                 /* owned */
    fathom_pkl_tensor *pk;     /* owned: pickle tensors, n */
    size_t n;
    zip_uint64_t *entry;       /* owned: storage entry index of each tensor */
} pth_impl;

int fathom_pth_sniff(const uint8_t *buf, size_t size) {
    return size >= 4 && buf[0] == 'P' && buf[1] == 'K' && buf[2] == 3 && buf[3] == 4;
}

static void pth_close(fathom_tensor_set *s) {
    pth_impl *im = s->impl;
    if (!im) return;
    if (im->za) zip_discard(im->za);
    fathom_pkl_free(im->pk, im->n);
    free(im->entry);
    free(im);
    s->impl = NULL;
}

/* Read exactly `len` bytes from an open entry; 0 on success. */
static int pth_fread_all(zip_file_t *zf, void *dst, uint64_t len) {
    uint8_t *p = dst;
    while (len) {
        zip_uint64_t chunk = len > (1u << 30) ? (1u << 30) : len;
        zip_int64_t got = zip_fread(zf, p, chunk);
        if (got <= 0) return -1;
        p += got;
        len -= (uint64_t)got;
    }
    return 0;
}

static fathom_status pth_read(fathom_tensor_set *s, const fathom_raw_tensor *t, void *dst) {
    pth_impl *im = s->impl;
    const fathom_pkl_tensor *pk = &im->pk[t->src_index];
    uint64_t esize = fathom_dtype_size(t->dtype);
    uint64_t skip = (uint64_t)pk->offset * esize, len = (uint64_t)t->numel * esize;
    zip_file_t *zf = zip_fopen_index(im->za, im->entry[t->src_index], 0); /* owned */
    fathom_status st = FATHOM_OK;
    if (!zf) {
        st = fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': cannot open storage '%s': %s", s->path,
                         t->name, pk->storage_key, zip_strerror(im->za));
        goto done;
    }
    if (skip && zip_fseek(zf, (zip_int64_t)skip, SEEK_SET) == 0) skip = 0;
    /* compressed entry: libzip cannot seek, so read and drop the leading bytes */
    uint8_t scratch[16384];
    while (skip) {
        uint64_t k = skip < sizeof scratch ? skip : sizeof scratch;
        if (pth_fread_all(zf, scratch, k) != 0) break;
        skip -= k;
    }
    if (skip || pth_fread_all(zf, dst, len) != 0)
        st = fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': storage '%s' is truncated or corrupt (%s)",
                         s->path, t->name, pk->storage_key, zip_file_strerror(zf));
done:
    if (zf) zip_fclose(zf);
    return st;
}

/* Tensor i against its storage entry; fills t. */
static fathom_status pth_check(fathom_tensor_set *s, pth_impl *im, const char *prefix, size_t i,
                               uint64_t archive_size, fathom_raw_tensor *t) {
    const fathom_pkl_tensor *pk = &im->pk[i];
    const char *path = s->path;
    t->name = pk->name;
    t->dtype = pk->dtype;
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", pk->dtype_name);
    t->ndim = pk->ndim;
    t->src_index = (int64_t)i;
    int64_t numel = 1;
    for (int d = 0; d < pk->ndim; d++) {
        t->shape[d] = pk->shape[d];
        if (pk->shape[d] && numel > INT64_MAX / 8 / pk->shape[d])
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: tensor '%s': element count overflows", path, pk->name);
        numel *= pk->shape[d];
    }
    t->numel = numel;
    /* C-contiguous: stride of dim d = product of later sizes (dims of size 1 may say anything) */
    int64_t expect = 1;
    for (int d = pk->ndim - 1; d >= 0; d--) {
        if (pk->shape[d] != 1 && pk->stride[d] != expect)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: tensor '%s' is not contiguous (stride[%d] = %lld, expected %lld)",
                               path, pk->name, d, (long long)pk->stride[d], (long long)expect);
        expect *= pk->shape[d];
    }
    if (pk->offset > pk->storage_numel || numel > pk->storage_numel - pk->offset)
        return fathom_fail(FATHOM_ERR_FORMAT,
                           "%s: tensor '%s': offset %lld + %lld elements past the end of storage '%s' (%lld elements)",
                           path, pk->name, (long long)pk->offset, (long long)numel, pk->storage_key,
                           (long long)pk->storage_numel);
    char entry[1024];
    if ((size_t)snprintf(entry, sizeof entry, "%sdata/%s", prefix, pk->storage_key) >= sizeof entry)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': storage key too long", path, pk->name);
    zip_int64_t idx = zip_name_locate(im->za, entry, 0);
    if (idx < 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': storage entry '%s' is missing", path, pk->name, entry);
    im->entry[i] = (zip_uint64_t)idx;
    if (t->dtype == FATHOM_DT_OTHER) return FATHOM_OK; /* the mapper rejects it by name */
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(im->za, (zip_uint64_t)idx, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE) ||
        !(zs.valid & ZIP_STAT_COMP_SIZE))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: cannot stat '%s'", path, entry);
    if ((zs.valid & ZIP_STAT_ENCRYPTION_METHOD) && zs.encryption_method != ZIP_EM_NONE)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: '%s' is encrypted", path, entry);
    uint64_t need = (uint64_t)pk->storage_numel;
    if (need > UINT64_MAX / 8 || zs.size < need * fathom_dtype_size(t->dtype))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: tensor '%s': storage '%s' holds %llu bytes, %lld %s elements need more",
                           path, pk->name, entry, (unsigned long long)zs.size, (long long)pk->storage_numel,
                           pk->dtype_name);
    uint64_t limit = zs.comp_method == ZIP_CM_STORE ? archive_size
                                                    : (zs.comp_size > UINT64_MAX / PTH_MAX_RATIO
                                                           ? UINT64_MAX
                                                           : zs.comp_size * PTH_MAX_RATIO + 4096);
    if (zs.size > limit || zs.comp_size > archive_size)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: '%s' declares %llu bytes from %llu compressed (corrupt or a zip bomb)",
                           path, entry, (unsigned long long)zs.size, (unsigned long long)zs.comp_size);
    return FATHOM_OK;
}

static fathom_status pth_load_pickle(fathom_tensor_set *s, pth_impl *im, char *prefix, size_t prefix_cap) {
    const char *path = s->path;
    zip_int64_t ne = zip_get_num_entries(im->za, 0), pkl = -1;
    for (zip_int64_t i = 0; i < ne && pkl < 0; i++) {
        const char *nm = zip_get_name(im->za, (zip_uint64_t)i, 0);
        size_t len = nm ? strlen(nm) : 0;
        if (len >= 8 && strcmp(nm + len - 8, "data.pkl") == 0 && (len == 8 || nm[len - 9] == '/') &&
            len - 8 < prefix_cap) {
            memcpy(prefix, nm, len - 8);
            prefix[len - 8] = '\0';
            pkl = i;
        }
    }
    if (pkl < 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: zip archive without */data.pkl (not a torch.save checkpoint)", path);
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(im->za, (zip_uint64_t)pkl, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: cannot stat data.pkl", path);
    if (zs.size > FATHOM_PTH_MAX_PICKLE)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: data.pkl of %llu bytes (limit %u)", path,
                           (unsigned long long)zs.size, FATHOM_PTH_MAX_PICKLE);
    uint8_t *buf = malloc(zs.size ? zs.size : 1); /* owned */
    zip_file_t *zf = NULL;                        /* owned */
    fathom_status st = FATHOM_OK;
    if (!buf) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory for data.pkl", path);
        goto done;
    }
    zf = zip_fopen_index(im->za, (zip_uint64_t)pkl, 0);
    if (!zf || pth_fread_all(zf, buf, zs.size) != 0) {
        st = fathom_fail(FATHOM_ERR_FORMAT, "%s: cannot read data.pkl: %s", path,
                         zf ? zip_file_strerror(zf) : zip_strerror(im->za));
        goto done;
    }
    char what[4200];
    snprintf(what, sizeof what, "%s (data.pkl)", path);
    st = fathom_pkl_state_dict(buf, zs.size, what, &im->pk, &im->n);
done:
    if (zf) zip_fclose(zf);
    free(buf);
    return st;
}

static fathom_status pth_open(zip_t *za, const char *name, uint64_t archive_size, fathom_tensor_set *out) {
    snprintf(out->path, sizeof out->path, "%s", name);
    snprintf(out->format, sizeof out->format, "pth");
    pth_impl *im = calloc(1, sizeof *im);
    if (!im) {
        zip_discard(za);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", name);
    }
    im->za = za;
    out->impl = im;
    out->close = pth_close;
    out->read = pth_read;
    char prefix[1024];
    fathom_status st = pth_load_pickle(out, im, prefix, sizeof prefix);
    if (st != FATHOM_OK) goto done;
    out->t = calloc(im->n ? im->n : 1, sizeof *out->t);
    im->entry = calloc(im->n ? im->n : 1, sizeof *im->entry);
    if (!out->t || !im->entry) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t i = 0; i < im->n; i++) {
        st = pth_check(out, im, prefix, i, archive_size, &out->t[i]);
        if (st != FATHOM_OK) goto done;
    }
    out->n = im->n;
done:
    if (st != FATHOM_OK) fathom_tensor_set_close(out);
    return st;
}

fathom_status fathom_pth_open_memory(const void *buf, size_t size, const char *name, fathom_tensor_set *out) {
    memset(out, 0, sizeof *out);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, size, 0, &ze); /* owned until zip_open_from_source */
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    if (!za) {
        fathom_status st = fathom_fail(FATHOM_ERR_FORMAT, "%s: not a readable zip archive (%s)", name,
                                       zip_error_strerror(&ze));
        if (src) zip_source_free(src);
        zip_error_fini(&ze);
        return st;
    }
    zip_error_fini(&ze);
    return pth_open(za, name, size, out);
}

fathom_status fathom_pth_open_file(const char *path, fathom_tensor_set *out) {
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) return fathom_fail(fathom_status_from_errno(errno), "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return fathom_fail(FATHOM_ERR_FORMAT, "%s: not a regular file", path);
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        fathom_status st = fathom_fail(zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ ? FATHOM_ERR_IO : FATHOM_ERR_FORMAT,
                                       "%s: not a readable zip archive (%s)", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    return pth_open(za, path, (uint64_t)sb.st_size, out);
}
