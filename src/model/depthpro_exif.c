/* depthpro_exif.c - the EXIF 35 mm-equivalent focal length that overrides Depth Pro's own
 * estimate (official load_rgb: FocalLengthIn35mmFilm from the Exif IFD, used when > 0).
 *
 * JPEG, PNG, WebP and TIFF files (media/exif_find.c finds the blob); libexif parses it. */
#include <libexif/exif-data.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "media/exif_find.h"
#include "model/depthpro.h"

/* The tag as a number; NAN when absent or of a non-numeric type. */
static double tag_value(ExifData *ed, ExifEntry *e) {
    ExifByteOrder o = exif_data_get_byte_order(ed);
    if (!e || !e->data || e->components < 1) return NAN;
    switch (e->format) {
    case EXIF_FORMAT_SHORT: return e->size >= 2 ? exif_get_short(e->data, o) : NAN;
    case EXIF_FORMAT_SSHORT: return e->size >= 2 ? exif_get_sshort(e->data, o) : NAN;
    case EXIF_FORMAT_LONG: return e->size >= 4 ? (double)exif_get_long(e->data, o) : NAN;
    case EXIF_FORMAT_SLONG: return e->size >= 4 ? exif_get_slong(e->data, o) : NAN;
    case EXIF_FORMAT_RATIONAL:
        if (e->size >= 8) {
            ExifRational r = exif_get_rational(e->data, o);
            return r.denominator ? (double)r.numerator / r.denominator : NAN;
        }
        return NAN;
    case EXIF_FORMAT_SRATIONAL:
        if (e->size >= 8) {
            ExifSRational r = exif_get_srational(e->data, o);
            return r.denominator ? (double)r.numerator / r.denominator : NAN;
        }
        return NAN;
    default: return NAN;
    }
}

double fathom_dp_exif_f35(const uint8_t *data, size_t size) {
    size_t n = 0;
    const uint8_t *tiff = fathom_exif_find(data, size, &n);
    if (!tiff || n > 0xFFFFFFF0u - 6) return NAN;
    /* libexif takes the JPEG form: "Exif\0\0" then the TIFF header */
    uint8_t *buf = malloc(n + 6); /* owned */
    ExifData *ed = buf ? exif_data_new() : NULL;
    if (!ed) {
        free(buf);
        return NAN;
    }
    memcpy(buf, "Exif\0\0", 6);
    memcpy(buf + 6, tiff, n);
    exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_load_data(ed, buf, (unsigned int)(n + 6));
    double v = tag_value(ed, exif_content_get_entry(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_FOCAL_LENGTH_IN_35MM_FILM));
    exif_data_unref(ed);
    free(buf);
    return v;
}
