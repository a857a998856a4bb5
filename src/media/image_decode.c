/* image_decode.c - fathom_image_decode: sniff the format from magic bytes, run its decoder.
 * Also the shared size checks and the pixel buffer allocation of every decoder. */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "media/image.h"

fathom_status fathom_image_check_dims(const char *name, int64_t w, int64_t h, uint64_t max_pixels) {
    if (w <= 0 || h <= 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: invalid image dimensions %lldx%lld", name,
                           (long long)w, (long long)h);
    uint64_t pixels = (uint64_t)w * (uint64_t)h; /* both < 2^32 in every format we read */
    if (max_pixels && pixels > max_pixels)
        return fathom_fail(FATHOM_ERR_TOO_LARGE,
                           "%s: image is %lldx%lld = %llu pixels, over the limit of %llu", name,
                           (long long)w, (long long)h, (unsigned long long)pixels,
                           (unsigned long long)max_pixels);
    if (w > INT32_MAX / 4 || h > INT32_MAX / 4 || pixels * 3 > FATHOM_IMAGE_MAX_BYTES)
        return fathom_fail(FATHOM_ERR_TOO_LARGE,
                           "%s: image is %lldx%lld, over the %llu-byte decode cap", name,
                           (long long)w, (long long)h, (unsigned long long)FATHOM_IMAGE_MAX_BYTES);
    return FATHOM_OK;
}

fathom_status fathom_image_alloc(const char *name, int w, int h, fathom_image *out) {
    FATHOM_TRY(fathom_image_check_dims(name, w, h, 0));
    size_t stride = (size_t)w * 3;
    out->rgb = fathom_alloc(stride * (size_t)h);
    if (!out->rgb)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate %dx%d RGB image", name, w, h);
    out->width = w;
    out->height = h;
    out->stride = stride;
    return FATHOM_OK;
}

void fathom_image_free(fathom_image *img) {
    if (!img) return;
    fathom_free_sized(img->rgb, img->stride * (size_t)img->height);
    memset(img, 0, sizeof *img);
}

fathom_status fathom_image_decode(const void *data, size_t size, const char *name,
                                  uint64_t max_pixels, fathom_image *out) {
    if (!out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_image_decode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!data && size) return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: data is NULL", name);
    if (size == 0) return fathom_fail(FATHOM_ERR_FORMAT, "%s: empty image data", name);
    const uint8_t *p = data;
    fathom_status s;
    if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        s = fathom_jpeg_decode(p, size, name, max_pixels, out);
    else if (size >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        s = fathom_png_decode(p, size, name, max_pixels, out);
    else if (size >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        s = fathom_webp_decode(p, size, name, max_pixels, out);
    else
        s = fathom_ffimage_decode(p, size, name, max_pixels, out);
    if (s != FATHOM_OK) fathom_image_free(out);
    return s;
}
