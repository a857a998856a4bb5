/* test_cuda_prepost.c - the CUDA pre/post-processing path and runtime entries against their C
 * twins: preprocess (fathom_preprocess, float64, at 1e-4), depth resize (fathom_resize_depth),
 * min/max + 8/16-bit codes (media/normalize.c, bit-exact, with NaN/Inf), colormaps
 * (fathom_colormap_apply, exact), CUDA graph capture/replay, pinned async copies, the memory
 * limit and the error for a missing device. SKIP without a CUDA build or device. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cuda_test_common.h"
#include "media/colormap.h"
#include "media/normalize.h"

#ifdef FATHOM_HAVE_CUDA

static fathom_backend *be; /* owned by the test group */

static int setup(void **state) {
    (void)state;
    be = ct_backend(FATHOM_PRECISION_DEFAULT);
    return be ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fathom_backend_free(&be);
    return 0;
}

static void *dalloc(size_t bytes) {
    void *d = NULL;
    assert_int_equal(be->ops->alloc(be, &d, bytes), FATHOM_OK);
    return d;
}

static void up(void *d, const void *h, size_t bytes) {
    assert_int_equal(be->ops->upload(be, d, h, bytes), FATHOM_OK);
}

static void down(void *h, const void *d, size_t bytes) {
    assert_int_equal(be->ops->sync(be), FATHOM_OK);
    assert_int_equal(be->ops->download(be, h, d, bytes), FATHOM_OK);
}

static void check_preprocess(int B, int h0, int w0, int pad, int net_h, int net_w) {
    size_t stride = (size_t)w0 * 3 + pad, img = (size_t)h0 * stride;
    size_t plane = (size_t)net_h * net_w, no = (size_t)B * 3 * plane;
    uint8_t *rgb = malloc(B * img);
    float *ref = malloc(no * sizeof *ref), *out = malloc(no * sizeof *out);
    assert_non_null(rgb);
    assert_non_null(ref);
    assert_non_null(out);
    uint32_t s = 12345u + (uint32_t)h0;
    for (size_t i = 0; i < B * img; i++) {
        s = s * 1664525u + 1013904223u;
        rgb[i] = (uint8_t)(s >> 24);
    }
    for (int b = 0; b < B; b++)
        assert_int_equal(fathom_preprocess(rgb + b * img, h0, w0, stride, net_h, net_w,
                                           ref + b * 3 * plane),
                         FATHOM_OK);
    uint8_t *drgb = dalloc(B * img);
    float *dout = dalloc(no * sizeof(float));
    up(drgb, rgb, B * img);
    fathom_cuda_preprocess(be, dout, drgb, B, h0, w0, stride, net_h, net_w);
    down(out, dout, no * sizeof(float));
    tu_diff d = tu_compare(out, ref, no);
    printf("cuda preprocess %dx%d -> %dx%d (B %d): max|d| %.3g\n", h0, w0, net_h, net_w, B, d.max_abs);
    assert_int_equal(d.nonfinite, 0);
    assert_true(d.max_abs < 1e-4);
    be->ops->free(be, drgb, B * img);
    be->ops->free(be, dout, no * sizeof(float));
    free(rgb), free(ref), free(out);
}

static void test_preprocess(void **state) {
    (void)state;
    check_preprocess(2, 61, 83, 5, 518, 700);  /* upscale, padded rows */
    check_preprocess(1, 300, 200, 0, 518, 350); /* mixed */
    check_preprocess(1, 1080, 1920, 0, 518, 924); /* downscale (a 1080p frame) */
    check_preprocess(1, 1, 1, 1, 14, 14);
}

static void test_resize_depth(void **state) {
    (void)state;
    int cases[][4] = {{518, 700, 61, 83}, {518, 518, 1080, 1920}, {14, 14, 1, 1}, {37, 49, 37, 49}};
    for (int c = 0; c < 4; c++) {
        int h = cases[c][0], w = cases[c][1], h0 = cases[c][2], w0 = cases[c][3], B = 2;
        size_t ni = (size_t)h * w, no = (size_t)h0 * w0;
        float *in = malloc(B * ni * sizeof *in), *ref = malloc(B * no * sizeof *ref);
        float *out = malloc(B * no * sizeof *out);
        assert_non_null(in);
        assert_non_null(ref);
        assert_non_null(out);
        tu_fill_random(in, B * ni, 70 + c, 10.0f);
        for (int b = 0; b < B; b++) fathom_resize_depth(in + b * ni, h, w, ref + b * no, h0, w0);
        float *din = dalloc(B * ni * sizeof(float)), *dout = dalloc(B * no * sizeof(float));
        up(din, in, B * ni * sizeof(float));
        fathom_cuda_resize_depth(be, dout, din, B, h, w, h0, w0);
        down(out, dout, B * no * sizeof(float));
        assert_true(tu_check("cuda resize_depth", out, ref, B * no, 1e-6, -1));
        be->ops->free(be, din, B * ni * sizeof(float));
        be->ops->free(be, dout, B * no * sizeof(float));
        free(in), free(ref), free(out);
    }
}

static void test_quantize_colormap(void **state) {
    (void)state;
    const int B = 3;
    const size_t n = 70001;
    float *d = malloc(B * n * sizeof *d);
    assert_non_null(d);
    tu_fill_random(d, B * n, 90, 50.0f);
    d[5] = NAN, d[6] = INFINITY, d[7] = -INFINITY;           /* image 0: non-finite values */
    for (size_t i = 0; i < n; i++) d[n + i] = 3.25f;          /* image 1: constant */
    for (size_t i = 0; i < n; i++) d[2 * n + i] = NAN;        /* image 2: nothing finite */
    float *dd = dalloc(B * n * sizeof(float)), *drange = dalloc(B * 2 * sizeof(float));
    uint8_t *d8 = dalloc(B * n), *drgb = dalloc(B * n * 3), *dlut = dalloc(256 * 3);
    uint16_t *d16 = dalloc(B * n * 2);
    up(dd, d, B * n * sizeof(float));
    up(dlut, fathom_lut_turbo, 256 * 3);
    fathom_cuda_minmax(be, drange, dd, B, n);
    float range[2 * 3];
    down(range, drange, sizeof range);
    uint8_t *q8 = malloc(B * n), *r8 = malloc(B * n), *rgb = malloc(B * n * 3), *rrgb = malloc(B * n * 3);
    uint16_t *q16 = malloc(B * n * 2), *r16 = malloc(B * n * 2);
    assert_non_null(q8), assert_non_null(r8), assert_non_null(rgb), assert_non_null(rrgb);
    assert_non_null(q16), assert_non_null(r16);
    for (int invert = 0; invert < 2; invert++) {
        for (int b = 0; b < B; b++) {
            float lo, hi;
            fathom_norm_range(d + b * n, n, NULL, &lo, &hi);
            assert_memory_equal(&lo, &range[2 * b], sizeof lo);
            assert_memory_equal(&hi, &range[2 * b + 1], sizeof hi);
            fathom_normalize_u8(d + b * n, n, lo, hi, invert, r8 + b * n);
            fathom_normalize_u16(d + b * n, n, lo, hi, invert, r16 + b * n);
        }
        fathom_cuda_quantize_u8(be, d8, dd, drange, B, n, invert);
        fathom_cuda_quantize_u16(be, d16, dd, drange, B, n, invert);
        fathom_cuda_colormap(be, drgb, d8, dlut, B * n);
        down(q8, d8, B * n);
        down(q16, d16, B * n * 2);
        down(rgb, drgb, B * n * 3);
        assert_memory_equal(q8, r8, B * n);
        assert_memory_equal(q16, r16, B * n * 2);
        fathom_colormap_apply(fathom_lut_turbo, r8, B * n, rrgb);
        assert_memory_equal(rgb, rrgb, B * n * 3);
    }
    be->ops->free(be, dd, B * n * sizeof(float));
    be->ops->free(be, drange, B * 2 * sizeof(float));
    be->ops->free(be, d8, B * n), be->ops->free(be, drgb, B * n * 3), be->ops->free(be, dlut, 768);
    be->ops->free(be, d16, B * n * 2);
    free(d), free(q8), free(r8), free(rgb), free(rrgb), free(q16), free(r16);
}

/* Capture add + depth_act once, replay twice on new inputs uploaded through pinned memory. */
static void test_graph_and_async(void **state) {
    (void)state;
    const size_t n = 4099;
    float *ha = NULL, *hb = NULL;
    assert_int_equal(fathom_cuda_host_alloc(be, (void **)&ha, n * sizeof(float)), FATHOM_OK);
    assert_int_equal(fathom_cuda_host_alloc(be, (void **)&hb, n * sizeof(float)), FATHOM_OK);
    float *da = dalloc(n * sizeof(float)), *db = dalloc(n * sizeof(float));
    float *dout = dalloc(n * sizeof(float));
    long long key = fathom_graph_key(1, 14, 28);
    assert_int_equal(fathom_cuda_graph_launch(be, key), FATHOM_ERR_NOT_FOUND);
    assert_int_equal(fathom_cuda_graph_begin(be), FATHOM_OK);
    be->ops->add(be, dout, da, db, n);
    be->ops->depth_act(be, dout, n, 0, 0.0f);
    assert_int_equal(fathom_cuda_graph_end(be, key), FATHOM_OK);
    for (int round = 0; round < 2; round++) {
        tu_fill_random(ha, n, 100 + round, 1.0f);
        tu_fill_random(hb, n, 200 + round, 1.0f);
        assert_int_equal(fathom_cuda_upload_async(be, da, ha, n * sizeof(float)), FATHOM_OK);
        assert_int_equal(fathom_cuda_upload_async(be, db, hb, n * sizeof(float)), FATHOM_OK);
        assert_int_equal(fathom_cuda_graph_launch(be, key), FATHOM_OK);
        float *want = malloc(n * sizeof *want);
        assert_non_null(want);
        for (size_t i = 0; i < n; i++) want[i] = fmaxf(ha[i] + hb[i], 0.0f);
        assert_int_equal(fathom_cuda_copy_wait(be), FATHOM_OK); /* uploads done: reuse ha */
        assert_int_equal(fathom_cuda_download_async(be, ha, dout, n * sizeof(float)), FATHOM_OK);
        assert_int_equal(fathom_cuda_copy_wait(be), FATHOM_OK);
        assert_memory_equal(ha, want, n * sizeof(float));
        free(want);
    }
    be->ops->free(be, da, n * sizeof(float)), be->ops->free(be, db, n * sizeof(float));
    be->ops->free(be, dout, n * sizeof(float));
    fathom_cuda_host_free(be, ha);
    fathom_cuda_host_free(be, hb);
}

static void test_limits_and_errors(void **state) {
    (void)state;
    fathom_backend *small = NULL;
    /* the backend's own workspace and scratch (96 MiB) already exceed a 32 MiB limit */
    assert_int_equal(ct_create(0, FATHOM_PRECISION_FP32, 32u << 20, &small),
                     FATHOM_ERR_NOMEM);
    assert_null(small);
    printf("limit: %s\n", fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "gpu-mem-limit"));
    assert_int_equal(ct_create(0, FATHOM_PRECISION_FP32, 200u << 20, &small),
                     FATHOM_OK);
    void *p = NULL;
    assert_int_equal(small->ops->alloc(small, &p, 150u << 20), FATHOM_ERR_NOMEM);
    assert_null(p);
    assert_int_equal(small->ops->alloc(small, &p, 50u << 20), FATHOM_OK);
    small->ops->free(small, p, 50u << 20);
    fathom_backend_free(&small);

    int n = ct_device_count();
    assert_int_equal(ct_create(n, FATHOM_PRECISION_DEFAULT, 0, &small),
                     FATHOM_ERR_DEVICE);
    assert_null(small);
    printf("missing device: %s\n", fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "no such device"));
    assert_int_not_equal(fathom_cuda_precision(be), FATHOM_PRECISION_DEFAULT);
}

int main(void) {
    ct_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preprocess),        cmocka_unit_test(test_resize_depth),
        cmocka_unit_test(test_quantize_colormap), cmocka_unit_test(test_graph_and_async),
        cmocka_unit_test(test_limits_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

#else

int main(void) {
    ct_require_device(); /* prints SKIP: built without CUDA */
    return 77;
}

#endif
