/* test_ref_ops.c - the plain-C reference ops themselves (the spec the backend-ops harness,
 * tests/ops/test_backend_ops.c, compares every backend against): hand-computed cases, bilinear
 * resize against double-precision interpolation, the vectorized exp / erf / GELU of the CPU
 * kernels against double over dense sweeps, and the backend's memory entries. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"
#include "test_util.h"

static fathom_backend *be; /* owned by the test group */

static int setup(void **state) {
    (void)state;
    return fathom_backend_cpu_create(2, &be) == FATHOM_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fathom_backend_free(&be);
    return be == NULL ? 0 : -1;
}

static float *rnd(size_t n, uint64_t seed, float scale) {
    float *x = tu_random_alloc(n, seed, scale);
    assert_non_null(x);
    return x;
}

static float *buf(size_t n) {
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = NAN; /* ops must write every element */
    return x;
}

/* ---------------- the reference itself, on hand-computed cases ---------------- */

static void test_ref_hand_cases(void **state) {
    (void)state;
    /* linear: [1 2] . [[1 0] [1 1] [2 -1]]^T + [0 1 0] = [1 4 0]; GELU(1) = 0.8413447460685429 */
    float in[2] = {1, 2}, w[6] = {1, 0, 1, 1, 2, -1}, b[3] = {0, 1, 0}, out[3];
    fathom_ref_linear(out, in, w, b, 1, 3, 2, FATHOM_ACT_NONE);
    assert_float_equal(out[0], 1.0f, 0);
    assert_float_equal(out[1], 4.0f, 0);
    assert_float_equal(out[2], 0.0f, 0);
    fathom_ref_linear(out, in, w, NULL, 1, 3, 2, FATHOM_ACT_GELU);
    assert_float_equal(out[0], 0.8413447460685429f, 1e-7);
    assert_float_equal(out[1], 2.9959502f, 1e-6); /* GELU(3) */
    assert_float_equal(fathom_ref_gelu(-1.0f), -0.15865525393145707f, 1e-7);
    /* residual: x = [10 10 10] + gamma [1 0.5 2] * (in.w^T + b) */
    float x[3] = {10, 10, 10}, g[3] = {1, 0.5f, 2};
    fathom_ref_linear_residual(x, in, w, b, g, 1, 3, 2);
    assert_float_equal(x[0], 11.0f, 0);
    assert_float_equal(x[1], 12.0f, 0);
    assert_float_equal(x[2], 10.0f, 0);

    /* layernorm of [1 2 3 4]: mean 2.5, biased var 1.25 */
    float ln_in[4] = {1, 2, 3, 4}, ones[4] = {1, 1, 1, 1}, zeros[4] = {0}, ln[4];
    fathom_ref_layernorm(ln, ln_in, ones, zeros, 1, 4, 0.0f);
    for (int i = 0; i < 4; i++) assert_float_equal(ln[i], (ln_in[i] - 2.5) / sqrt(1.25), 1e-6);

    /* attention, one head, hd 1, L 2: q = 1, k = [0, ln 3] -> softmax [1/4, 3/4];
     * v = [4, 8] -> 7 for query 0. Query 1 has q = 0 -> uniform -> 6. */
    float qkv[6] = {1, 0, 4, 0, logf(3.0f), 8}, att[2];
    fathom_ref_attention(att, qkv, 1, 2, 1, 1, 1.0f);
    assert_float_equal(att[0], 7.0f, 1e-6);
    assert_float_equal(att[1], 6.0f, 1e-6);

    /* conv2d: 1 channel 2x2 input, 2x2 kernel, no pad -> single dot; with pad 1 -> 3x3 */
    float ci[4] = {1, 2, 3, 4}, cw[4] = {1, 10, 100, 1000}, cb[1] = {0.5f}, co[9];
    fathom_ref_conv2d(co, ci, cw, cb, NULL, 1, 1, 2, 2, 1, 2, 1, 0, 0);
    assert_float_equal(co[0], 4321.5f, 0);
    fathom_ref_conv2d(co, ci, cw, NULL, NULL, 1, 1, 2, 2, 1, 2, 1, 1, 0);
    /* top-left output sees only in[0,0] under w[1,1] */
    assert_float_equal(co[0], 1000.0f, 0);
    assert_float_equal(co[4], 4321.0f, 0);
    assert_float_equal(co[8], 4.0f, 0);
    float neg[4] = {-1, 2, -3, 4}, res[1] = {-5000};
    fathom_ref_conv2d(co, neg, cw, NULL, res, 1, 1, 2, 2, 1, 2, 1, 0,
                      FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
    assert_float_equal(co[0], 0.0f, 0); /* 4020 - 5000 -> relu -> 0 */
    fathom_ref_conv2d(co, neg, cw, NULL, NULL, 1, 1, 2, 2, 1, 2, 1, 0, FATHOM_CONV_RELU_IN);
    assert_float_equal(co[0], 4020.0f, 0);

    /* conv_transpose k 2: one input pixel 2, w (1,1,2,2) = [1 2 3 4], b 1 -> [3 5; 7 9] */
    float ti[1] = {2}, tw[4] = {1, 2, 3, 4}, tb[1] = {1}, to[4];
    fathom_ref_conv_transpose(to, ti, tw, tb, 1, 1, 1, 1, 1, 2);
    assert_float_equal(to[0], 3.0f, 0);
    assert_float_equal(to[1], 5.0f, 0);
    assert_float_equal(to[2], 7.0f, 0);
    assert_float_equal(to[3], 9.0f, 0);

    /* bilinear align_corners: [0 1] (1x2) -> 1x3 = [0 0.5 1]; 2x2 -> 3x3 center = mean */
    float ri[4] = {0, 1, 2, 3}, ro[9];
    fathom_ref_resize_bilinear(ro, ri, 1, 1, 2, 1, 3);
    assert_float_equal(ro[1], 0.5f, 0);
    assert_float_equal(ro[2], 1.0f, 0);
    fathom_ref_resize_bilinear(ro, ri, 1, 2, 2, 3, 3);
    assert_float_equal(ro[4], 1.5f, 0);
    assert_float_equal(ro[8], 3.0f, 0);

    /* patchify p 1, 1x2 image: patch i = (r, g, b) of pixel i */
    float img[6] = {1, 2, 3, 4, 5, 6}, pt[6];
    fathom_ref_patchify(pt, img, 1, 1, 2, 1);
    float want_pt[6] = {1, 3, 5, 2, 4, 6};
    for (int i = 0; i < 6; i++) assert_float_equal(pt[i], want_pt[i], 0);

    /* tokens: cls + pos[0], emb + pos[1+t]; then to NCHW drops cls and transposes */
    float emb[4] = {1, 2, 3, 4}, cls[2] = {10, 20}, pos[6] = {1, 1, 2, 2, 3, 3}, tok[6], nchw[4];
    fathom_ref_assemble_tokens(tok, emb, cls, pos, 1, 2, 2);
    float want_tok[6] = {11, 21, 3, 4, 6, 7};
    for (int i = 0; i < 6; i++) assert_float_equal(tok[i], want_tok[i], 0);
    fathom_ref_tokens_to_nchw(nchw, tok, 1, 1, 2, 2);
    float want_nchw[4] = {3, 6, 4, 7};
    for (int i = 0; i < 4; i++) assert_float_equal(nchw[i], want_nchw[i], 0);

    float d[3] = {-1, 0, 2};
    fathom_ref_depth_act(d, 3, 0, 1.0f);
    assert_float_equal(d[0], 0.0f, 0);
    assert_float_equal(d[2], 2.0f, 0);
    float m[2] = {0, -1e4f};
    fathom_ref_depth_act(m, 2, 1, 20.0f);
    assert_float_equal(m[0], 10.0f, 0);
    assert_float_equal(m[1], 0.0f, 0);
}

/* ---------------- vectorized math vs double ---------------- */

static void test_exp_erf_gelu_accuracy(void **state) {
    (void)state;
    /* erf over [-6, 6] every 2^-20 (12.6M points): abs error against double erf */
    double erf_max = 0;
    for (int64_t i = -6 * (1 << 20); i <= 6 * (1 << 20); i++) {
        float x = (float)i / (float)(1 << 20);
        double e = fabs((double)fathom_cpu_erf(x) - erf((double)x));
        if (e > erf_max) erf_max = e;
    }
    /* relative error of exp over the softmax range [-86, 88] */
    double exp_max = 0;
    for (int64_t i = -86 * (1 << 16); i <= 88 * (1 << 16); i++) {
        float x = (float)i / (float)(1 << 16);
        double r = exp((double)x), e = fabs((double)fathom_cpu_exp(x) - r) / r;
        if (e > exp_max) exp_max = e;
    }
    printf("erf max abs error %.3g, exp max rel error %.3g (float eps %.3g)\n", erf_max, exp_max,
           (double)FLT_EPSILON);
    assert_true(erf_max < 1.5e-7);        /* ~2 ulp of values near 1 */
    assert_true(exp_max < 1.5 * FLT_EPSILON); /* ~1 ulp */
    assert_true(fathom_cpu_erf(-10.0f) == -1.0f && fathom_cpu_erf(10.0f) == 1.0f);
    assert_true(fathom_cpu_erf(0.0f) == 0.0f);

    /* the vectorized GELU loop (bias_act) against double GELU over [-10, 10] */
    enum { NG = 1 << 21 };
    float *g = malloc(NG * sizeof *g);
    assert_non_null(g);
    for (int i = 0; i < NG; i++) g[i] = -10.0f + 20.0f * (float)i / NG;
    fathom_cpu_bias_act(g, NULL, NG, FATHOM_ACT_GELU);
    double gmax = 0;
    for (int i = 0; i < NG; i++) {
        double x = -10.0 + 20.0 * (double)(float)i / NG;
        x = (double)(float)(-10.0f + 20.0f * (float)i / NG);
        double want = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        double e = fabs(g[i] - want) / fmax(1.0, fabs(want));
        if (e > gmax) gmax = e;
    }
    printf("gelu max error %.3g (abs below 1, rel above)\n", gmax);
    assert_true(gmax < 3e-7);
    free(g);

    /* exp_shift_sum: the softmax numerator */
    float v[5] = {0, 1, 2, 3, 4};
    float s = fathom_cpu_exp_shift_sum(v, 5, 4.0f);
    double want = 0;
    for (int i = 0; i < 5; i++) want += exp(i - 4.0);
    assert_float_equal(s, want, 1e-6);
    assert_float_equal(v[4], 1.0f, 0);
}

/* ---------------- reference resize vs double ---------------- */

/* align_corners=True interpolated in double. f32_coords: the source coordinate as PyTorch
 * computes it (scale and s = scale * d in float32, spec 8.2); else exact coordinates. */
static double bilinear_double(const float *in, int Hi, int Wi, int Ho, int Wo, int y, int x,
                              int f32_coords) {
    double sy = Ho > 1 ? (double)(Hi - 1) / (Ho - 1) : 0, sx = Wo > 1 ? (double)(Wi - 1) / (Wo - 1) : 0;
    double fy = sy * y, fx = sx * x;
    if (f32_coords) {
        fy = (float)(Ho > 1 ? (float)(Hi - 1) / (float)(Ho - 1) : 0.0f) * (float)y;
        fx = (float)(Wo > 1 ? (float)(Wi - 1) / (float)(Wo - 1) : 0.0f) * (float)x;
    }
    int y0 = (int)floor(fy), x0 = (int)floor(fx);
    if (y0 > Hi - 1) y0 = Hi - 1;
    if (x0 > Wi - 1) x0 = Wi - 1;
    int y1 = y0 < Hi - 1 ? y0 + 1 : y0, x1 = x0 < Wi - 1 ? x0 + 1 : x0;
    double ly = fy - y0, lx = fx - x0;
    return (1 - ly) * ((1 - lx) * in[y0 * Wi + x0] + lx * in[y0 * Wi + x1]) +
           ly * ((1 - lx) * in[y1 * Wi + x0] + lx * in[y1 * Wi + x1]);
}

static void test_ref_resize(void **state) {
    (void)state;
    int cases[][4] = {{19, 19, 37, 37}, {37, 49, 74, 98}, {296, 296, 518, 518}, {37, 30, 19, 23},
                      {1, 5, 4, 1}, {13, 11, 13, 11}};
    int P = 2;
    for (int c = 0; c < 6; c++) {
        int Hi = cases[c][0], Wi = cases[c][1], Ho = cases[c][2], Wo = cases[c][3];
        size_t no = (size_t)P * Ho * Wo;
        float *in = rnd((size_t)P * Hi * Wi, 50 + c, 1.0f), *ref = buf(no);
        float *dbl = buf(no), *exact = buf(no);
        fathom_ref_resize_bilinear(ref, in, P, Hi, Wi, Ho, Wo);
        for (int p = 0; p < P; p++)
            for (int y = 0; y < Ho; y++)
                for (int x = 0; x < Wo; x++) {
                    size_t o = ((size_t)p * Ho + y) * Wo + x;
                    const float *plane = in + (size_t)p * Hi * Wi;
                    dbl[o] = (float)bilinear_double(plane, Hi, Wi, Ho, Wo, y, x, 1);
                    exact[o] = (float)bilinear_double(plane, Hi, Wi, Ho, Wo, y, x, 0);
                }
        /* same float32 coordinates: only the interpolation's own rounding differs */
        assert_true(tu_check("resize ref vs double", ref, dbl, no, 5e-7, -1));
        /* exact coordinates: float32 coordinates are off by up to ~n eps (n = input size),
         * times the slope of the data (<= 2 per pixel for values in [-1, 1]) */
        double coord_tol = 2.0 * (Hi > Wi ? Hi : Wi) * FLT_EPSILON * 2.0;
        assert_true(tu_check("resize ref vs exact", ref, exact, no, coord_tol, -1));
        if (Hi == Ho && Wi == Wo) assert_memory_equal(ref, in, no * sizeof(float)); /* exact copy */
        free(in), free(ref), free(dbl), free(exact);
    }
}

static void test_backend_entries(void **state) {
    (void)state;
    void *p = NULL;
    assert_int_equal(be->ops->alloc(be, &p, 4096), FATHOM_OK);
    float src[4] = {1, 2, 3, 4}, dst[4];
    assert_int_equal(be->ops->upload(be, p, src, sizeof src), FATHOM_OK);
    assert_int_equal(be->ops->download(be, dst, p, sizeof dst), FATHOM_OK);
    assert_memory_equal(src, dst, sizeof src);
    assert_int_equal(be->ops->reserve_scratch(be, 1 << 20), FATHOM_OK);
    assert_int_equal(be->ops->sync(be), FATHOM_OK);
    be->ops->free(be, p, 4096);
    be->ops->free(be, NULL, 0);
    assert_string_equal(be->ops->name, "cpu");
    /* the CPU backend has every op and none of the optional device entries */
    for (int op = 0; op < FATHOM_OP_COUNT; op++)
        assert_true(fathom_backend_supports(be, (fathom_op_id)op));
    assert_null(be->ops->host_alloc);
    assert_null(be->ops->graph_launch);

    fathom_backend *other = NULL;
    assert_int_equal(fathom_backend_cpu_create(0, &other), FATHOM_OK);
    assert_true(other->threads >= 1);
    fathom_backend_free(&other);
    assert_null(other);
    fathom_backend_free(NULL);
#ifndef FATHOM_HAVE_CUDA
    fathom_backend *cuda = (fathom_backend *)&other;
    assert_int_equal(fathom_backend_cuda_create(0, FATHOM_PRECISION_DEFAULT, 0, &cuda),
                     FATHOM_ERR_UNSUPPORTED);
    assert_null(cuda);
    assert_non_null(strstr(fathom_last_error(), "built without CUDA"));
    assert_non_null(strstr(fathom_last_error(), "libfathom-cuda.so"));
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_hand_cases), cmocka_unit_test(test_exp_erf_gelu_accuracy),
        cmocka_unit_test(test_ref_resize),     cmocka_unit_test(test_backend_entries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
