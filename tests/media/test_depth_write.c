/* test_depth_write.c - every depth output format written and read back with independent
 * readers (numpy for npy/npz and run.py's normalization, libspng for PNG, OpenEXR C API);
 * raw outputs never normalized; invert, constant and non-finite maps, range overrides;
 * argument errors, missing parent directories, read-only directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fathom.h"
#include "test_util.h"
#include "write_readback.h"

#define H 37
#define W 53
#define N (H * W)

static char *dir;
static float depth[N];
static const char *py; /* python3 with numpy, or NULL */

static int setup(void **state) {
    (void)state;
    dir = tu_mkdtemp();
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) depth[y * W + x] = 0.37f + 3.1f * sinf(0.21f * x) * cosf(0.13f * y) + 0.01f * y;
    py = numpy_python();
    if (!py) { /* python3-numpy is a test dependency (scripts/install-deps.sh): never skip silently */
        fprintf(stderr, "FAIL: no python3 with numpy for the read-backs\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void write_ok(const char *path, fathom_output_format fmt, const float *d, const fathom_write_opts *o) {
    fathom_status s = fathom_depth_write(path, fmt, d, H, W, o);
    if (s != FATHOM_OK) fail_msg("%s: %s", path, fathom_last_error());
}

static const char *raw_dump(const char *name, const float *d) {
    const char *p = tu_path(dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(d, sizeof(float), N, f);
    fclose(f);
    return p;
}

static void range_of(const float *d, float *lo, float *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < N; i++)
        if (isfinite(d[i])) {
            *lo = fminf(*lo, d[i]);
            *hi = fmaxf(*hi, d[i]);
        }
}

static void test_ext_and_args(void **state) {
    (void)state;
    assert_string_equal(fathom_output_ext(FATHOM_OUT_NPY), "npy");
    assert_string_equal(fathom_output_ext(FATHOM_OUT_NPZ), "npz");
    assert_string_equal(fathom_output_ext(FATHOM_OUT_PNG16), "png");
    assert_string_equal(fathom_output_ext(FATHOM_OUT_PNG8), "png");
    assert_string_equal(fathom_output_ext(FATHOM_OUT_COLOR), "png");
    assert_string_equal(fathom_output_ext(FATHOM_OUT_EXR), "exr");
    assert_null(fathom_output_ext(FATHOM_OUT_NPY | FATHOM_OUT_EXR));
    const char *p = tu_path(dir, "x.npy");
    assert_int_equal(fathom_depth_write(p, FATHOM_OUT_NPY | FATHOM_OUT_PNG8, depth, H, W, NULL), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_depth_write(p, FATHOM_OUT_NPY, depth, 0, W, NULL), FATHOM_ERR_SHAPE);
    assert_int_equal(fathom_depth_write(p, FATHOM_OUT_NPY, NULL, H, W, NULL), FATHOM_ERR_INVALID_ARG);
    fathom_write_opts o = {.colormap = (fathom_colormap)99};
    assert_int_equal(fathom_depth_write(p, FATHOM_OUT_COLOR, depth, H, W, &o), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_depth_write(tu_path(dir, "sub/"), FATHOM_OUT_NPY, depth, H, W, NULL), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_npy_raw(void **state) {
    (void)state;
    float d[N];
    memcpy(d, depth, sizeof d);
    d[0] = NAN;
    d[1] = -INFINITY;
    d[2] = -5.5f;
    /* invert and a range override must not touch raw outputs */
    fathom_write_opts o = {.invert = 1, .norm_min = 0.0f, .norm_max = 1.0f};
    const char *p = tu_path(dir, "deep/er/raw.npy"); /* parents are created */
    write_ok(p, FATHOM_OUT_NPY, d, &o);
    int64_t shape[8];
    int nd;
    size_t count;
    float *back = tu_load_npy(p, shape, &nd, &count);
    assert_non_null(back);
    assert_int_equal(nd, 2);
    assert_int_equal(shape[0], H);
    assert_int_equal(shape[1], W);
    assert_memory_equal(back, d, sizeof d);
    free(back);
    if (py)
        assert_int_equal(run_python(py,
            "import sys, numpy as np; a = np.load(sys.argv[1]); r = np.fromfile(sys.argv[2], dtype='<f4').reshape(37, 53);"
            "assert a.dtype == np.float32 and a.shape == (37, 53) and a.flags.c_contiguous;"
            "assert np.array_equal(a, r, equal_nan=True)", p, raw_dump("raw.f32", d)), 0);
}

static void test_npz(void **state) {
    (void)state;
    if (!py) skip();
    float d[N];
    memcpy(d, depth, sizeof d);
    d[7] = NAN;
    fathom_write_opts o = {.invert = 1};
    const char *p = tu_path(dir, "d.npz");
    write_ok(p, FATHOM_OUT_NPZ, d, &o);
    assert_int_equal(run_python(py,
        "import sys, zipfile, numpy as np; z = np.load(sys.argv[1]); assert list(z.keys()) == ['depth'];"
        "a = z['depth']; r = np.fromfile(sys.argv[2], dtype='<f4').reshape(37, 53);"
        "assert a.dtype == np.float32 and np.array_equal(a, r, equal_nan=True);"
        "i = zipfile.ZipFile(sys.argv[1]).getinfo('depth.npy'); assert i.compress_type == zipfile.ZIP_DEFLATED, i",
        p, raw_dump("npz.f32", d)), 0);
}

static void test_png16(void **state) {
    (void)state;
    const char *p = tu_path(dir, "d16.png");
    write_ok(p, FATHOM_OUT_PNG16, depth, NULL);
    png_back b;
    assert_int_equal(png_read_back(p, &b), 0);
    assert_int_equal(b.ihdr.bit_depth, 16);
    assert_int_equal(b.ihdr.color_type, SPNG_COLOR_TYPE_GRAYSCALE);
    assert_int_equal(b.ihdr.width, W);
    assert_int_equal(b.ihdr.height, H);
    float lo, hi;
    range_of(depth, &lo, &hi);
    const uint16_t *q = b.px;
    int seen0 = 0, seen_max = 0;
    for (int i = 0; i < N; i++) {
        double want = (depth[i] - (double)lo) / ((double)hi - lo) * 65535.0;
        if (fabs(q[i] - want) > 0.51) fail_msg("pixel %d: %u, want %.2f", i, q[i], want);
        seen0 |= q[i] == 0;
        seen_max |= q[i] == 65535;
    }
    assert_true(seen0 && seen_max);
    assert_float_equal(strtof(png_text(&b, "min"), NULL), lo, 0);
    assert_float_equal(strtof(png_text(&b, "max"), NULL), hi, 0);
    assert_string_equal(png_text(&b, "units"), "relative-disparity");
    assert_string_equal(png_text(&b, "invert"), "0");
    assert_true(strncmp(png_text(&b, "Software"), "fathom ", 7) == 0);
    uint16_t *plain = b.px;

    /* metric: meters are small for near, so near = bright flips the codes ... */
    fathom_write_opts om = {.metric = 1};
    write_ok(p, FATHOM_OUT_PNG16, depth, &om);
    png_back bm;
    assert_int_equal(png_read_back(p, &bm), 0);
    const uint16_t *qm = bm.px;
    for (int i = 0; i < N; i++) assert_int_equal(qm[i], 65535 - plain[i]);
    assert_string_equal(png_text(&bm, "units"), "meters");
    assert_string_equal(png_text(&bm, "invert"), "0");
    free(bm.px);
    /* ... and invert + metric (near = dark) gives the plain codes back */
    fathom_write_opts o = {.invert = 1, .metric = 1};
    write_ok(p, FATHOM_OUT_PNG16, depth, &o);
    png_back bi;
    assert_int_equal(png_read_back(p, &bi), 0);
    const uint16_t *qi = bi.px;
    for (int i = 0; i < N; i++) assert_int_equal(qi[i], plain[i]);
    assert_string_equal(png_text(&bi, "units"), "meters");
    assert_string_equal(png_text(&bi, "invert"), "1");
    free(bi.px);
    free(b.px);
}

/* png8 codes equal run.py's ((d - min) / (max - min) * 255.0).astype(np.uint8) */
static void test_png8_like_run_py(void **state) {
    (void)state;
    const char *p = tu_path(dir, "d8.png");
    write_ok(p, FATHOM_OUT_PNG8, depth, NULL);
    png_back b;
    assert_int_equal(png_read_back(p, &b), 0);
    assert_int_equal(b.ihdr.bit_depth, 8);
    assert_int_equal(b.ihdr.color_type, SPNG_COLOR_TYPE_GRAYSCALE);
    const uint8_t *q = b.px;
    float lo, hi;
    range_of(depth, &lo, &hi);
    for (int i = 0; i < N; i++) assert_int_equal(q[i], (uint8_t)((depth[i] - lo) / (hi - lo) * 255.0f));
    if (py) {
        const char *codes = tu_path(dir, "codes.u8");
        FILE *f = fopen(codes, "wb");
        fwrite(q, 1, N, f);
        fclose(f);
        assert_int_equal(run_python(py,
            "import sys, numpy as np; d = np.fromfile(sys.argv[1], dtype='<f4').reshape(37, 53);"
            "q = np.fromfile(sys.argv[2], dtype=np.uint8).reshape(37, 53);"
            "r = ((d - d.min()) / (d.max() - d.min()) * 255.0).astype(np.uint8);"
            "assert np.array_equal(q, r), np.abs(q.astype(int) - r).max()",
            raw_dump("p8.f32", depth), codes), 0);
    }
    free(b.px);
}

static void test_color(void **state) {
    (void)state;
    const char *p8 = tu_path(dir, "c8.png"), *pc = tu_path(dir, "color.png");
    png_back b8;
    write_ok(p8, FATHOM_OUT_PNG8, depth, NULL);
    assert_int_equal(png_read_back(p8, &b8), 0);
    const uint8_t *code = b8.px;
    /* matplotlib endpoints: Spectral_r #5e4fa2..#9e0142, inferno, turbo; gray = identity */
    static const uint8_t ends[4][2][3] = {{{94, 79, 162}, {158, 1, 66}},
                                          {{0, 0, 3}, {252, 254, 164}},
                                          {{48, 18, 59}, {122, 4, 2}},
                                          {{0, 0, 0}, {255, 255, 255}}};
    for (int cm = 0; cm < 4; cm++)
        for (int inv = 0; inv < 2; inv++) {
            fathom_write_opts o = {.colormap = (fathom_colormap)cm, .invert = inv};
            write_ok(pc, FATHOM_OUT_COLOR, depth, &o);
            png_back b;
            assert_int_equal(png_read_back(pc, &b), 0);
            assert_int_equal(b.ihdr.color_type, SPNG_COLOR_TYPE_TRUECOLOR);
            assert_int_equal(b.ihdr.bit_depth, 8);
            const uint8_t *rgb = b.px;
            for (int i = 0; i < N; i++) {
                int c = inv ? 255 - code[i] : code[i];
                if (c == 0 || c == 255) assert_memory_equal(rgb + 3 * i, ends[cm][c == 255], 3);
                if (cm == 3) assert_true(rgb[3 * i] == c && rgb[3 * i + 1] == c && rgb[3 * i + 2] == c);
                /* same code, same colour */
                for (int j = 0; j < i && j < 64; j++)
                    if (code[j] == code[i]) assert_memory_equal(rgb + 3 * i, rgb + 3 * j, 3);
            }
            assert_non_null(png_text(&b, "colormap"));
            free(b.px);
        }
    free(b8.px);
}

static void test_constant_nonfinite_override(void **state) {
    (void)state;
    float d[N];
    for (int i = 0; i < N; i++) d[i] = 2.5f;
    const char *p = tu_path(dir, "k.png");
    png_back b;
    for (int fmt = 0; fmt < 2; fmt++) {
        write_ok(p, fmt ? FATHOM_OUT_PNG16 : FATHOM_OUT_PNG8, d, NULL);
        assert_int_equal(png_read_back(p, &b), 0);
        for (size_t i = 0; i < b.px_len; i++) assert_int_equal(((uint8_t *)b.px)[i], 0);
        free(b.px);
    }
    /* NaN -> 0, +Inf -> top, -Inf -> 0; the range comes from finite values */
    memcpy(d, depth, sizeof d);
    d[0] = NAN;
    d[1] = INFINITY;
    d[2] = -INFINITY;
    write_ok(p, FATHOM_OUT_PNG16, d, NULL);
    assert_int_equal(png_read_back(p, &b), 0);
    const uint16_t *q = b.px;
    assert_int_equal(q[0], 0);
    assert_int_equal(q[1], 65535);
    assert_int_equal(q[2], 0);
    float lo, hi;
    range_of(d, &lo, &hi); /* finite values only */
    assert_float_equal(strtof(png_text(&b, "min"), NULL), lo, 0);
    assert_float_equal(strtof(png_text(&b, "max"), NULL), hi, 0);
    free(b.px);
    /* all NaN: zeros, no crash */
    for (int i = 0; i < N; i++) d[i] = NAN;
    write_ok(p, FATHOM_OUT_PNG8, d, NULL);
    assert_int_equal(png_read_back(p, &b), 0);
    for (size_t i = 0; i < b.px_len; i++) assert_int_equal(((uint8_t *)b.px)[i], 0);
    free(b.px);
    /* override: fixed 0..2 range, values outside clamp */
    fathom_write_opts o = {.norm_min = 0.0f, .norm_max = 2.0f};
    write_ok(p, FATHOM_OUT_PNG16, depth, &o);
    assert_int_equal(png_read_back(p, &b), 0);
    q = b.px;
    for (int i = 0; i < N; i++) {
        double t = fmin(fmax(depth[i] / 2.0, 0.0), 1.0) * 65535.0;
        assert_true(fabs(q[i] - t) <= 0.51);
    }
    assert_string_equal(png_text(&b, "min"), "0");
    assert_string_equal(png_text(&b, "max"), "2");
    free(b.px);
}

static void test_exr(void **state) {
    (void)state;
    float d[N];
    memcpy(d, depth, sizeof d);
    d[5] = NAN;
    d[6] = -INFINITY;
    d[N - 1] = 1e30f;
    fathom_write_opts o = {.invert = 1, .norm_min = 0, .norm_max = 1, .metric = 1};
    const char *p = tu_path(dir, "z.exr");
    write_ok(p, FATHOM_OUT_EXR, d, &o);
    int h = 0, w = 0, comp = -1;
    char chan[16] = "", units[32] = "";
    float *back = exr_read_back(p, &h, &w, chan, &comp, units);
    assert_string_equal(units, "meters");
    assert_non_null(back);
    assert_int_equal(h, H);
    assert_int_equal(w, W);
    assert_string_equal(chan, "depth.Z");
    assert_int_equal(comp, EXR_COMPRESSION_ZIP);
    assert_memory_equal(back, d, sizeof d);
    free(back);
}

static int count_temps(const char *d) {
    DIR *dd = opendir(d);
    if (!dd) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(dd));) n += strstr(e->d_name, "fathom-tmp") != NULL;
    closedir(dd);
    return n;
}

static void test_unwritable(void **state) {
    (void)state;
    /* a file where a parent directory should be */
    const char *blocker = tu_path(dir, "blocker");
    FILE *f = fopen(blocker, "w");
    fclose(f);
    const char *under = tu_path(dir, "blocker/x/d.npy");
    fathom_status s = fathom_depth_write(under, FATHOM_OUT_NPY, depth, H, W, NULL);
    assert_int_not_equal(s, FATHOM_OK);
    assert_non_null(strstr(fathom_last_error(), "blocker"));

    /* read-only directory holding a previous output: chmod for users, a read-only tmpfs for
     * root (root ignores permission bits) */
    const char *ro = tu_path(dir, "ro");
    mkdir(ro, 0755);
    int root = geteuid() == 0, mounted = 0;
    if (root) {
        if (mount("none", ro, "tmpfs", 0, "size=256k") != 0) {
            fprintf(stderr, "note: cannot mount tmpfs (%s): read-only case skipped\n", strerror(errno));
            return;
        }
        mounted = 1;
    }
    const char *prev = tu_path(ro, "d.png");
    write_ok(prev, FATHOM_OUT_PNG16, depth, NULL);
    struct stat st0;
    stat(prev, &st0);
    if (root) assert_int_equal(mount("none", ro, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=256k"), 0);
    else chmod(ro, 0555);
    fathom_output_format fmts[] = {FATHOM_OUT_NPY, FATHOM_OUT_NPZ, FATHOM_OUT_PNG16, FATHOM_OUT_EXR};
    for (int i = 0; i < 4; i++) {
        s = fathom_depth_write(prev, fmts[i], depth, H, W, NULL);
        if (s != FATHOM_ERR_IO) fail_msg("format %d: %s: %s", (int)fmts[i], fathom_strerror(s), fathom_last_error());
        assert_non_null(strstr(fathom_last_error(), prev));
    }
    struct stat st1;
    stat(prev, &st1);
    assert_int_equal(st0.st_size, st1.st_size);
    assert_int_equal(st0.st_ino, st1.st_ino);
    assert_int_equal(count_temps(ro), 0);
    if (mounted) umount2(ro, MNT_DETACH);
    else chmod(ro, 0755);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ext_and_args),
        cmocka_unit_test(test_npy_raw),
        cmocka_unit_test(test_npz),
        cmocka_unit_test(test_png16),
        cmocka_unit_test(test_png8_like_run_py),
        cmocka_unit_test(test_color),
        cmocka_unit_test(test_constant_nonfinite_override),
        cmocka_unit_test(test_exr),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
