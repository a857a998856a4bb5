/* video_npz.c - all frames of a video in one .npz, streamed through temporary .npy files
 * (see video_npz.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core/status.h"
#include "video/video_npz.h"

#define HDR 128 /* fixed .npy header size: the frame count is patched in place */

typedef struct tmp_npy {
    FILE *f;     /* owned */
    char *path;  /* owned; unlinked by free */
} tmp_npy;

struct fathom_video_npz {
    char *path;              /* owned: final name */
    int h, w;
    int64_t frames;
    int64_t time_base[2];
    char tb_hdr[HDR];        /* time_base.npy header; the data follows in time_base */
    tmp_npy depth, pts;
};

/* npy 1.0 header of `descr` with shape (n) or (n, h, w), padded to HDR bytes. */
static void npy_header(char hdr[HDR], const char *descr, int64_t n, int h, int w) {
    char dict[HDR];
    int len = h > 0 ? snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                               "'shape': (%20" PRId64 ", %d, %d), }", descr, n, h, w)
                    : snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                               "'shape': (%20" PRId64 ",), }", descr, n);
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)(HDR - 10);
    hdr[9] = 0;
    memcpy(hdr + 10, dict, (size_t)len);
    memset(hdr + 10 + len, ' ', HDR - 10 - (size_t)len - 1);
    hdr[HDR - 1] = '\n';
}

static fathom_status io_fail(const char *path, const char *what) {
    int e = errno;
    return fathom_fail(e == ENOSPC || e == EDQUOT ? FATHOM_ERR_DISK_FULL : FATHOM_ERR_IO,
                       "%s: %s: %s", path, what, strerror(e));
}

/* A hidden temporary next to `final` (same file system), header reserved. */
static fathom_status tmp_open(tmp_npy *t, const char *final, const char *member) {
    const char *slash = strrchr(final, '/');
    int dn = slash ? (int)(slash - final + 1) : 0;
    size_t n = strlen(final) + strlen(member) + 64;
    if (!(t->path = malloc(n))) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", final);
    /* the atomic-file pattern ".<name>.fathom-tmp-<pid>-<tag>": a later run in this folder
     * removes it when this process died (fathom_atomic_clean_stale) */
    snprintf(t->path, n, "%.*s.%s.%s.fathom-tmp-%ld-XXXXXX", dn, final, final + dn, member,
             (long)getpid());
    int fd = mkstemp(t->path);
    if (fd < 0) {
        fathom_status s = io_fail(final, "cannot create a temporary file");
        free(t->path);
        t->path = NULL;
        return s;
    }
    if (!(t->f = fdopen(fd, "w+b"))) {
        close(fd);
        return io_fail(t->path, "cannot open");
    }
    char zero[HDR] = {0};
    if (fwrite(zero, 1, HDR, t->f) != HDR) return io_fail(t->path, "cannot write");
    return FATHOM_OK;
}

static void tmp_free(tmp_npy *t) {
    if (t->f) fclose(t->f);
    if (t->path) unlink(t->path);
    free(t->path);
    t->f = NULL;
    t->path = NULL;
}

/* Write the final header and flush; the file stays open for nothing else. */
static fathom_status tmp_seal(tmp_npy *t, const char hdr[HDR]) {
    if (fseek(t->f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, HDR, t->f) != HDR || fflush(t->f) != 0)
        return io_fail(t->path, "cannot write");
    return FATHOM_OK;
}

fathom_status fathom_video_npz_open(const char *path, int h, int w, int tb_num, int tb_den,
                                    int overwrite, fathom_video_npz **out) {
    *out = NULL;
    struct stat sb;
    if (!overwrite && stat(path, &sb) == 0)
        return fathom_fail(FATHOM_ERR_IO, "output %s exists (existing: overwrite)", path);
    fathom_video_npz *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path))) {
        free(z);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    }
    z->h = h;
    z->w = w;
    z->time_base[0] = tb_num;
    z->time_base[1] = tb_den;
    fathom_status s = tmp_open(&z->depth, path, "depth.npy");
    if (s == FATHOM_OK) s = tmp_open(&z->pts, path, "pts.npy");
    if (s != FATHOM_OK) {
        fathom_video_npz_free(&z);
        return s;
    }
    *out = z;
    return FATHOM_OK;
}

fathom_status fathom_video_npz_add(fathom_video_npz *z, const float *depth, int64_t pts) {
    size_t px = (size_t)z->h * z->w;
    if (fwrite(depth, sizeof(float), px, z->depth.f) != px)
        return io_fail(z->depth.path, "cannot write");
    if (fwrite(&pts, sizeof pts, 1, z->pts.f) != 1) return io_fail(z->pts.path, "cannot write");
    z->frames++;
    return FATHOM_OK;
}

int64_t fathom_video_npz_frames(const fathom_video_npz *z) { return z ? z->frames : 0; }

static fathom_status zip_fail(const char *path, const char *what, zip_error_t *ze) {
    fathom_status s = zip_error_code_zip(ze) == ZIP_ER_MEMORY ? FATHOM_ERR_NOMEM : FATHOM_ERR_IO;
    return fathom_fail(s, "%s: %s: %s", path, what, zip_error_strerror(ze));
}

/* Add one member; the source is consumed either way. */
static fathom_status add(zip_t *za, const char *path, const char *name, zip_source_t *src) {
    zip_int64_t idx = src ? zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
        zip_source_free(src);
        return zip_fail(path, name, zip_get_error(za));
    }
    /* stored: float32 depth barely deflates and would cost seconds per frame-second */
    if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) < 0)
        return zip_fail(path, name, zip_get_error(za));
    return FATHOM_OK;
}

fathom_status fathom_video_npz_finish(fathom_video_npz *z) {
    char hdr[HDR];
    npy_header(hdr, "<f4", z->frames, z->h, z->w);
    FATHOM_TRY(tmp_seal(&z->depth, hdr));
    npy_header(hdr, "<i8", z->frames, 0, 0);
    FATHOM_TRY(tmp_seal(&z->pts, hdr));
    npy_header(z->tb_hdr, "<i8", 2, 0, 0);
    int err = 0;
    /* libzip writes <path>.XXXXXX and renames it over path in zip_close */
    zip_t *za = zip_open(z->path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        fathom_status s = zip_fail(z->path, "cannot create the archive", &ze);
        zip_error_fini(&ze);
        return s;
    }
    zip_buffer_fragment_t tb[2] = {{(zip_uint8_t *)z->tb_hdr, HDR},
                                   {(zip_uint8_t *)z->time_base, sizeof z->time_base}};
    fathom_status s = add(za, z->path, "depth.npy", zip_source_file(za, z->depth.path, 0, -1));
    if (s == FATHOM_OK)
        s = add(za, z->path, "pts.npy", zip_source_file(za, z->pts.path, 0, -1));
    if (s == FATHOM_OK)
        s = add(za, z->path, "time_base.npy", zip_source_buffer_fragment(za, tb, 2, 0));
    if (s == FATHOM_OK && zip_close(za) < 0) s = zip_fail(z->path, "cannot write", zip_get_error(za));
    else if (s == FATHOM_OK) za = NULL;
    if (za) zip_discard(za);
    return s;
}

void fathom_video_npz_free(fathom_video_npz **z) {
    if (!z || !*z) return;
    tmp_free(&(*z)->depth);
    tmp_free(&(*z)->pts);
    free((*z)->path);
    free(*z);
    *z = NULL;
}
