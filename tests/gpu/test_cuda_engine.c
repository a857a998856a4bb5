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
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cuda_test_common.h"
#include "fathom.h"

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static fathom_model *load_case_model(const char *dir) {
    char path[4200]; /* dir is < 4096 */
    snprintf(path, sizeof path, "%s/case.json", dir);
    char *text = read_text(path);
    assert_non_null(text);
    cJSON *cj = cJSON_Parse(text);
    free(text);
    assert_non_null(cj);
    fathom_model_params mp = fathom_model_default_params();
    const cJSON *metric = cJSON_GetObjectItem(cj, "metric");
    const cJSON *maxd = cJSON_GetObjectItem(cj, "max_depth");
    if (cJSON_IsBool(metric)) mp.metric = cJSON_IsTrue(metric);
    if (cJSON_IsNumber(maxd)) mp.max_depth = (float)maxd->valuedouble;
    cJSON_Delete(cj);
    struct stat sb;
    snprintf(path, sizeof path, "%s/model", dir);
    if (stat(path, &sb) != 0) snprintf(path, sizeof path, "%s/model.pth", dir);
    fathom_model *m = NULL;
    if (fathom_model_load(path, &mp, &m) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    return m;
}

static void run_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/depth_net.npy", name);
    if (!tu_golden_file(rel)) skip(); /* the repository's small copy has no network-size data */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", tu_golden_dir(), name);
    fathom_model *m = load_case_model(dir);
    int64_t shape[8];
    int ndim;
    size_t n, nd;
    float *x = tu_load_npy(tu_path(dir, "pixel_values.npy"), shape, &ndim, &n);
    assert_non_null(x);
    int H = (int)shape[2], W = (int)shape[3];
    float *ref = tu_load_npy(tu_path(dir, "depth_net.npy"), shape, &ndim, &nd);
    assert_non_null(ref);
    assert_int_equal(nd, (size_t)H * W);
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
    free(x), free(x2), free(ref), free(net);
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
