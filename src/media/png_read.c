/* png_read.c - PNG decoding with libspng, as cv2.imread(IMREAD_COLOR) does it: every colour
 * type (grey, grey+alpha, RGB, RGBA, palette, tRNS, 1..16 bits) to RGB8; alpha dropped
 * without compositing; 16-bit samples reduced as value >> 8 (libspng's RGB8 conversion);
 * no gamma correction; the orientation of an eXIf chunk applied. */
#include <stdlib.h>
#include <string.h>

#include <spng.h>

#include "core/status.h"
#include "media/image.h"

/* Ancillary chunks (text, ICC, ...) are bounded so a hostile file cannot make us buffer GBs. */
#define PNG_CHUNK_LIMIT ((size_t)64 << 20)

static int png_orientation(spng_ctx *ctx) {
    struct spng_exif ex;
    if (spng_get_exif(ctx, &ex) != 0 || !ex.data || ex.length < 8 || ex.length > 0xFFF0) return 1;
    uint8_t *buf = malloc(ex.length + 6); /* owned: "Exif\0\0" + TIFF data, as libexif wants */
    if (!buf) return 1;
    memcpy(buf, "Exif\0\0", 6);
    memcpy(buf + 6, ex.data, ex.length);
    int o = fathom_exif_orientation(buf, ex.length + 6);
    free(buf);
    return o;
}

fathom_status fathom_png_decode(const uint8_t *data, size_t size, const char *name,
                                uint64_t max_pixels, fathom_image *out) {
    fathom_status s = FATHOM_OK;
    spng_ctx *ctx = spng_ctx_new(0); /* owned */
    if (!ctx) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot create PNG decoder", name);
    spng_set_chunk_limits(ctx, PNG_CHUNK_LIMIT, PNG_CHUNK_LIMIT);
    int r = spng_set_png_buffer(ctx, data, size);
    struct spng_ihdr ihdr;
    if (r == 0) r = spng_get_ihdr(ctx, &ihdr);
    if (r != 0) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: corrupt PNG header: %s", name, spng_strerror(r));
        goto done;
    }
    s = fathom_image_check_dims(name, ihdr.width, ihdr.height, max_pixels);
    if (s != FATHOM_OK) goto done;
    size_t need = 0;
    r = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &need);
    if (r == 0 && need != (size_t)ihdr.width * ihdr.height * 3) r = SPNG_EINTERNAL;
    if (r != 0) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: PNG cannot be converted to RGB: %s", name,
                        spng_strerror(r));
        goto done;
    }
    s = fathom_image_alloc(name, (int)ihdr.width, (int)ihdr.height, out);
    if (s != FATHOM_OK) goto done;
    r = spng_decode_image(ctx, out->rgb, need, SPNG_FMT_RGB8, 0);
    /* read on to IEND: a file cut after its pixel data is still truncated (cv2 refuses it) */
    if (r == 0) r = spng_decode_chunks(ctx);
    if (r != 0) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: corrupt PNG data: %s", name, spng_strerror(r));
        goto done;
    }
    static const int channels[7] = {1, 0, 3, 3, 2, 0, 4}; /* by PNG colour type */
    out->src_bits = ihdr.bit_depth == 16 ? 16 : 8;
    out->src_channels = ihdr.color_type <= 6 && channels[ihdr.color_type] ? channels[ihdr.color_type] : 3;
    int o = png_orientation(ctx);
    if (o != 1) s = fathom_image_orient(out, o, name);
done:
    spng_ctx_free(ctx);
    return s;
}
