/* test_cuda_ops.c - every CUDA op-table kernel against its plain-C reference twin
 * (src/backend/cpu/ref_*.c) on random data, with the sizes of tests/ops (odd sizes, batch 2,
 * partial tiles). SKIP without a CUDA build or device.
 *
 * fp32 backend: GEMMs use CUBLAS_COMPUTE_32F, so the tolerance is the CPU kernels' 1e-5 of
 * max|ref| (sums in another order). bf16 / fp16 backends: inputs are rounded to 8 / 11
 * mantissa bits inside the GEMM, so 2e-2 / 4e-3 of max|ref| (K up to 600 random terms). */
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

#include "backend/cpu/ref_ops.h"
#include "cuda_test_common.h"

#define TOL 1e-5

static fathom_backend *be; /* owned by the test group: the fp32 backend */

static int setup(void **state) {
    (void)state;
    be = ct_backend(FATHOM_PRECISION_FP32);
    return be ? 0 : -1;
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

static float *dev(const float *h, size_t n) {
    float *d = ct_dev(be, h, n);
    assert_non_null(d);
    return d;
}

static float *get(const float *d, size_t n) {
    float *h = ct_get(be, d, n);
    assert_non_null(h);
    return h;
}

/* ---------------- encoder ---------------- */

static void check_linear_on(fathom_backend *b_, double tol, int M, int N, int K, fathom_act act,
                            int with_bias) {
    fathom_backend *saved = be;
    be = b_;
    float *in = rnd((size_t)M * K, 1, 1.0f), *w = rnd((size_t)N * K, 2, 0.1f);
    float *b = with_bias ? rnd(N, 3, 0.5f) : NULL;
    float *ref = malloc((size_t)M * N * sizeof *ref);
    assert_non_null(ref);
    float *din = dev(in, (size_t)M * K), *dw = dev(w, (size_t)N * K);
    float *db = b ? dev(b, N) : NULL, *dout = dev(NULL, (size_t)M * N);
    be->ops->linear(be, dout, din, dw, db, M, N, K, act);
    float *out = get(dout, (size_t)M * N);
    fathom_ref_linear(ref, in, w, b, M, N, K, act);
    char name[80];
    snprintf(name, sizeof name, "cuda linear %dx%dx%d a%d b%d", M, N, K, act, with_bias);
    assert_true(tu_check(name, out, ref, (size_t)M * N, tol, -1));
    ct_free(be, din, (size_t)M * K), ct_free(be, dw, (size_t)N * K), ct_free(be, db, N);
    ct_free(be, dout, (size_t)M * N);
    free(in), free(w), free(b), free(out), free(ref);
    be = saved;
}

static void test_linear(void **state) {
    (void)state;
    check_linear_on(be, TOL, 131, 200, 77, FATHOM_ACT_NONE, 1);
    check_linear_on(be, TOL, 131, 200, 77, FATHOM_ACT_GELU, 1);
    check_linear_on(be, TOL, 262, 97, 130, FATHOM_ACT_RELU, 1);
    check_linear_on(be, TOL, 1, 33, 17, FATHOM_ACT_GELU, 0);
    check_linear_on(be, TOL, 600, 45, 384, FATHOM_ACT_NONE, 0);
    /* the model's shape (Small, 518 x 518): fc1 */
    check_linear_on(be, TOL, 1370, 1536, 384, FATHOM_ACT_GELU, 1);
}

/* The 16-bit compute types: same kernels, looser tolerance, and results must still track
 * the reference (a wrong compute type or layout is O(1) off). */
static void test_linear_16bit(void **state) {
    (void)state;
    fathom_backend *bf = ct_backend(FATHOM_PRECISION_BF16);
    fathom_backend *hf = ct_backend(FATHOM_PRECISION_FP16);
    assert_non_null(bf);
    assert_non_null(hf);
    check_linear_on(bf, 2e-2, 131, 200, 77, FATHOM_ACT_GELU, 1);
    check_linear_on(bf, 2e-2, 600, 45, 384, FATHOM_ACT_NONE, 0);
    check_linear_on(hf, 4e-3, 131, 200, 77, FATHOM_ACT_GELU, 1);
    check_linear_on(hf, 4e-3, 600, 45, 384, FATHOM_ACT_NONE, 0);
    fathom_backend_free(&bf);
    fathom_backend_free(&hf);
}

static void test_linear_residual(void **state) {
    (void)state;
    /* the last shape's temporary (80 MB) exceeds the 64 MiB scratch: two row chunks */
    int shapes[][3] = {{131, 100, 150}, {262, 384, 61}, {5, 17000, 9}, {20000, 1024, 16}};
    for (int s = 0; s < 4; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        size_t nx = (size_t)M * N;
        float *in = rnd((size_t)M * K, 4, 1.0f), *w = rnd((size_t)N * K, 5, 0.1f);
        float *b = rnd(N, 6, 0.5f), *g = rnd(N, 7, 1.0f), *ref = rnd(nx, 8, 3.0f);
        float *din = dev(in, (size_t)M * K), *dw = dev(w, (size_t)N * K), *db = dev(b, N);
        float *dg = dev(g, N), *dx = dev(ref, nx);
        be->ops->linear_residual(be, dx, din, dw, s == 1 ? NULL : db, dg, M, N, K);
        float *x = get(dx, nx);
        fathom_ref_linear_residual(ref, in, w, s == 1 ? NULL : b, g, M, N, K);
        assert_true(tu_check("cuda linear_residual", x, ref, nx, TOL, -1));
        ct_free(be, din, (size_t)M * K), ct_free(be, dw, (size_t)N * K), ct_free(be, db, N);
        ct_free(be, dg, N), ct_free(be, dx, nx);
        free(in), free(w), free(b), free(g), free(x), free(ref);
    }
}

static void test_layernorm(void **state) {
    (void)state;
    int Cs[] = {77, 384, 1024};
    for (int i = 0; i < 3; i++) {
        int M = 131, C = Cs[i];
        size_t n = (size_t)M * C;
        float *in = rnd(n, 9, 2.0f), *w = rnd(C, 10, 1.0f), *b = rnd(C, 11, 0.2f);
        for (size_t j = 0; j < n; j++) in[j] += 100.0f; /* cancellation trap */
        float *ref = malloc(n * sizeof *ref);
        assert_non_null(ref);
        float *din = dev(in, n), *dw = dev(w, C), *db = dev(b, C), *dout = dev(NULL, n);
        be->ops->layernorm(be, dout, din, dw, db, M, C, 1e-6f);
        float *out = get(dout, n);
        fathom_ref_layernorm(ref, in, w, b, M, C, 1e-6f);
        assert_true(tu_check("cuda layernorm", out, ref, n, 2e-6, -1));
        /* in place */
        be->ops->layernorm(be, din, din, dw, db, M, C, 1e-6f);
        float *inpl = get(din, n);
        assert_true(tu_check("cuda layernorm in place", inpl, ref, n, 2e-6, -1));
        ct_free(be, din, n), ct_free(be, dw, C), ct_free(be, db, C), ct_free(be, dout, n);
        free(in), free(w), free(b), free(out), free(inpl), free(ref);
    }
}

static void check_attention(int B, int L, int D, int heads, float amp) {
    size_t nq = (size_t)B * L * 3 * D, no = (size_t)B * L * D;
    float *qkv = rnd(nq, 12 + L, amp), *ref = malloc(no * sizeof *ref);
    assert_non_null(ref);
    float scale = 1.0f / sqrtf((float)(D / heads));
    float *dq = dev(qkv, nq), *dout = dev(NULL, no);
    be->ops->attention(be, dout, dq, B, L, D, heads, scale);
    float *out = get(dout, no);
    fathom_ref_attention(ref, qkv, B, L, D, heads, scale);
    char name[64];
    snprintf(name, sizeof name, "cuda attention B%d L%d D%d h%d", B, L, D, heads);
    assert_true(tu_check(name, out, ref, no, TOL, -1));
    ct_free(be, dq, nq), ct_free(be, dout, no);
    free(qkv), free(out), free(ref);
}

static void test_attention(void **state) {
    (void)state;
    check_attention(2, 1 + 10 * 13, 96, 3, 2.0f); /* hd 32 */
    check_attention(1, 1 + 37 * 49, 64, 1, 2.0f); /* hd 64, many key tiles */
    check_attention(1, 64 + 77, 32, 1, 2.5f);
    check_attention(1, 1, 12, 2, 1.0f);           /* hd 6, one key */
    check_attention(2, 1 + 10 * 13, 128, 2, 2.0f);
    check_attention(1, 3, 64, 1, 2.0f);
    check_attention(1, 1370, 384, 6, 2.0f);       /* Small at 518 x 518 */
    check_attention(1, 200, 256, 2, 2.0f);        /* hd 128: the second instantiation */
}

static void test_tokens(void **state) {
    (void)state;
    int B = 2, H = 28, W = 42, p = 14, gh = 2, gw = 3, N = 6, row = 3 * p * p;
    size_t nx = (size_t)B * 3 * H * W, np = (size_t)B * N * row;
    float *x = rnd(nx, 20, 1.0f), *ref = malloc(np * sizeof *ref);
    assert_non_null(ref);
    float *dx = dev(x, nx), *dp = dev(NULL, np);
    be->ops->patchify(be, dp, dx, B, H, W, p);
    float *out = get(dp, np);
    fathom_ref_patchify(ref, x, B, H, W, p);
    assert_true(tu_check("cuda patchify", out, ref, np, 0, -1));
    ct_free(be, dx, nx), ct_free(be, dp, np);
    free(x), free(out), free(ref);

    int D = 77;
    gh = 13, gw = 10, N = gh * gw;
    size_t ne = (size_t)B * N * D, nt = (size_t)B * (N + 1) * D, nn = (size_t)B * D * N;
    float *emb = rnd(ne, 21, 1.0f), *cls = rnd(D, 22, 1.0f), *pos = rnd((size_t)(N + 1) * D, 23, 1.0f);
    float *tref = malloc(nt * sizeof *tref), *nref = malloc(nn * sizeof *nref);
    assert_non_null(tref);
    assert_non_null(nref);
    float *de = dev(emb, ne), *dc = dev(cls, D), *dpos = dev(pos, (size_t)(N + 1) * D);
    float *dt = dev(NULL, nt), *dn = dev(NULL, nn);
    be->ops->assemble_tokens(be, dt, de, dc, dpos, B, N, D);
    be->ops->tokens_to_nchw(be, dn, dt, B, gh, gw, D);
    float *tok = get(dt, nt), *nchw = get(dn, nn);
    fathom_ref_assemble_tokens(tref, emb, cls, pos, B, N, D);
    fathom_ref_tokens_to_nchw(nref, tref, B, gh, gw, D);
    assert_true(tu_check("cuda assemble_tokens", tok, tref, nt, 0, -1));
    assert_true(tu_check("cuda tokens_to_nchw", nchw, nref, nn, 0, -1));
    ct_free(be, de, ne), ct_free(be, dc, D), ct_free(be, dpos, (size_t)(N + 1) * D);
    ct_free(be, dt, nt), ct_free(be, dn, nn);
    free(emb), free(cls), free(pos), free(tok), free(tref), free(nchw), free(nref);
}

/* ---------------- DPT head ---------------- */

static void check_conv(int B, int Ci, int H, int W, int Co, int k, int stride, int pad, int flags,
                       int bias, int residual) {
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    size_t no = (size_t)B * Co * Ho * Wo, ni = (size_t)B * Ci * H * W, nw = (size_t)Co * Ci * k * k;
    float *in = rnd(ni, 30, 1.0f), *w = rnd(nw, 31, 0.2f), *b = bias ? rnd(Co, 32, 0.5f) : NULL;
    float *res = residual ? rnd(no, 33, 1.0f) : NULL, *ref = malloc(no * sizeof *ref);
    assert_non_null(ref);
    float *din = dev(in, ni), *dw = dev(w, nw), *db = b ? dev(b, Co) : NULL;
    float *dres = res ? dev(res, no) : NULL, *dout = dev(NULL, no);
    be->ops->conv2d(be, dout, din, dw, db, dres, B, Ci, H, W, Co, k, stride, pad, flags);
    float *out = get(dout, no);
    fathom_ref_conv2d(ref, in, w, b, res, B, Ci, H, W, Co, k, stride, pad, flags);
    char name[96];
    snprintf(name, sizeof name, "cuda conv B%d %d->%d %dx%d k%d s%d p%d f%d", B, Ci, Co, H, W, k,
             stride, pad, flags);
    assert_true(tu_check(name, out, ref, no, TOL, -1));
    if (residual) { /* out aliasing residual: the in-place residual add of the DPT head */
        be->ops->conv2d(be, dres, din, dw, db, dres, B, Ci, H, W, Co, k, stride, pad, flags);
        float *inpl = get(dres, no);
        assert_true(tu_check("cuda conv in-place residual", inpl, ref, no, TOL, -1));
        free(inpl);
    }
    ct_free(be, din, ni), ct_free(be, dw, nw), ct_free(be, db, Co), ct_free(be, dres, no);
    ct_free(be, dout, no);
    free(in), free(w), free(b), free(res), free(out), free(ref);
}

static void test_conv2d(void **state) {
    (void)state;
    check_conv(2, 5, 37, 37, 7, 3, 2, 1, 0, 1, 0);
    check_conv(1, 19, 23, 29, 13, 3, 1, 1, FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT, 1, 1);
    check_conv(1, 130, 12, 11, 9, 3, 1, 1, FATHOM_CONV_RELU_IN, 0, 1);
    check_conv(2, 33, 20, 21, 17, 1, 1, 0, 0, 1, 0);                  /* 1x1: one GEMM */
    check_conv(2, 33, 20, 21, 17, 1, 1, 0, 0, 1, 1);                  /* 1x1 + residual */
    check_conv(1, 33, 20, 21, 1, 1, 1, 0, FATHOM_CONV_RELU_IN, 1, 0); /* 1x1 with ReLU in */
    check_conv(1, 3, 28, 42, 10, 14, 14, 0, 0, 1, 0);
    check_conv(1, 4, 9, 8, 6, 5, 2, 2, FATHOM_CONV_RELU_OUT, 1, 0);
    check_conv(2, 3, 3, 2, 5, 5, 1, 2, FATHOM_CONV_RELU_IN, 1, 0);
    check_conv(1, 64, 40, 33, 64, 3, 1, 1, FATHOM_CONV_RELU_IN, 1, 1);
    /* more than one im2col tile in the 64 MiB scratch: 256 * 9 taps x 148 * 148 pixels */
    check_conv(1, 256, 148, 148, 8, 3, 1, 1, FATHOM_CONV_RELU_IN, 1, 1);
}

static void test_conv_transpose(void **state) {
    (void)state;
    int cases[][6] = {{2, 17, 13, 11, 9, 4}, {1, 96, 37, 37, 48, 2}, {1, 7, 3, 5, 700, 2}};
    for (int c = 0; c < 3; c++) {
        int B = cases[c][0], Ci = cases[c][1], H = cases[c][2], W = cases[c][3], Co = cases[c][4],
            k = cases[c][5];
        size_t no = (size_t)B * Co * H * k * W * k, ni = (size_t)B * Ci * H * W;
        size_t nw = (size_t)Ci * Co * k * k;
        float *in = rnd(ni, 40, 1.0f), *w = rnd(nw, 41, 0.3f), *b = rnd(Co, 42, 0.5f);
        float *ref = malloc(no * sizeof *ref);
        assert_non_null(ref);
        float *din = dev(in, ni), *dw = dev(w, nw), *db = dev(b, Co), *dout = dev(NULL, no);
        be->ops->conv_transpose(be, dout, din, dw, c == 2 ? NULL : db, B, Ci, H, W, Co, k);
        float *out = get(dout, no);
        fathom_ref_conv_transpose(ref, in, w, c == 2 ? NULL : b, B, Ci, H, W, Co, k);
        assert_true(tu_check("cuda conv_transpose", out, ref, no, TOL, -1));
        ct_free(be, din, ni), ct_free(be, dw, nw), ct_free(be, db, Co), ct_free(be, dout, no);
        free(in), free(w), free(b), free(out), free(ref);
    }
}

static void test_resize(void **state) {
    (void)state;
    int cases[][4] = {{19, 19, 37, 37}, {37, 49, 74, 98}, {296, 296, 518, 518}, {37, 30, 19, 23},
                      {1, 5, 4, 1}, {13, 11, 13, 11}};
    int P = 2;
    for (int c = 0; c < 6; c++) {
        int Hi = cases[c][0], Wi = cases[c][1], Ho = cases[c][2], Wo = cases[c][3];
        size_t no = (size_t)P * Ho * Wo, ni = (size_t)P * Hi * Wi;
        float *in = rnd(ni, 50 + c, 1.0f), *ref = malloc(no * sizeof *ref);
        assert_non_null(ref);
        float *din = dev(in, ni), *dout = dev(NULL, no);
        be->ops->resize_bilinear(be, dout, din, P, Hi, Wi, Ho, Wo);
        float *out = get(dout, no);
        fathom_ref_resize_bilinear(ref, in, P, Hi, Wi, Ho, Wo);
        /* same float32 coordinates and the same unfused products: equal to the last bit
         * is expected; 1e-6 leaves room for nothing but rounding */
        assert_true(tu_check("cuda resize", out, ref, no, 1e-6, -1));
        if (Hi == Ho && Wi == Wo) assert_memory_equal(out, in, no * sizeof(float));
        ct_free(be, din, ni), ct_free(be, dout, no);
        free(in), free(out), free(ref);
    }
}

static void test_elementwise(void **state) {
    (void)state;
    size_t n = 100003;
    float *a = rnd(n, 60, 5.0f), *b = rnd(n, 61, 5.0f), *ref = malloc(n * sizeof *ref);
    assert_non_null(ref);
    float *da = dev(a, n), *db = dev(b, n), *dout = dev(NULL, n);
    be->ops->add(be, dout, da, db, n);
    float *out = get(dout, n);
    fathom_ref_add(ref, a, b, n);
    assert_true(tu_check("cuda add", out, ref, n, 0, -1));
    be->ops->add(be, da, da, db, n);
    float *inpl = get(da, n);
    assert_true(tu_check("cuda add in place", inpl, ref, n, 0, -1));
    for (int metric = 0; metric < 2; metric++) {
        float *dx = dev(b, n);
        memcpy(ref, b, n * sizeof *b);
        be->ops->depth_act(be, dx, n, metric, 80.0f);
        float *x = get(dx, n);
        fathom_ref_depth_act(ref, n, metric, 80.0f);
        assert_true(tu_check(metric ? "cuda depth_act metric" : "cuda depth_act relative", x, ref,
                             n, 1e-6, -1));
        ct_free(be, dx, n);
        free(x);
    }
    ct_free(be, da, n), ct_free(be, db, n), ct_free(be, dout, n);
    free(a), free(b), free(out), free(inpl), free(ref);
}

int main(void) {
    ct_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),        cmocka_unit_test(test_linear_16bit),
        cmocka_unit_test(test_linear_residual), cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_attention),     cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_conv2d),        cmocka_unit_test(test_conv_transpose),
        cmocka_unit_test(test_resize),        cmocka_unit_test(test_elementwise),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
