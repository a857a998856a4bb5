/* stage_depthpro.c - the Depth Pro parts of an item's trip (called from stage_decode.c and
 * stage_write.c): the fixed 1536^2 network input and the EXIF focal length on the way in,
 * metric depth with the focal length (given > EXIF > estimated) on the way out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/status.h"
#include "model/depthpro.h"
#include "pipeline/pipeline.h"

#define EXIF_WHOLE (64u << 20) /* read whole files up to this (a WebP's EXIF chunk comes last) */
#define EXIF_HEAD (256 * 1024)  /* else the head: JPEG APP1, PNG eXIf before the image data */

/* EXIF 35 mm focal length of an image file, 0 when absent; a value the official code would
 * not use (0, negative) is ignored with a note, an implausible one used with a note. */
static double file_f35(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t cap = EXIF_HEAD;
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (end > 0 && (unsigned long)end <= EXIF_WHOLE) cap = (size_t)end;
        rewind(f);
    }
    uint8_t *buf = malloc(cap); /* owned */
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    double v = buf ? fathom_dp_exif_f35(buf, n) : NAN;
    free(buf);
    if (isnan(v)) return 0;
    if (!(v > 0) || !isfinite(v)) {
        fathom_log(FATHOM_LOG_WARN, "%s: EXIF FocalLengthIn35mmFilm %g ignored (not > 0): the focal length is estimated",
                   path, v);
        return 0;
    }
    if (v > 5000)
        fathom_log(FATHOM_LOG_WARN, "%s: EXIF FocalLengthIn35mmFilm %g mm is implausible; used, as the official code does "
                   "(focal_px overrides it)", path, v);
    return v;
}

void fathom_dp_item_input(struct fathom_pipeline *pl, fathom_item *it) {
    const int N = FATHOM_DEPTHPRO_SIZE;
    it->net_h = it->net_w = N;
    if (it->kind == FATHOM_ITEM_FILE) it->f35_mm = file_f35(it->source.s);
    fathom_status st = fathom_item_reserve(&it->x, &it->x_cap, (size_t)3 * N * N);
    if (st == FATHOM_OK)
        st = fathom_depthpro_preprocess(it->image.rgb, it->height, it->width, it->image.stride, it->x);
    if (st != FATHOM_OK) fathom_item_fail(it, st, "%s: %s", it->source.s, fathom_last_error());
    (void)pl;
}

void fathom_dp_item_output(struct fathom_pipeline *pl, fathom_item *it) {
    double f = 0;
    it->focal_source = 0;
    if (pl->p.focal_px > 0) {
        f = pl->p.focal_px, it->focal_source = 2;
    } else if (it->f35_mm > 0) {
        f = fathom_depthpro_focal_from_f35(it->width, it->height, it->f35_mm), it->focal_source = 1;
    }
    fathom_status st = fathom_depthpro_postprocess(it->depth_net, it->fov_deg, f, it->height, it->width, it->depth,
                                                   &it->focal_px);
    if (st != FATHOM_OK) fathom_item_fail(it, st, "%s: %s", it->source.s, fathom_last_error());
    /* from here fov_deg is the FOV of the focal length used: the head's own when estimated */
    if (it->focal_source) it->fov_deg = (float)fathom_depthpro_fov_from_focal(it->focal_px, it->width);
}
