/* depthpro_exif.c - the EXIF 35 mm-equivalent focal length that overrides Depth Pro's own
 * estimate (official load_rgb: FocalLengthIn35mmFilm from the Exif IFD, used when > 0).
 *
 * JPEG only: the APP1 "Exif" segment is found by walking the markers before the scan. */
#include <libexif/exif-data.h>
#include <math.h>
#include <string.h>

#include "model/depthpro.h"

static double tag_value(ExifData *ed, ExifEntry *e) {
    ExifByteOrder o = exif_data_get_byte_order(ed);
    if (!e || !e->data || e->components < 1) return 0;
    switch (e->format) {
    case EXIF_FORMAT_SHORT: return e->size >= 2 ? exif_get_short(e->data, o) : 0;
    case EXIF_FORMAT_SSHORT: return e->size >= 2 ? exif_get_sshort(e->data, o) : 0;
    case EXIF_FORMAT_LONG: return e->size >= 4 ? (double)exif_get_long(e->data, o) : 0;
    case EXIF_FORMAT_SLONG: return e->size >= 4 ? exif_get_slong(e->data, o) : 0;
    case EXIF_FORMAT_RATIONAL:
        if (e->size >= 8) {
            ExifRational r = exif_get_rational(e->data, o);
            return r.denominator ? (double)r.numerator / r.denominator : 0;
        }
        return 0;
    default: return 0;
    }
}

double fathom_dp_exif_f35(const uint8_t *data, size_t size) {
    if (!data || size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 0;
    size_t p = 2;
    while (p + 4 <= size && data[p] == 0xFF) {
        int marker = data[p + 1];
        if (marker == 0xDA || marker == 0xD9) break; /* start of scan / end: no EXIF after */
        size_t len = (size_t)data[p + 2] << 8 | data[p + 3];
        if (len < 2 || p + 2 + len > size) break;
        const uint8_t *seg = data + p + 4;
        size_t n = len - 2;
        if (marker == 0xE1 && n >= 6 && memcmp(seg, "Exif\0\0", 6) == 0) {
            ExifData *ed = exif_data_new();
            if (!ed) return 0;
            exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
            exif_data_load_data(ed, seg, (unsigned int)n);
            double v = tag_value(ed, exif_content_get_entry(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_FOCAL_LENGTH_IN_35MM_FILM));
            exif_data_unref(ed);
            return v > 0 && isfinite(v) ? v : 0;
        }
        p += 2 + len;
    }
    return 0;
}
