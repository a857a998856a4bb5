/* image_orient.c - apply an EXIF orientation the way OpenCV's ExifTransform does:
 * 2 flip left-right, 3 rotate 180, 4 flip top-bottom, 5 transpose, 6 rotate 90 clockwise,
 * 7 transverse, 8 rotate 90 counter-clockwise. */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "media/image.h"

/* Source (sy, sx) of output pixel (y, x) for an input of h x w. */
static inline void source_of(int o, int y, int x, int h, int w, int *sy, int *sx) {
    switch (o) {
    case 2: *sy = y; *sx = w - 1 - x; break;
    case 3: *sy = h - 1 - y; *sx = w - 1 - x; break;
    case 4: *sy = h - 1 - y; *sx = x; break;
    case 5: *sy = x; *sx = y; break;
    case 6: *sy = h - 1 - x; *sx = y; break;
    case 7: *sy = h - 1 - x; *sx = w - 1 - y; break;
    case 8: *sy = x; *sx = w - 1 - y; break;
    default: *sy = y; *sx = x; break;
    }
}

fathom_status fathom_image_orient(fathom_image *img, int o, const char *name) {
    if (o <= 1 || o > 8) return FATHOM_OK;
    int h = img->height, w = img->width;
    int transpose = o >= 5;
    fathom_image dst = *img;
    dst.rgb = NULL; /* owned until swapped into img */
    FATHOM_TRY(fathom_image_alloc(name, transpose ? h : w, transpose ? w : h, &dst));
    for (int y = 0; y < dst.height; y++) {
        uint8_t *drow = dst.rgb + (size_t)y * dst.stride;
        for (int x = 0; x < dst.width; x++) {
            int sy, sx;
            source_of(o, y, x, h, w, &sy, &sx);
            memcpy(drow + 3 * x, img->rgb + (size_t)sy * img->stride + 3 * (size_t)sx, 3);
        }
    }
    fathom_free_sized(img->rgb, img->stride * (size_t)img->height);
    *img = dst;
    return FATHOM_OK;
}
