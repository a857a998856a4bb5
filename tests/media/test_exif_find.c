/* test_exif_find.c - fathom_exif_find on each container: the blob is found where the format
 * keeps it (JPEG APP1, PNG eXIf, WebP EXIF after the image chunk, odd-sized chunks padded,
 * TIFF itself), and every truncation or lying length gives NULL without reading past the end
 * (run under ASan in .ci). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "media/exif_find.h"

static const uint8_t tiff[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}; /* odd size: 13 */

static size_t put(uint8_t *d, const void *s, size_t n) {
    memcpy(d, s, n);
    return n;
}
static size_t be32(uint8_t *d, uint32_t v) {
    d[0] = v >> 24, d[1] = v >> 16, d[2] = v >> 8, d[3] = v;
    return 4;
}
static size_t le32(uint8_t *d, uint32_t v) {
    d[0] = v, d[1] = v >> 8, d[2] = v >> 16, d[3] = v >> 24;
    return 4;
}

/* Every shorter prefix of a valid file gives NULL or a blob inside the prefix. */
static void check_prefixes(const uint8_t *f, size_t n) {
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1); /* exact size: ASan sees any over-read */
        memcpy(cut, f, k);
        size_t len = 7;
        const uint8_t *b = fathom_exif_find(cut, k, &len);
        if (b) assert_true(b >= cut && b + len <= cut + k);
        else assert_int_equal(len, 0);
        free(cut);
    }
}

static void expect_blob(const uint8_t *f, size_t n) {
    size_t len = 0;
    const uint8_t *b = fathom_exif_find(f, n, &len);
    assert_non_null(b);
    assert_int_equal(len, sizeof tiff);
    assert_memory_equal(b, tiff, sizeof tiff);
    check_prefixes(f, n);
}

static void test_jpeg(void **s) {
    (void)s;
    uint8_t f[128];
    size_t n = put(f, "\xFF\xD8", 2);
    n += put(f + n, "\xFF\xE0\x00\x04\x00\x00", 6); /* APP0 first */
    n += put(f + n, "\xFF\xE1", 2);
    f[n++] = 0, f[n++] = (uint8_t)(2 + 6 + sizeof tiff);
    n += put(f + n, "Exif\0\0", 6);
    n += put(f + n, tiff, sizeof tiff);
    n += put(f + n, "\xFF\xDA", 2);
    expect_blob(f, n);
}

static void test_png(void **s) {
    (void)s;
    uint8_t f[128];
    size_t n = put(f, "\x89PNG\r\n\x1a\n", 8);
    n += be32(f + n, 13), n += put(f + n, "IHDR", 4), n += 13 + 4; /* contents and CRC unread */
    n += be32(f + n, sizeof tiff), n += put(f + n, "eXIf", 4), n += put(f + n, tiff, sizeof tiff), n += 4;
    expect_blob(f, n);
    /* a chunk length past the end stops the walk */
    uint8_t g[64];
    size_t m = put(g, "\x89PNG\r\n\x1a\n", 8);
    m += be32(g + m, 0xFFFFFFF0u), m += put(g + m, "eXIf", 4), m += put(g + m, tiff, sizeof tiff);
    size_t len = 1;
    assert_null(fathom_exif_find(g, m, &len));
    assert_int_equal(len, 0);
}

static void test_webp(void **s) {
    (void)s;
    uint8_t f[128];
    size_t n = put(f, "RIFF", 4);
    n += 4; /* RIFF size: unread */
    n += put(f + n, "WEBP", 4);
    n += put(f + n, "VP8L", 4), n += le32(f + n, 5), n += 5 + 1; /* odd chunk: one pad byte */
    n += put(f + n, "EXIF", 4), n += le32(f + n, 6 + sizeof tiff);
    n += put(f + n, "Exif\0\0", 6); /* some writers keep the JPEG marker */
    n += put(f + n, tiff, sizeof tiff);
    expect_blob(f, n);
}

static void test_tiff_and_others(void **s) {
    (void)s;
    expect_blob(tiff, sizeof tiff);
    size_t len = 3;
    assert_null(fathom_exif_find((const uint8_t *)"GIF89a....", 10, &len));
    assert_int_equal(len, 0);
    assert_null(fathom_exif_find(NULL, 0, &len));
    /* an eXIf chunk that is not a TIFF blob */
    uint8_t f[64];
    size_t n = put(f, "\x89PNG\r\n\x1a\n", 8);
    n += be32(f + n, 8), n += put(f + n, "eXIf", 4), n += put(f + n, "garbage!", 8), n += 4;
    assert_null(fathom_exif_find(f, n, &len));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_jpeg), cmocka_unit_test(test_png), cmocka_unit_test(test_webp),
                                       cmocka_unit_test(test_tiff_and_others)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
