/* test_depthpro_ops.c - the Depth Pro ops of the CPU backend against their plain-C twins
 * (ref_depthpro.c), on random data and on the shapes the model uses plus odd ones (1-pixel
 * and very wide inputs, up- and downscaling, scale factors). The resize must match bit for
 * bit: both run the same float32 operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "backend/cpu/ref_ops.h"
#include "test_util.h"

static fathom_backend *be;

static void check_resize(int P, int Hi, int Wi, int Ho, int Wo, float isy, float isx) {
    float *in = tu_random_alloc((size_t)P * Hi * Wi, 7, 1.0f);
    float *a = malloc((size_t)P * Ho * Wo * sizeof(float)), *b = malloc((size_t)P * Ho * Wo * sizeof(float));
    fathom_ref_resize_bilinear_pt(a, in, P, Hi, Wi, Ho, Wo, isy, isx);
    be->ops->resize_bilinear_pt(be, b, in, P, Hi, Wi, Ho, Wo, isy, isx);
    assert_memory_equal(a, b, (size_t)P * Ho * Wo * sizeof(float));
    free(in), free(a), free(b);
}

static void test_resize(void **s) {
    (void)s;
    check_resize(3, 100, 140, 1536, 1536, 0, 0);  /* the golden input stretch */
    check_resize(3, 1536, 1536, 768, 768, 2, 2);  /* pyramid x1 */
    check_resize(3, 1536, 1536, 384, 384, 4, 4);  /* pyramid x2 */
    check_resize(1, 1536, 1536, 100, 140, 0, 0);  /* output resize */
    check_resize(3, 1, 1, 1536, 1536, 0, 0);      /* 1x1 image */
    check_resize(1, 1536, 1536, 1, 1, 0, 0);
    check_resize(3, 2, 9000, 1536, 1536, 0, 0);   /* very wide */
    check_resize(1, 1536, 1536, 3, 20000, 0, 0);
}

static void test_resize_values(void **s) {
    (void)s;
    /* x2 of the pyramid is the mean of the central 2x2 of each 4x4 block (README) */
    float in[16], out[1];
    for (int i = 0; i < 16; i++) in[i] = (float)(i * i);
    fathom_ref_resize_bilinear_pt(out, in, 1, 4, 4, 1, 1, 4, 4);
    assert_true(out[0] == 0.25f * ((in[5] + in[6]) + (in[9] + in[10])));
    /* a constant stays constant through any stretch */
    float c[6] = {2, 2, 2, 2, 2, 2}, o[35];
    fathom_ref_resize_bilinear_pt(o, c, 1, 2, 3, 5, 7, 0, 0);
    for (int i = 0; i < 35; i++) assert_true(o[i] == 2.0f);
}

static void test_crop_merge(void **s) {
    (void)s;
    const int C = 5, N = 1536, T = 384;
    float *x = tu_random_alloc((size_t)C * N * N, 3, 1.0f);
    size_t nt = (size_t)25 * C * T * T;
    float *a = malloc(nt * sizeof(float)), *b = malloc(nt * sizeof(float));
    fathom_ref_crop_tiles(a, x, C, N, N, T, 288, 5);
    be->ops->crop_tiles(be, b, x, C, N, N, T, 288, 5);
    assert_memory_equal(a, b, nt * sizeof(float));
    /* tile (4, 4) starts at (1152, 1152) */
    assert_true(a[(size_t)24 * C * T * T] == x[(size_t)1152 * N + 1152]);
    /* merge: 5 x 5 tiles of 24, pad 3 -> 96; 3 x 3, pad 6 -> 48 */
    const int g = 24;
    float *tiles = tu_random_alloc((size_t)25 * C * g * g, 5, 1.0f);
    float *m1 = malloc((size_t)C * 96 * 96 * sizeof(float)), *m2 = malloc((size_t)C * 96 * 96 * sizeof(float));
    fathom_ref_merge_tiles(m1, tiles, C, g, 5, 3);
    be->ops->merge_tiles(be, m2, tiles, C, g, 5, 3);
    assert_memory_equal(m1, m2, (size_t)C * 96 * 96 * sizeof(float));
    /* output cell (21, 21) is tile (1, 1)'s cell (3, 3): the first tile keeps 21 rows */
    assert_true(m1[21 * 96 + 21] == tiles[(size_t)6 * C * g * g + 3 * g + 3]);
    fathom_ref_merge_tiles(m1, tiles, C, g, 3, 6);
    be->ops->merge_tiles(be, m2, tiles, C, g, 3, 6);
    assert_memory_equal(m1, m2, (size_t)C * 48 * 48 * sizeof(float));
    assert_true(m1[47 * 48 + 47] == tiles[(size_t)8 * C * g * g + 23 * g + 23]);
    free(x), free(a), free(b), free(tiles), free(m1), free(m2);
}

int main(void) {
    if (fathom_backend_cpu_create(2, &be) != FATHOM_OK) return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_resize), cmocka_unit_test(test_resize_values),
                                       cmocka_unit_test(test_crop_merge)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fathom_backend_free(&be);
    return rc;
}
