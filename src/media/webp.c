/* webp.c - still WebP decoding with libwebp (lossy and lossless; alpha dropped). */
#include <webp/decode.h>

#include "core/status.h"
#include "media/image.h"

fathom_status fathom_webp_decode(const uint8_t *data, size_t size, const char *name,
                                 uint64_t max_pixels, fathom_image *out) {
    WebPBitstreamFeatures f;
    VP8StatusCode r = WebPGetFeatures(data, size, &f);
    if (r != VP8_STATUS_OK)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: corrupt WebP header (libwebp status %d)", name,
                           (int)r);
    if (f.has_animation)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: animated WebP is not a still image", name);
    FATHOM_TRY(fathom_image_check_dims(name, f.width, f.height, max_pixels));
    FATHOM_TRY(fathom_image_alloc(name, f.width, f.height, out));
    out->src_bits = 8;
    out->src_channels = f.has_alpha ? 4 : 3;
    size_t bytes = out->stride * (size_t)out->height;
    if (!WebPDecodeRGBInto(data, size, out->rgb, bytes, (int)out->stride))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: corrupt or truncated WebP data", name);
    return FATHOM_OK;
}
