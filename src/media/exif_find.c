/* exif_find.c - the EXIF blob of JPEG, PNG, WebP and TIFF files, by walking each container's
 * segments or chunks (no decoding). HEIF/AVIF keep EXIF as an item of the ISO-BMFF meta box;
 * the image decoders here do not read those files' metadata, so neither does this. */
#include "media/exif_find.h"

#include <string.h>

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

static int is_tiff(const uint8_t *p, size_t n) {
    return n >= 8 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0);
}

/* A blob that some writers prefix with the JPEG "Exif\0\0" marker: skip it. */
static const uint8_t *tiff_at(const uint8_t *p, size_t n, size_t *len) {
    if (n >= 6 && memcmp(p, "Exif\0\0", 6) == 0) p += 6, n -= 6;
    if (!is_tiff(p, n)) return NULL;
    *len = n;
    return p;
}

static const uint8_t *jpeg(const uint8_t *d, size_t n, size_t *len) {
    size_t p = 2;
    while (p + 4 <= n && d[p] == 0xFF) {
        int marker = d[p + 1];
        if (marker == 0xDA || marker == 0xD9) break; /* start of scan / end: no EXIF after */
        size_t seg = (size_t)d[p + 2] << 8 | d[p + 3];
        if (seg < 2 || p + 2 + seg > n) break;
        if (marker == 0xE1 && seg - 2 >= 6 && memcmp(d + p + 4, "Exif\0\0", 6) == 0) return tiff_at(d + p + 4, seg - 2, len);
        p += 2 + seg;
    }
    return NULL;
}

static const uint8_t *png(const uint8_t *d, size_t n, size_t *len) {
    size_t p = 8;
    while (p + 12 <= n) {
        size_t clen = be32(d + p);
        const uint8_t *type = d + p + 4;
        if (clen > n - p - 12) break;
        if (memcmp(type, "eXIf", 4) == 0) return tiff_at(d + p + 8, clen, len);
        if (memcmp(type, "IEND", 4) == 0) break;
        p += 12 + clen;
    }
    return NULL;
}

static const uint8_t *webp(const uint8_t *d, size_t n, size_t *len) {
    size_t p = 12;
    while (p + 8 <= n) {
        size_t clen = le32(d + p + 4);
        if (clen > n - p - 8) break;
        if (memcmp(d + p, "EXIF", 4) == 0) return tiff_at(d + p + 8, clen, len);
        p += 8 + clen + (clen & 1);
    }
    return NULL;
}

const uint8_t *fathom_exif_find(const uint8_t *d, size_t n, size_t *len) {
    *len = 0;
    if (!d) return NULL;
    if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8) return jpeg(d, n, len);
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return png(d, n, len);
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return webp(d, n, len);
    if (is_tiff(d, n)) {
        *len = n;
        return d;
    }
    return NULL;
}
