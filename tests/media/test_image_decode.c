/* test_image_decode.c - JPEG (EXIF orientations, grey, CMYK), PNG (every colour type, 16-bit,
 * palette + tRNS, eXIf), WebP: real files made with the real encoders, decoded and compared;
 * truncated, corrupt and oversized files give clear errors; fathom_image_load file errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <webp/encode.h>

#include "core/alloc.h"
#include "fathom.h"
#include "media_fixtures.h"
#include "test_util.h"

#define W 48
#define H 32

static void assert_error(fathom_status got, fathom_status want, const char *name) {
    if (got != want)
        fail_msg("expected %s, got %s: %s", fathom_strerror(want), fathom_strerror(got), fathom_last_error());
    if (name && !strstr(fathom_last_error(), name))
        fail_msg("error message does not name '%s': %s", name, fathom_last_error());
}

/* ---------------------------------------------------------------- JPEG */

static void test_jpeg_rgb_all_orientations(void **state) {
    (void)state;
    px_image src = px_quadrants(W, H);
    for (int o = 0; o <= 8; o++) {
        for (int be = 0; be < 2; be++) {
            unsigned char exif[32] = {0};
            size_t elen = o ? exif_blob(exif, o, be) : 0;
            size_t size;
            unsigned char *jpg = jpeg_encode(src.rgb, W, H, JCS_RGB, exif, elen, &size);
            fathom_image img;
            assert_int_equal(fathom_image_decode(jpg, size, "q.jpg", 0, &img), FATHOM_OK);
            px_image copy = px_new(W, H);
            memcpy(copy.rgb, src.rgb, (size_t)W * H * 3);
            px_image want = px_exif(copy, o);
            int d = px_maxdiff(&img, want);
            if (d > 6) fail_msg("orientation %d (%s): %dx%d, max diff %d", o, be ? "MM" : "II", img.width, img.height, d);
            assert_int_equal(img.src_channels, 3);
            assert_int_equal(img.src_bits, 8);
            fathom_image_free(&img);
            assert_null(img.rgb);
            free(want.rgb);
            free(jpg);
            if (!o) break;
        }
    }
    free(src.rgb);
}

static void test_jpeg_grey_and_cmyk(void **state) {
    (void)state;
    unsigned char grey[W * H];
    for (int i = 0; i < W * H; i++) grey[i] = (unsigned char)(i % W < W / 2 ? 40 : 200);
    size_t size;
    unsigned char *jpg = jpeg_encode(grey, W, H, JCS_GRAYSCALE, NULL, 0, &size);
    fathom_image img;
    assert_int_equal(fathom_image_decode(jpg, size, "grey.jpg", 0, &img), FATHOM_OK);
    assert_int_equal(img.src_channels, 1);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const unsigned char *p = img.rgb + y * img.stride + 3 * x;
            assert_true(p[0] == p[1] && p[1] == p[2]);
            assert_true(abs(p[0] - grey[y * W + x]) <= 4);
        }
    fathom_image_free(&img);
    free(jpg);

    /* flat Adobe CMYK: OpenCV maps (c, m, y, k) to R = k - (255 - c) * k / 256 */
    unsigned char cmyk[W * H * 4];
    for (int i = 0; i < W * H; i++) memcpy(cmyk + 4 * i, (unsigned char[]){200, 100, 30, 180}, 4);
    jpg = jpeg_encode(cmyk, W, H, JCS_CMYK, NULL, 0, &size);
    assert_int_equal(fathom_image_decode(jpg, size, "cmyk.jpg", 0, &img), FATHOM_OK);
    assert_int_equal(img.src_channels, 4);
    int want[3] = {180 - ((255 - 200) * 180 >> 8), 180 - ((255 - 100) * 180 >> 8), 180 - ((255 - 30) * 180 >> 8)};
    for (int c = 0; c < 3; c++) assert_true(abs(img.rgb[5 * img.stride + 3 * 7 + c] - want[c]) <= 3);
    fathom_image_free(&img);
    free(jpg);
}

static unsigned char *find_sof(unsigned char *jpg, size_t size) {
    for (size_t i = 2; i + 9 < size; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) return jpg + i;
    return NULL;
}

static void test_jpeg_broken(void **state) {
    (void)state;
    px_image src = px_quadrants(W, H);
    size_t size;
    unsigned char *jpg = jpeg_encode(src.rgb, W, H, JCS_RGB, NULL, 0, &size);
    fathom_image img;
    /* truncated anywhere: header, mid-scan, before EOI */
    size_t cuts[] = {4, 40, size / 2, size - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        assert_error(fathom_image_decode(jpg, cuts[i], "cut.jpg", 0, &img), FATHOM_ERR_FORMAT, "cut.jpg");
        assert_null(img.rgb);
    }
    unsigned char *bad = malloc(size);
    memcpy(bad, jpg, size);
    unsigned char *sof = find_sof(bad, size);
    assert_non_null(sof);
    sof[5] = sof[6] = 0; /* height 0 */
    assert_error(fathom_image_decode(bad, size, "bad.jpg", 0, &img), FATHOM_ERR_FORMAT, "bad.jpg");
    /* declared 60000 x 60000: refused by max_pixels and by the hard cap, before decoding */
    memcpy(bad, jpg, size);
    sof = find_sof(bad, size);
    sof[5] = sof[7] = 0xEA;
    sof[6] = sof[8] = 0x60;
    size_t peak = fathom_alloc_peak();
    assert_error(fathom_image_decode(bad, size, "huge.jpg", 1u << 24, &img), FATHOM_ERR_TOO_LARGE, "huge.jpg");
    assert_error(fathom_image_decode(bad, size, "huge.jpg", 0, &img), FATHOM_ERR_TOO_LARGE, "huge.jpg");
    assert_true(fathom_alloc_peak() == peak);
    /* the real size passes a limit at exactly W * H and fails one pixel below */
    assert_int_equal(fathom_image_decode(jpg, size, "ok.jpg", W * H, &img), FATHOM_OK);
    fathom_image_free(&img);
    assert_error(fathom_image_decode(jpg, size, "ok.jpg", W * H - 1, &img), FATHOM_ERR_TOO_LARGE, "ok.jpg");
    free(bad);
    free(jpg);
    free(src.rgb);
}

/* ---------------------------------------------------------------- PNG */

static void decode_ok(const unsigned char *buf, size_t size, const char *name, fathom_image *img) {
    fathom_status s = fathom_image_decode(buf, size, name, 0, img);
    if (s != FATHOM_OK) fail_msg("%s: %s", name, fathom_last_error());
}

static void test_png_colour_types(void **state) {
    (void)state;
    px_image ref = px_noise(W, H, 7);
    size_t n = (size_t)W * H, size;
    fathom_image img;
    unsigned char *png;

    /* RGB8: exact */
    png = png_encode(ref.rgb, n * 3, W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR, NULL, &size);
    decode_ok(png, size, "rgb8.png", &img);
    assert_int_equal(px_maxdiff(&img, ref), 0);
    assert_int_equal(img.src_channels, 3);
    fathom_image_free(&img);
    free(png);

    /* RGBA8: alpha dropped, colour kept (no compositing) */
    unsigned char *rgba = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        memcpy(rgba + 4 * i, ref.rgb + 3 * i, 3);
        rgba[4 * i + 3] = (unsigned char)(i * 13);
    }
    png = png_encode(rgba, n * 4, W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, NULL, &size);
    decode_ok(png, size, "rgba8.png", &img);
    assert_int_equal(px_maxdiff(&img, ref), 0);
    assert_int_equal(img.src_channels, 4);
    fathom_image_free(&img);
    free(png);

    /* grey8 and grey+alpha8: grey replicated to three channels */
    unsigned char *grey = malloc(n * 2);
    px_image gref = px_new(W, H);
    for (size_t i = 0; i < n; i++) {
        grey[i] = ref.rgb[3 * i];
        memset(gref.rgb + 3 * i, grey[i], 3);
    }
    png = png_encode(grey, n, W, H, 8, SPNG_COLOR_TYPE_GRAYSCALE, NULL, &size);
    decode_ok(png, size, "grey8.png", &img);
    assert_int_equal(px_maxdiff(&img, gref), 0);
    assert_int_equal(img.src_channels, 1);
    fathom_image_free(&img);
    free(png);
    for (size_t i = 0; i < n; i++) {
        grey[2 * i] = ref.rgb[3 * i];
        grey[2 * i + 1] = (unsigned char)i;
    }
    png = png_encode(grey, n * 2, W, H, 8, SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, NULL, &size);
    decode_ok(png, size, "ga8.png", &img);
    assert_int_equal(px_maxdiff(&img, gref), 0);
    assert_int_equal(img.src_channels, 2);
    fathom_image_free(&img);
    free(png);

    /* RGB16 and grey16: value >> 8, as cv2.imread(IMREAD_COLOR) */
    uint16_t *w16 = malloc(n * 3 * sizeof *w16);
    for (size_t i = 0; i < n * 3; i++) w16[i] = (uint16_t)(ref.rgb[i] << 8 | (255 - ref.rgb[i]));
    png = png_encode(w16, n * 6, W, H, 16, SPNG_COLOR_TYPE_TRUECOLOR, NULL, &size);
    decode_ok(png, size, "rgb16.png", &img);
    assert_int_equal(px_maxdiff(&img, ref), 0);
    assert_int_equal(img.src_bits, 16);
    fathom_image_free(&img);
    free(png);
    for (size_t i = 0; i < n; i++) w16[i] = (uint16_t)(gref.rgb[3 * i] << 8 | 0xFF);
    png = png_encode(w16, n * 2, W, H, 16, SPNG_COLOR_TYPE_GRAYSCALE, NULL, &size);
    decode_ok(png, size, "grey16.png", &img);
    assert_int_equal(px_maxdiff(&img, gref), 0);
    assert_int_equal(img.src_bits, 16);
    fathom_image_free(&img);
    free(png);

    /* palette with tRNS: palette colours, transparency ignored */
    struct spng_plte plte = {.n_entries = 16};
    struct spng_trns trns = {.n_type3_entries = 16};
    for (int i = 0; i < 16; i++) {
        plte.entries[i].red = (uint8_t)(i * 16);
        plte.entries[i].green = (uint8_t)(255 - i * 9);
        plte.entries[i].blue = (uint8_t)(i * 5);
        trns.type3_alpha[i] = (uint8_t)(i * 17);
    }
    unsigned char *idx = malloc(n);
    px_image pref = px_new(W, H);
    for (size_t i = 0; i < n; i++) {
        idx[i] = (unsigned char)((i * 7) % 16);
        pref.rgb[3 * i] = plte.entries[idx[i]].red;
        pref.rgb[3 * i + 1] = plte.entries[idx[i]].green;
        pref.rgb[3 * i + 2] = plte.entries[idx[i]].blue;
    }
    png_extra x = {&plte, &trns, NULL, 0};
    png = png_encode(idx, n, W, H, 8, SPNG_COLOR_TYPE_INDEXED, &x, &size);
    decode_ok(png, size, "pal.png", &img);
    assert_int_equal(px_maxdiff(&img, pref), 0);
    fathom_image_free(&img);
    free(png);

    /* eXIf orientation 6 on a PNG */
    unsigned char exif[32];
    exif_blob(exif, 6, 0);
    png_extra xe = {NULL, NULL, exif + 6, 26};
    png = png_encode(ref.rgb, n * 3, W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR, &xe, &size);
    decode_ok(png, size, "exif.png", &img);
    px_image copy = px_new(W, H);
    memcpy(copy.rgb, ref.rgb, n * 3);
    px_image rot = px_exif(copy, 6);
    assert_int_equal(px_maxdiff(&img, rot), 0);
    fathom_image_free(&img);
    free(rot.rgb);
    free(png);

    free(idx);
    free(pref.rgb);
    free(w16);
    free(grey);
    free(gref.rgb);
    free(rgba);
    free(ref.rgb);
}

static uint32_t crc32_png(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void test_png_broken(void **state) {
    (void)state;
    px_image ref = px_noise(W, H, 3);
    size_t size;
    unsigned char *png = png_encode(ref.rgb, (size_t)W * H * 3, W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR, NULL, &size);
    fathom_image img;
    size_t cuts[] = {9, 30, size / 2, size - 16, size - 12}; /* the last two keep every pixel */
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
        assert_error(fathom_image_decode(png, cuts[i], "cut.png", 0, &img), FATHOM_ERR_FORMAT, "cut.png");
    unsigned char *bad = malloc(size);
    memcpy(bad, png, size);
    bad[size / 2] ^= 0x55; /* inside IDAT: CRC mismatch */
    assert_error(fathom_image_decode(bad, size, "crc.png", 0, &img), FATHOM_ERR_FORMAT, "crc.png");
    free(bad);

    /* a valid header declaring 100000 x 100000 RGB, then nothing */
    unsigned char hdr[8 + 25];
    memcpy(hdr, "\x89PNG\r\n\x1a\n", 8);
    put_be32(hdr + 8, 13);
    memcpy(hdr + 12, "IHDR", 4);
    put_be32(hdr + 16, 100000);
    put_be32(hdr + 20, 100000);
    memcpy(hdr + 24, "\x08\x02\x00\x00\x00", 5);
    put_be32(hdr + 29, crc32_png(hdr + 12, 17));
    size_t peak = fathom_alloc_peak();
    assert_error(fathom_image_decode(hdr, sizeof hdr, "bomb.png", 50000000, &img), FATHOM_ERR_TOO_LARGE, "bomb.png");
    assert_error(fathom_image_decode(hdr, sizeof hdr, "bomb.png", 0, &img), FATHOM_ERR_TOO_LARGE, "bomb.png");
    assert_true(fathom_alloc_peak() == peak);
    free(png);
    free(ref.rgb);
}

/* ---------------------------------------------------------------- WebP */

static void test_webp(void **state) {
    (void)state;
    px_image ref = px_noise(W, H, 11);
    uint8_t *out = NULL;
    size_t size = WebPEncodeLosslessRGB(ref.rgb, W, H, W * 3, &out);
    assert_true(size > 0);
    fathom_image img;
    decode_ok(out, size, "ll.webp", &img);
    assert_int_equal(px_maxdiff(&img, ref), 0);
    fathom_image_free(&img);
    assert_error(fathom_image_decode(out, size / 2, "cut.webp", 0, &img), FATHOM_ERR_FORMAT, "cut.webp");
    assert_error(fathom_image_decode(out, 20, "cut.webp", 0, &img), FATHOM_ERR_FORMAT, "cut.webp");
    assert_error(fathom_image_decode(out, size, "ll.webp", W * H - 1, &img), FATHOM_ERR_TOO_LARGE, "ll.webp");
    WebPFree(out);

    /* lossless RGBA: alpha dropped */
    unsigned char *rgba = malloc((size_t)W * H * 4);
    for (int i = 0; i < W * H; i++) {
        memcpy(rgba + 4 * i, ref.rgb + 3 * i, 3);
        rgba[4 * i + 3] = 255; /* libwebp may alter colour under alpha 0 ("exact" off) */
    }
    rgba[3] = 128;
    size = WebPEncodeLosslessRGBA(rgba, W, H, W * 4, &out);
    decode_ok(out, size, "rgba.webp", &img);
    assert_int_equal(img.src_channels, 4);
    assert_int_equal(px_maxdiff(&img, ref), 0);
    fathom_image_free(&img);
    WebPFree(out);
    free(rgba);

    /* extended WebP (VP8X) carrying an EXIF chunk with orientation 8 */
    size = WebPEncodeLosslessRGB(ref.rgb, W, H, W * 3, &out);
    unsigned char exif[32];
    exif_blob(exif, 8, 1);
    size_t ext_size = size + 18 + 8 + 26;
    unsigned char *ext = calloc(1, ext_size);
    memcpy(ext, "RIFF", 4);
    uint32_t riff = (uint32_t)(ext_size - 8);
    memcpy(ext + 4, &riff, 4); /* little-endian host */
    memcpy(ext + 8, "WEBPVP8X", 8);
    ext[16] = 10;
    ext[20] = 0x08; /* EXIF present */
    ext[24] = W - 1;
    ext[27] = H - 1;
    memcpy(ext + 30, out + 12, size - 12); /* the VP8L chunk */
    unsigned char *ec = ext + 30 + size - 12;
    memcpy(ec, "EXIF", 4);
    ec[4] = 26;
    memcpy(ec + 8, exif + 6, 26); /* TIFF data without the "Exif\0\0" prefix */
    decode_ok(ext, ext_size, "exif.webp", &img);
    px_image copy = px_new(W, H);
    memcpy(copy.rgb, ref.rgb, (size_t)W * H * 3);
    px_image rot = px_exif(copy, 8);
    assert_int_equal(px_maxdiff(&img, rot), 0);
    fathom_image_free(&img);
    free(rot.rgb);
    free(ext);
    WebPFree(out);

    /* lossy (4:2:0, so compare the quadrant centres, away from chroma edges) */
    px_image q = px_quadrants(W, H);
    size = WebPEncodeRGB(q.rgb, W, H, W * 3, 100, &out);
    decode_ok(out, size, "lossy.webp", &img);
    assert_int_equal(img.width, W);
    assert_int_equal(img.height, H);
    for (int y = H / 4; y < H; y += H / 2)
        for (int x = W / 4; x < W; x += W / 2)
            for (int c = 0; c < 3; c++)
                assert_true(abs(img.rgb[y * img.stride + 3 * x + c] - q.rgb[(y * W + x) * 3 + c]) <= 8);
    fathom_image_free(&img);
    WebPFree(out);
    free(q.rgb);
    free(ref.rgb);
}

/* ---------------------------------------------------------------- files */

static void test_load_errors(void **state) {
    (void)state;
    char *dir = tu_mkdtemp();
    fathom_image img;
    const char *missing = tu_path(dir, "missing.png");
    assert_error(fathom_image_load(missing, 0, &img), FATHOM_ERR_NOT_FOUND, missing);
    assert_error(fathom_image_load(dir, 0, &img), FATHOM_ERR_INVALID_ARG, dir);
    const char *empty = tu_path(dir, "empty.jpg");
    close(open(empty, O_CREAT | O_WRONLY, 0644));
    assert_error(fathom_image_load(empty, 0, &img), FATHOM_ERR_FORMAT, empty);
    const char *text = tu_path(dir, "notes.jpg");
    FILE *f = fopen(text, "w");
    fputs("this is a text file, not an image\n", f);
    fclose(f);
    fathom_status s = fathom_image_load(text, 0, &img);
    assert_true(s == FATHOM_ERR_FORMAT || s == FATHOM_ERR_UNSUPPORTED);
    assert_non_null(strstr(fathom_last_error(), text));
    if (geteuid() != 0) { /* root reads anything */
        const char *locked = tu_path(dir, "locked.png");
        close(open(locked, O_CREAT | O_WRONLY, 0000));
        assert_error(fathom_image_load(locked, 0, &img), FATHOM_ERR_IO, locked);
    }
    /* a real file loads like its bytes decode */
    px_image ref = px_noise(W, H, 5);
    size_t size;
    unsigned char *png = png_encode(ref.rgb, (size_t)W * H * 3, W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR, NULL, &size);
    const char *good = tu_path(dir, "good.bin"); /* extension is not used */
    f = fopen(good, "wb");
    fwrite(png, 1, size, f);
    fclose(f);
    assert_int_equal(fathom_image_load(good, 0, &img), FATHOM_OK);
    assert_int_equal(px_maxdiff(&img, ref), 0);
    fathom_image_free(&img);
    fathom_image_free(NULL);
    free(png);
    free(ref.rgb);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_rgb_all_orientations),
        cmocka_unit_test(test_jpeg_grey_and_cmyk),
        cmocka_unit_test(test_jpeg_broken),
        cmocka_unit_test(test_png_colour_types),
        cmocka_unit_test(test_png_broken),
        cmocka_unit_test(test_webp),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
