/* test_preprocess.c - network size rule (spec 2.1 step 3), the cv2 INTER_CUBIC preprocessing
 * against every golden case's pixel_values.npy, and the align_corners=True depth resize. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fathom.h"
#include "test_util.h"

static void test_network_size(void **state) {
    (void)state;
    /* (h0, w0) -> (H, W) at 518, from the spec, plus the three golden cases */
    static const int cases[][5] = {
        {480, 640, 518, 518, 686},  {720, 1280, 518, 518, 924},  {1080, 1920, 518, 518, 924},
        {3024, 4032, 518, 518, 686}, {375, 500, 518, 518, 686},  {200, 300, 518, 518, 784},
        {300, 800, 518, 518, 1386}, {1000, 100, 518, 5180, 518}, {518, 518, 518, 518, 518},
        {120, 160, 518, 518, 686},  {131, 97, 518, 700, 518},    {150, 200, 140, 140, 182},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int H = -1, W = -1;
        fathom_network_size(cases[i][0], cases[i][1], cases[i][2], &H, &W);
        if (H != cases[i][3] || W != cases[i][4])
            fail_msg("%dx%d @%d: got %dx%d, want %dx%d", cases[i][0], cases[i][1], cases[i][2], H,
                     W, cases[i][3], cases[i][4]);
    }
    int H, W;
    fathom_network_size(0, 10, 518, &H, &W);
    assert_int_equal(H, 0);
    assert_int_equal(W, 0);
}

/* Every golden case: decode input.png, preprocess, compare with pixel_values.npy. The recipe
 * is bit-exact in double (golden README), so the absolute tolerance 1e-5 is generous. */
static void test_golden_pixel_values(void **state) {
    (void)state;
    const char *g = tu_golden_dir();
    DIR *d = opendir(g);
    assert_non_null(d);
    struct dirent *de;
    int ncase = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        const char *dir = tu_path(g, de->d_name);
        char png[4096], npy[4096];
        snprintf(png, sizeof png, "%s/input.png", dir);
        snprintf(npy, sizeof npy, "%s/pixel_values.npy", dir);
        FILE *f = fopen(npy, "rb");
        if (!f) continue;
        fclose(f);
        int64_t shape[8];
        int ndim;
        size_t n;
        float *ref = tu_load_npy(npy, shape, &ndim, &n);
        assert_non_null(ref);
        assert_int_equal(ndim, 4);
        fathom_image img = {0};
        if (fathom_image_load(png, 0, &img) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        int H, W;
        /* input_size: the one that reproduces the stored network size (518 or 140 here) */
        int sizes[] = {518, 140, 364, 266, 700};
        int found = 0;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] && !found; k++) {
            fathom_network_size(img.height, img.width, sizes[k], &H, &W);
            found = H == shape[2] && W == shape[3];
        }
        if (!found) fail_msg("%s: no input size gives %lldx%lld", de->d_name, (long long)shape[2],
                             (long long)shape[3]);
        float *out = malloc(n * sizeof(float));
        assert_int_equal(fathom_preprocess(img.rgb, img.height, img.width, img.stride, H, W, out),
                         FATHOM_OK);
        double maxd = 0;
        size_t exact = 0;
        for (size_t i = 0; i < n; i++) {
            double dd = fabs((double)out[i] - ref[i]);
            if (dd > maxd) maxd = dd;
            exact += out[i] == ref[i];
        }
        printf("%s: pixel_values %dx%d max|d| %.3g, bit-exact %zu/%zu\n", de->d_name, H, W, maxd,
               exact, n);
        assert_true(maxd <= 1e-5);
        free(out);
        free(ref);
        fathom_image_free(&img);
        ncase++;
    }
    closedir(d);
    if (ncase == 0) {
        printf("SKIP: no pixel_values.npy in this copy of the golden data (%s; the full set is "
               "../shared/golden)\n", g);
        skip();
    }
}

static void test_preprocess_args(void **state) {
    (void)state;
    uint8_t px[12] = {0};
    float out[3 * 14 * 14];
    assert_int_equal(fathom_preprocess(NULL, 2, 2, 6, 14, 14, out), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_preprocess(px, 2, 2, 5, 14, 14, out), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_preprocess(px, 0, 2, 6, 14, 14, out), FATHOM_ERR_SHAPE);
    /* constant image stays constant (weights sum to 1), normalized per channel */
    memset(px, 255, sizeof px);
    assert_int_equal(fathom_preprocess(px, 2, 2, 6, 14, 14, out), FATHOM_OK);
    assert_float_equal(out[0], (1.0 - 0.485) / 0.229, 1e-5);
    assert_float_equal(out[2 * 196 + 195], (1.0 - 0.406) / 0.225, 1e-5);
    /* a 1x1 image upscales to 518x518 without reading outside the source */
    int H, W;
    fathom_network_size(1, 1, 518, &H, &W);
    assert_int_equal(H, 518);
    assert_int_equal(W, 518);
    float *big = malloc(sizeof(float) * 3 * H * W);
    assert_int_equal(fathom_preprocess(px, 1, 1, 3, H, W, big), FATHOM_OK);
    assert_float_equal(big[3 * H * W - 1], (1.0 - 0.406) / 0.225, 1e-5);
    free(big);
    /* an absurd aspect ratio asks for a gigapixel network input: refused, nothing written */
    fathom_network_size(1, 5000, 518, &H, &W);
    assert_int_equal(H, 518);
    assert_int_equal(W, 2590000);
    assert_int_equal(fathom_preprocess(px, 1, 4, 12, H, W, out), FATHOM_ERR_TOO_LARGE);
    /* a size that does not fit an int gives 0, which preprocessing refuses */
    fathom_network_size(1, 100000000, 518, &H, &W);
    assert_int_equal(W, 0);
    assert_int_equal(fathom_preprocess(px, 1, 4, 12, H, W, out), FATHOM_ERR_SHAPE);
}

static void test_resize_depth(void **state) {
    (void)state;
    /* align_corners=True: corners map to corners, same size is a copy */
    float in[6] = {0, 1, 2, 3, 4, 5}; /* 2 x 3 */
    float out[5 * 5];
    fathom_resize_depth(in, 2, 3, out, 5, 5);
    assert_float_equal(out[0], 0, 0);
    assert_float_equal(out[4], 2, 1e-6);
    assert_float_equal(out[20], 3, 1e-6);
    assert_float_equal(out[24], 5, 1e-6);
    assert_float_equal(out[2], 1, 1e-6);      /* column 2 of 5 -> source x 1.0 */
    assert_float_equal(out[12], 2.5f, 1e-6);  /* centre */
    float same[6];
    fathom_resize_depth(in, 2, 3, same, 2, 3);
    assert_memory_equal(same, in, sizeof in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_size),
        cmocka_unit_test(test_golden_pixel_values),
        cmocka_unit_test(test_preprocess_args),
        cmocka_unit_test(test_resize_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
