/* test_image_ffmpeg.c - still images decoded through FFmpeg: BMP, TIFF (8 and 16 bit), PPM, GIF
 * and AVIF files made by the ffmpeg CLI, compared with the source pixels; truncated and oversized
 * files; a video handed over as an image is refused. SKIPs when the ffmpeg CLI is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "core/alloc.h"
#include "fathom.h"
#include "media_fixtures.h"
#include "test_util.h"

#define W 40
#define H 24

static char *dir;
static px_image ref;

static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* ffmpeg -i <in> <args> out; returns the output path */
static const char *convert_from(const char *in, const char *out, const char *args) {
    const char *dst = tu_path(dir, out);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' %s '%s'", tu_path(dir, in), args, dst);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
    return dst;
}

static const char *convert(const char *out, const char *args) { return convert_from("src.ppm", out, args); }

static int setup(void **state) {
    (void)state;
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) tu_skip("ffmpeg CLI not installed");
    dir = tu_mkdtemp();
    ref = px_noise(W, H, 21);
    FILE *f = fopen(tu_path(dir, "src.ppm"), "wb");
    fprintf(f, "P6\n%d %d\n255\n", W, H);
    fwrite(ref.rgb, 1, (size_t)W * H * 3, f);
    fclose(f);
    /* 16-bit twin: high byte = ref, low byte = 255 - ref (rounding instead of >> 8 would
     * show); PPM stores big-endian samples */
    f = fopen(tu_path(dir, "src16.ppm"), "wb");
    fprintf(f, "P6\n%d %d\n65535\n", W, H);
    for (int i = 0; i < W * H * 3; i++) {
        unsigned char be[2] = {ref.rgb[i], (unsigned char)(255 - ref.rgb[i])};
        fwrite(be, 1, 2, f);
    }
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    free(ref.rgb);
    return 0;
}

static void check_exact(const char *path, int want_bits) {
    fathom_image img;
    fathom_status s = fathom_image_load(path, 0, &img);
    if (s != FATHOM_OK) fail_msg("%s: %s", path, fathom_last_error());
    int d = px_maxdiff(&img, ref);
    if (d != 0) fail_msg("%s: max diff %d", path, d);
    assert_int_equal(img.src_bits, want_bits);
    fathom_image_free(&img);
}

static void test_lossless_formats(void **state) {
    (void)state;
    check_exact(tu_path(dir, "src.ppm"), 8);
    check_exact(convert("a.bmp", ""), 8);
    check_exact(convert("a.tiff", ""), 8);
    check_exact(convert("lzw.tiff", "-compression_algo lzw"), 8);
    /* 16-bit PPM and TIFF: the high byte, as cv2.imread(IMREAD_COLOR) does for 16-bit PNG */
    check_exact(tu_path(dir, "src16.ppm"), 16);
    check_exact(convert_from("src16.ppm", "a16.tiff", "-pix_fmt rgb48le"), 16);
}

static void test_gif(void **state) {
    (void)state;
    fathom_image img;
    const char *gif = convert("a.gif", "");
    assert_int_equal(fathom_image_load(gif, 0, &img), FATHOM_OK);
    assert_int_equal(img.width, W);
    assert_int_equal(img.height, H);
    fathom_image_free(&img);
}

/* AVIF (one AV1 frame in the mov container), when this ffmpeg can encode AV1 */
static void test_avif(void **state) {
    (void)state;
    if (system("ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libaom-av1") != 0) skip();
    px_image q = px_quadrants(W * 2, H * 2);
    FILE *f = fopen(tu_path(dir, "quad.ppm"), "wb");
    fprintf(f, "P6\n%d %d\n255\n", q.w, q.h);
    fwrite(q.rgb, 1, (size_t)q.w * q.h * 3, f);
    fclose(f);
    const char *avif = convert_from("quad.ppm", "q.avif", "-c:v libaom-av1 -still-picture 1 -crf 10 -frames:v 1");
    fathom_image img;
    fathom_status s = fathom_image_load(avif, 0, &img);
    if (s != FATHOM_OK) fail_msg("%s: %s", avif, fathom_last_error());
    assert_int_equal(img.width, q.w);
    assert_int_equal(img.height, q.h);
    for (int y = q.h / 4; y < q.h; y += q.h / 2) /* quadrant centres, away from chroma edges */
        for (int x = q.w / 4; x < q.w; x += q.w / 2)
            for (int c = 0; c < 3; c++)
                assert_true(abs(img.rgb[y * img.stride + 3 * x + c] - q.rgb[(y * q.w + x) * 3 + c]) <= 10);
    fathom_image_free(&img);
    free(q.rgb);
}

static void test_broken(void **state) {
    (void)state;
    fathom_image img;
    const char *names[] = {"a.bmp", "a.tiff"};
    for (int i = 0; i < 2; i++) {
        size_t size;
        unsigned char *buf = slurp(convert(names[i], ""), &size);
        fathom_status s = fathom_image_decode(buf, size / 2, names[i], 0, &img);
        if (s != FATHOM_ERR_FORMAT) fail_msg("%s cut: %s: %s", names[i], fathom_strerror(s), fathom_last_error());
        assert_non_null(strstr(fathom_last_error(), names[i]));
        assert_null(img.rgb);
        /* over max_pixels */
        s = fathom_image_decode(buf, size, names[i], W * H - 1, &img);
        if (s != FATHOM_ERR_TOO_LARGE) fail_msg("%s limit: %s: %s", names[i], fathom_strerror(s), fathom_last_error());
        free(buf);
    }
    /* BMP headers declaring 12000 x 12000 and 100000 x 100000 x 24 bit: refused before any
     * pixel buffer (the second by FFmpeg's own size check) */
    unsigned char bmp[54 + 16] = {'B', 'M'};
    for (int big = 0; big < 2; big++) {
        uint32_t side = big ? 100000 : 12000;
        uint32_t v[] = {sizeof bmp, 0, 54, 40, side, side};
        for (int i = 0; i < 6; i++) memcpy(bmp + 2 + 4 * i, &v[i], 4);
        bmp[26] = 1;
        bmp[28] = 24;
        size_t peak = fathom_alloc_peak();
        fathom_status s = fathom_image_decode(bmp, sizeof bmp, "bomb.bmp", big ? 0 : 50000000, &img);
        if (big ? s == FATHOM_OK : s != FATHOM_ERR_TOO_LARGE)
            fail_msg("bomb.bmp %u: %s: %s", side, fathom_strerror(s), fathom_last_error());
        assert_non_null(strstr(fathom_last_error(), "bomb.bmp"));
        assert_true(fathom_alloc_peak() == peak);
    }
    /* random bytes: not an image */
    unsigned char junk[256];
    for (int i = 0; i < 256; i++) junk[i] = (unsigned char)(i * 151 + 7);
    fathom_status s = fathom_image_decode(junk, sizeof junk, "junk.bin", 0, &img);
    assert_true(s == FATHOM_ERR_FORMAT || s == FATHOM_ERR_UNSUPPORTED);
    assert_non_null(strstr(fathom_last_error(), "junk.bin"));
}

static void test_video_refused(void **state) {
    (void)state;
    const char *mkv = tu_path(dir, "clip.mkv");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i testsrc=size=64x48:rate=5 -frames:v 3 -c:v ffv1 '%s'", mkv);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
    fathom_image img;
    fathom_status s = fathom_image_load(mkv, 0, &img);
    if (s != FATHOM_ERR_UNSUPPORTED) fail_msg("clip.mkv: %s: %s", fathom_strerror(s), fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "clip.mkv"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossless_formats),
        cmocka_unit_test(test_gif),
        cmocka_unit_test(test_avif),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_video_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
