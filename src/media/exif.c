/* exif.c - the EXIF orientation tag of a JPEG APP1 segment, read with libexif. */
#include <libexif/exif-data.h>

#include "media/image.h"

int fathom_exif_orientation(const uint8_t *app1, size_t size) {
    if (!app1 || size < 6 || size > 0xFFFF) return 1;
    ExifData *ed = exif_data_new();
    if (!ed) return 1;
    /* only read: do not let libexif "fix" (rewrite) the data it loads */
    exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_load_data(ed, app1, (unsigned int)size);
    int o = 1;
    ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data && e->size >= 2) {
        int v = exif_get_short(e->data, exif_data_get_byte_order(ed));
        if (v >= 1 && v <= 8) o = v;
    }
    exif_data_unref(ed);
    return o;
}
