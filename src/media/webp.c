/* webp.c - still WebP decoding with libwebp (lossy and lossless; alpha dropped), with the
 * orientation of an EXIF chunk applied as current cv2.imread does. */
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

#include "core/status.h"
#include "media/image.h"

static uint32_t rd_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walk the RIFF chunks for "EXIF" (extended WebP); 1 when absent. The payload is TIFF data,
 * sometimes preceded by "Exif\0\0". */
static int webp_orientation(const uint8_t *data, size_t size) {
    size_t off = 12;
    while (off + 8 <= size) {
        size_t len = rd_le32(data + off + 4);
        if (len > size - off - 8) return 1;
        const uint8_t *payload = data + off + 8;
        if (memcmp(data + off, "EXIF", 4) == 0 && len >= 8 && len <= 0xFFF0) {
            if (memcmp(payload, "Exif\0\0", 6) == 0) return fathom_exif_orientation(payload, len);
            uint8_t *buf = malloc(len + 6); /* owned: "Exif\0\0" + TIFF data, as libexif wants */
            if (!buf) return 1;
            memcpy(buf, "Exif\0\0", 6);
            memcpy(buf + 6, payload, len);
            int o = fathom_exif_orientation(buf, len + 6);
            free(buf);
            return o;
        }
        off += 8 + len + (len & 1);
    }
    return 1;
}

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
    int o = webp_orientation(data, size);
    return o != 1 ? fathom_image_orient(out, o, name) : FATHOM_OK;
}
