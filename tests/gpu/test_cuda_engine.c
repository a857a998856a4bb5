/* test_cuda_engine.c - the whole forward pass on the CUDA backend against the official
 * PyTorch outputs in ../shared/golden (every case: tiny HF relative + metric, ViT-S .pth).
 *
 * Input: the case's pixel_values.npy (preprocessing has its own tests). fp32 backend: the
 * CPU golden tolerance (max|d| <= 1e-4 and rms <= 1e-5 of max|ref|, test_golden.c). bf16
 * backend: a sanity bound (max 1e-1, rms 2e-2 of max|ref|): inputs of every GEMM are rounded
 * to 8 mantissa bits, while a wrong layout or compute type is O(1) (the bound is an estimate
 * the first GPU run confirms). Batch 2 (the image twice) must give the batch-1 result for both
 * images (GEMM shapes differ, so only the summation order moves: 1e-4 fp32, 1e-2 bf16; a
 * batch-indexing bug is O(1)). SKIP without a CUDA build or device. */
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
#include "fathom.h"
#include "golden_util.h"

static fathom_model *load_case_model(const char *dir) {
    fathom_model *m = tu_load_case_model(dir, NULL);
    if (!m) fail_msg("%s: cannot load the case's model", dir);
    return m;
}

static void run_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/depth_net.npy", name);
    if (!tu_golden_file(rel)) skip(); /* the repository's small copy has no network-size data */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", tu_golden_dir(), name);
    fathom_model *m = load_case_model(dir);
    tu_net_case nc;
    if (!tu_load_net_case(dir, &nc)) fail_msg("%s: no network pass to compare", dir);
    float *x = nc.x, *ref = nc.ref;
    size_t n = nc.n, nd = nc.nd;
    int H = nc.H, W = nc.W;
    float *x2 = malloc(2 * n * sizeof *x2), *net = malloc(2 * nd * sizeof *net);
    assert_non_null(x2);
    assert_non_null(net);
    memcpy(x2, x, n * sizeof *x), memcpy(x2 + n, x, n * sizeof *x);

    const fathom_precision precs[2] = {FATHOM_PRECISION_FP32, FATHOM_PRECISION_BF16};
    for (int pi = 0; pi < 2; pi++) {
        fathom_engine_params ep = fathom_engine_default_params();
        ep.device = FATHOM_DEVICE_CUDA;
        ep.device_index = 0;
        ep.precision = precs[pi];
        fathom_engine *e = NULL;
        if (fathom_engine_create(m, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        if (fathom_engine_forward(e, x, 1, H, W, net) != FATHOM_OK)
            fail_msg("%s", fathom_last_error());
        char label[128];
        snprintf(label, sizeof label, "%s cuda %s depth_net", name, pi ? "bf16" : "fp32");
        if (pi == 0)
            assert_true(tu_check(label, net, ref, nd, 1e-4, 1e-5));
        else
            assert_true(tu_check(label, net, ref, nd, 1e-1, 2e-2));
        float *one = malloc(nd * sizeof *one);
        assert_non_null(one);
        memcpy(one, net, nd * sizeof *one);
        if (fathom_engine_forward(e, x2, 2, H, W, net) != FATHOM_OK)
            fail_msg("%s", fathom_last_error());
        snprintf(label, sizeof label, "%s cuda %s batch 2 vs 1", name, pi ? "bf16" : "fp32");
        assert_true(tu_check(label, net, one, nd, pi ? 1e-2 : 1e-4, -1));
        assert_true(tu_check(label, net + nd, one, nd, pi ? 1e-2 : 1e-4, -1));
        free(one);
        fathom_engine_free(&e);
    }
    free(x2), free(net);
    tu_free_net_case(&nc);
    fathom_model_free(&m);
}

static void test_tiny_hf(void **state) {
    (void)state;
    run_case("tiny-hf");
}

static void test_tiny_hf_metric(void **state) {
    (void)state;
    run_case("tiny-hf-metric");
}

static void test_vits_pth(void **state) {
    (void)state;
    run_case("vits-pth");
}

int main(void) {
    ct_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_hf),
        cmocka_unit_test(test_tiny_hf_metric),
        cmocka_unit_test(test_vits_pth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
