/* tiff_probe.c - tell an unsupported TIFF from a corrupt one.
 * FFmpeg's TIFF decoder fails on floating-point and other sample formats it does not handle
 * with AVERROR_INVALIDDATA, the same code as for broken data; reading the first IFD's
 * SampleFormat and BitsPerSample tags lets the message say "unsupported" instead. */
#include <stdint.h>
#include <string.h>

#include "media/image.h"

static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

const char *fathom_tiff_unsupported(const uint8_t *p, size_t n) {
    if (n < 8) return NULL;
    int le = !memcmp(p, "II*\0", 4);
    if (!le && memcmp(p, "MM\0*", 4)) return NULL; /* not a classic TIFF */
    uint32_t ifd = rd32(p + 4, le);
    if (ifd > n || n - ifd < 2) return NULL;
    unsigned count = rd16(p + ifd, le);
    unsigned fmt = 1, bits = 0;
    for (unsigned i = 0; i < count && ifd + 2 + 12 * (size_t)(i + 1) <= n; i++) {
        const uint8_t *e = p + ifd + 2 + 12 * i;
        unsigned tag = rd16(e, le), type = rd16(e + 2, le);
        /* the first value, stored inline (SHORT: first 2 bytes; LONG: 4) */
        unsigned v = type == 3 ? rd16(e + 8, le) : type == 4 ? rd32(e + 8, le) : 0;
        if (rd32(e + 4, le) > (type == 3 ? 2u : 1u)) { /* several values: at an offset */
            uint32_t off = rd32(e + 8, le);
            if (type == 3 && off <= n - 2) v = rd16(p + off, le);
            else continue;
        }
        if (tag == 339) fmt = v;
        if (tag == 258) bits = v;
    }
    if (fmt == 3) return "floating-point samples (convert to 8- or 16-bit integer)";
    if (fmt == 2 && bits > 16) return "signed integer samples over 16 bits";
    if (bits == 32 || bits == 64) return "32/64-bit integer samples";
    return NULL;
}
