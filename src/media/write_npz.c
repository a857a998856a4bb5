/* write_npz.c - .npz as numpy.savez_compressed makes it: a zip archive holding one
 * deflate-compressed "depth.npy" (raw float32). Built in memory with libzip (the .npy is
 * referenced, not copied), then written through atomic_file. */
#include <string.h>
#include <zip.h>

#include "core/status.h"
#include "media/atomic_file.h"
#include "media/image.h"

#define NPZ_CHUNK ((zip_uint64_t)1 << 20)

static fathom_status zip_fail(const char *path, const char *what, zip_error_t *ze) {
    fathom_status s = zip_error_code_zip(ze) == ZIP_ER_MEMORY ? FATHOM_ERR_NOMEM : FATHOM_ERR_INTERNAL;
    return fathom_fail(s, "%s: %s: %s", path, what, zip_error_strerror(ze));
}

/* Copy the finished archive from the memory source to the file. */
static fathom_status copy_out(const char *path, zip_source_t *mem) {
    zip_stat_t st;
    if (zip_source_open(mem) < 0) return zip_fail(path, "cannot reopen the archive", zip_source_error(mem));
    fathom_status s = FATHOM_OK;
    fathom_atomic_file f = {.fd = -1};
    char buf[1 << 16];
    if (zip_source_stat(mem, &st) < 0 || !(st.valid & ZIP_STAT_SIZE)) {
        s = zip_fail(path, "cannot size the archive", zip_source_error(mem));
        goto done;
    }
    s = fathom_atomic_open(&f, path);
    if (s != FATHOM_OK) goto done;
    for (zip_uint64_t left = st.size; left > 0 && s == FATHOM_OK;) {
        zip_int64_t n = zip_source_read(mem, buf, left < sizeof buf ? left : sizeof buf);
        if (n <= 0) {
            s = zip_fail(path, "cannot read the archive back", zip_source_error(mem));
            break;
        }
        s = fathom_atomic_write(&f, buf, (size_t)n);
        left -= (zip_uint64_t)n;
    }
    if (s == FATHOM_OK) s = fathom_atomic_commit(&f);
    else fathom_atomic_abort(&f);
done:
    zip_source_close(mem);
    return s;
}

/* A 1-element .npy (descr "<f8" or "<f4") into buf[128 + 8]; returns its length. */
static size_t scalar_npy(uint8_t *buf, const char *descr, const void *v, size_t size) {
    static const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
    char dict[118];
    int dn = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }", descr);
    memset(buf, ' ', 128);
    memcpy(buf, magic, 8);
    buf[8] = 118, buf[9] = 0; /* header length: 128 - 10 */
    memcpy(buf + 10, dict, (size_t)dn);
    buf[127] = '\n';
    memcpy(buf + 128, v, size);
    return 128 + size;
}

static fathom_status add_scalar(zip_t *za, const char *path, const char *name, uint8_t *buf, size_t n) {
    zip_source_t *src = zip_source_buffer(za, buf, n, 0); /* owned until added */
    if (!src || zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8) < 0) {
        zip_source_free(src);
        return zip_fail(path, "cannot add an array", zip_get_error(za));
    }
    return FATHOM_OK;
}

fathom_status fathom_write_npz(const char *path, const float *depth, int h, int w) {
    return fathom_write_npz_opts(path, depth, h, w, NULL);
}

fathom_status fathom_write_npz_opts(const char *path, const float *depth, int h, int w, const fathom_write_opts *opts) {
    uint8_t fbuf[136], vbuf[136]; /* Depth Pro: focallength_px.npy, fov_deg.npy (live until zip_close) */
    char hdr[128];
    size_t hn = fathom_npy_header(hdr, h, w);
    zip_error_t ze;
    zip_error_init(&ze);
    fathom_status s = FATHOM_OK;
    zip_t *za = NULL;
    zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &ze); /* owned (kept past zip_close) */
    if (!mem) {
        s = zip_fail(path, "cannot create the archive", &ze);
        goto done;
    }
    za = zip_open_from_source(mem, ZIP_TRUNCATE, &ze);
    if (!za) {
        s = zip_fail(path, "cannot create the archive", &ze);
        goto done;
    }
    zip_source_keep(mem);
    zip_buffer_fragment_t frags[2] = {{(zip_uint8_t *)hdr, hn},
                                      {(zip_uint8_t *)depth, (zip_uint64_t)h * w * sizeof(float)}};
    zip_source_t *entry = zip_source_buffer_fragment(za, frags, 2, 0); /* owned until added */
    zip_int64_t idx = entry ? zip_file_add(za, "depth.npy", entry, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
        zip_source_free(entry);
        s = zip_fail(path, "cannot add depth.npy", zip_get_error(za));
        goto done;
    }
    /* level 1: float32 mantissas barely compress; higher levels cost seconds per 1080p map */
    if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 1) < 0) {
        s = zip_fail(path, "cannot select deflate", zip_get_error(za));
        goto done;
    }
    if (opts && opts->has_focal) { /* Depth Pro: as the official infer() returns them */
        double f = opts->focal_px;
        float v = (float)opts->fov_deg;
        s = add_scalar(za, path, "focallength_px.npy", fbuf, scalar_npy(fbuf, "<f8", &f, sizeof f));
        if (s == FATHOM_OK) s = add_scalar(za, path, "fov_deg.npy", vbuf, scalar_npy(vbuf, "<f4", &v, sizeof v));
        if (s != FATHOM_OK) goto done;
    }
    if (zip_close(za) < 0) {
        s = zip_fail(path, "cannot compress", zip_get_error(za));
        goto done;
    }
    za = NULL;
    s = copy_out(path, mem);
done:
    if (za) zip_discard(za);
    zip_source_free(mem);
    zip_error_fini(&ze);
    return s;
}
