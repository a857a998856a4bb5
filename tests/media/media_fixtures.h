/* media_fixtures.h - test-only helpers: encode real images with the real encoders, reference
 * pixel transforms written the way OpenCV composes them, pixel comparison. Header-only so each
 * test program stays one .c file. */
#ifndef FATHOM_TEST_MEDIA_FIXTURES_H
#define FATHOM_TEST_MEDIA_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <spng.h>

typedef struct px_image {
    int w, h;
    unsigned char *rgb; /* owned: w * h * 3 */
} px_image;

static inline px_image px_new(int w, int h) {
    px_image p = {w, h, calloc((size_t)w * h * 3, 1)};
    return p;
}

/* Four flat quadrants (red, green, blue, white) so a lossy round trip stays close and any
 * flip or rotation moves a recognizable colour. */
static inline px_image px_quadrants(int w, int h) {
    static const unsigned char col[4][3] = {{220, 30, 30}, {30, 200, 40}, {40, 50, 210}, {240, 240, 240}};
    px_image p = px_new(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(p.rgb + 3 * ((size_t)y * w + x), col[(y >= h / 2) * 2 + (x >= w / 2)], 3);
    return p;
}

/* Deterministic noisy pattern for lossless formats. */
static inline px_image px_noise(int w, int h, unsigned seed) {
    px_image p = px_new(w, h);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        seed = seed * 1103515245u + 12345u;
        p.rgb[i] = (unsigned char)(seed >> 16);
    }
    return p;
}

/* OpenCV cv::flip / cv::transpose, used to build the expected EXIF results. */
static inline px_image px_flip(px_image in, int code) { /* 1: left-right, 0: top-bottom, -1: both */
    px_image o = px_new(in.w, in.h);
    for (int y = 0; y < in.h; y++)
        for (int x = 0; x < in.w; x++) {
            int sy = code <= 0 ? in.h - 1 - y : y, sx = code != 0 ? in.w - 1 - x : x;
            memcpy(o.rgb + 3 * ((size_t)y * o.w + x), in.rgb + 3 * ((size_t)sy * in.w + sx), 3);
        }
    free(in.rgb);
    return o;
}
static inline px_image px_transpose(px_image in) {
    px_image o = px_new(in.h, in.w);
    for (int y = 0; y < o.h; y++)
        for (int x = 0; x < o.w; x++)
            memcpy(o.rgb + 3 * ((size_t)y * o.w + x), in.rgb + 3 * ((size_t)x * in.w + y), 3);
    free(in.rgb);
    return o;
}
/* OpenCV ExifTransform. Takes ownership of in. */
static inline px_image px_exif(px_image in, int o) {
    switch (o) {
    case 2: return px_flip(in, 1);
    case 3: return px_flip(in, -1);
    case 4: return px_flip(in, 0);
    case 5: return px_transpose(in);
    case 6: return px_flip(px_transpose(in), 1);
    case 7: return px_flip(px_transpose(in), -1);
    case 8: return px_flip(px_transpose(in), 0);
    default: return in;
    }
}

/* Largest |a - b| over the image; 999 when the sizes differ. */
static inline int px_maxdiff(const fathom_image *a, px_image b) {
    if (a->width != b.w || a->height != b.h) return 999;
    int m = 0;
    for (int y = 0; y < b.h; y++)
        for (int x = 0; x < 3 * b.w; x++) {
            int d = abs((int)a->rgb[(size_t)y * a->stride + x] - (int)b.rgb[(size_t)y * 3 * b.w + x]);
            m = d > m ? d : m;
        }
    return m;
}

/* A minimal EXIF APP1 payload with one Orientation entry, little or big endian. */
static inline size_t exif_blob(unsigned char out[32], int orientation, int big_endian) {
    static const unsigned char le[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
                                       0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                                       0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(out, big_endian ? be : le, 32);
    out[big_endian ? 25 : 24] = (unsigned char)orientation; /* low byte of the SHORT value */
    return 32;
}

/* JPEG with libjpeg: quality 100, 4:4:4. in_space JCS_RGB (3 comps), JCS_GRAYSCALE (1) or
 * JCS_CMYK (4). exif_len > 0 adds an APP1 segment. Returns malloc'd bytes. */
static inline unsigned char *jpeg_encode(const unsigned char *px, int w, int h, J_COLOR_SPACE in_space,
                                  const unsigned char *exif, size_t exif_len, size_t *size) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = in_space == JCS_GRAYSCALE ? 1 : in_space == JCS_CMYK ? 4 : 3;
    c.in_color_space = in_space;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    if (exif_len) jpeg_write_marker(&c, JPEG_APP0 + 1, exif, (unsigned)exif_len);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * c.input_components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *size = len;
    return buf;
}

typedef struct png_extra {
    const struct spng_plte *plte;
    const struct spng_trns *trns;
    const unsigned char *exif; /* TIFF data (no "Exif\0\0") */
    size_t exif_len;
} png_extra;

/* PNG with libspng from samples in PNG layout (16-bit host-endian). Returns malloc'd bytes. */
static inline unsigned char *png_encode(const void *px, size_t px_len, int w, int h, int depth, int ctype,
                                 const png_extra *x, size_t *size) {
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ih = {(uint32_t)w, (uint32_t)h, (uint8_t)depth, (uint8_t)ctype, 0, 0, 0};
    spng_set_ihdr(ctx, &ih);
    if (x && x->plte) spng_set_plte(ctx, (struct spng_plte *)x->plte);
    if (x && x->trns) spng_set_trns(ctx, (struct spng_trns *)x->trns);
    if (x && x->exif) {
        struct spng_exif e = {x->exif_len, (char *)x->exif};
        spng_set_exif(ctx, &e);
    }
    int r = spng_encode_image(ctx, px, px_len, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    int err = 0;
    unsigned char *buf = r == 0 ? spng_get_png_buffer(ctx, size, &err) : NULL;
    if (r) fprintf(stderr, "png_encode: %s\n", spng_strerror(r));
    spng_ctx_free(ctx);
    return buf;
}

#endif
