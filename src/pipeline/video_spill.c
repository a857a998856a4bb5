/* video_spill.c - depth frames parked in an unlinked temporary file (video_spill.h). */
#include "pipeline/video_spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"

struct fathom_video_spill {
    FILE *f;       /* owned */
    size_t px;
    float lo, hi;
    char dir[4096];
};

typedef struct spill_head { /* before each frame's floats */
    int64_t frame, pts, duration, failed;
} spill_head;

fathom_status fathom_video_spill_open(const char *dir, int height, int width,
                                      fathom_video_spill **out) {
    *out = NULL;
    fathom_video_spill *s = calloc(1, sizeof *s); /* owned by the caller */
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    snprintf(s->dir, sizeof s->dir, "%s", dir && *dir ? dir : ".");
    s->px = (size_t)height * width;
    s->lo = 3.4e38f, s->hi = -3.4e38f;
    char tmpl[4200];
    snprintf(tmpl, sizeof tmpl, "%s/.fathom-spill-XXXXXX", s->dir);
    int fd = mkstemp(tmpl);
    if (fd >= 0) {
        unlink(tmpl); /* gone with the process, whatever happens */
        if (!(s->f = fdopen(fd, "w+b"))) close(fd);
    }
    if (!s->f) {
        fathom_status st = fathom_fail(FATHOM_ERR_IO, "cannot create a temporary file in %s: %s",
                                       s->dir, strerror(errno));
        free(s);
        return st;
    }
    *out = s;
    return FATHOM_OK;
}

fathom_status fathom_video_spill_add(fathom_video_spill *s, const float *depth, int64_t frame,
                                     int64_t pts, int64_t duration, int failed) {
    for (size_t i = 0; !failed && i < s->px; i++) {
        if (depth[i] < s->lo) s->lo = depth[i];
        if (depth[i] > s->hi) s->hi = depth[i];
    }
    spill_head h = {frame, pts, duration, failed};
    if (fwrite(&h, sizeof h, 1, s->f) != 1 || fwrite(depth, sizeof(float), s->px, s->f) != s->px)
        return fathom_fail(errno == ENOSPC ? FATHOM_ERR_DISK_FULL : FATHOM_ERR_IO,
                           "temporary depth file in %s: %s", s->dir, strerror(errno));
    return FATHOM_OK;
}

fathom_status fathom_video_spill_rewind(fathom_video_spill *s, float *lo, float *hi) {
    if (fflush(s->f) != 0 || fseek(s->f, 0, SEEK_SET) != 0)
        return fathom_fail(FATHOM_ERR_IO, "temporary depth file in %s: %s", s->dir,
                           strerror(errno));
    if (!(s->hi >= s->lo)) s->lo = s->hi = 0; /* nothing but failed frames */
    *lo = s->lo;
    *hi = s->hi > s->lo ? s->hi : s->lo + 1.0f; /* a flat video: every frame maps to 0 */
    return FATHOM_OK;
}

fathom_status fathom_video_spill_next(fathom_video_spill *s, float *depth, int64_t *frame,
                                      int64_t *pts, int64_t *duration, int *failed, int *got) {
    spill_head h;
    *got = 0;
    if (fread(&h, sizeof h, 1, s->f) != 1) {
        if (feof(s->f)) return FATHOM_OK;
        return fathom_fail(FATHOM_ERR_IO, "temporary depth file in %s: %s", s->dir,
                           strerror(errno));
    }
    if (fread(depth, sizeof(float), s->px, s->f) != s->px)
        return fathom_fail(FATHOM_ERR_IO, "temporary depth file in %s: short read", s->dir);
    *frame = h.frame, *pts = h.pts, *duration = h.duration, *failed = (int)h.failed;
    *got = 1;
    return FATHOM_OK;
}

void fathom_video_spill_free(fathom_video_spill **s) {
    if (!s || !*s) return;
    if ((*s)->f) fclose((*s)->f);
    free(*s);
    *s = NULL;
}
