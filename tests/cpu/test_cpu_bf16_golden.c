/* test_cpu_bf16_golden.c - `--precision bf16` on the CPU against the official PyTorch outputs
 * (../shared/golden), once per bf16 kernel variant this CPU has (FATHOM_CPU_KERNEL forces each;
 * the engine must report the one forced). The network input is the golden pixel_values, so
 * only the forward pass is measured.
 *
 * Bound: depth_net max|d| <= 3e-2 of max|ref| and rms <= 5e-3 of max|ref|. bf16 keeps 8 bits
 * (2^-8 relative per rounded value); 12 blocks of rounded GEMM inputs give ~1e-2 max here
 * (measured: docs/precision.md), and the fp32 engine stays at its own 1e-4 (test_golden). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/cpu/cpu_bf16.h"
#include "fathom.h"
#include "test_util.h"

#define MAX_TOL 3e-2
#define RMS_TOL 5e-3

static int run_case(const char *dir, const char *name) {
    char path[4096];
    int ok = 1;
    snprintf(path, sizeof path, "%s/model", dir);
    struct stat sb;
    if (stat(path, &sb) != 0) snprintf(path, sizeof path, "%s/model.pth", dir);
    fathom_model_params mp = fathom_model_default_params();
    if (strstr(name, "metric")) mp.metric = 1, mp.max_depth = 20.0f; /* as its case.json says */
    fathom_model *m = NULL;
    if (fathom_model_load(path, &mp, &m) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    int64_t shape[8];
    int ndim;
    size_t n, nd;
    float *x = tu_load_npy(tu_path(dir, "pixel_values.npy"), shape, &ndim, &n);
    assert_non_null(x);
    int H = (int)shape[2], W = (int)shape[3];
    float *ref = tu_load_npy(tu_path(dir, "depth_net.npy"), shape, &ndim, &nd);
    assert_non_null(ref);
    assert_int_equal(nd, (size_t)H * W);
    float *out = malloc(nd * sizeof *out);
    static const fathom_cpu_bf16_kernel ks[] = {FATHOM_CPU_BF16_PORTABLE, FATHOM_CPU_BF16_AVX512,
                                                FATHOM_CPU_BF16_AMX};
    for (size_t v = 0; v < sizeof ks / sizeof ks[0]; v++) {
        const char *kn = fathom_cpu_bf16_kernel_name(ks[v]);
        if (!fathom_cpu_bf16_kernel_available(ks[v])) {
            printf("SKIP %s: not on this CPU\n", kn);
            continue;
        }
        setenv("FATHOM_CPU_KERNEL", kn, 1);
        fathom_engine_params ep = fathom_engine_default_params();
        ep.device = FATHOM_DEVICE_CPU;
        ep.precision = FATHOM_PRECISION_BF16;
        ep.threads = 2;
        fathom_engine *e = NULL;
        if (fathom_engine_create(m, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        unsetenv("FATHOM_CPU_KERNEL");
        char desc[256], label[512];
        fathom_engine_kernels(e, desc, sizeof desc);
        assert_non_null(strstr(desc, "cpu bf16"));
        assert_non_null(strstr(desc, kn));
        if (fathom_engine_forward(e, x, 1, H, W, out) != FATHOM_OK)
            fail_msg("%s", fathom_last_error());
        snprintf(label, sizeof label, "%.200s bf16 %s", name, kn);
        ok &= tu_check(label, out, ref, nd, MAX_TOL, RMS_TOL);
        fathom_engine_free(&e);
    }
    free(out), free(ref), free(x);
    fathom_model_free(&m);
    return ok;
}

static void test_bf16_golden(void **state) {
    (void)state;
    const char *g = tu_golden_dir();
    DIR *d = opendir(g);
    assert_non_null(d);
    struct dirent *de;
    int ncase = 0, nok = 0;
    char names[64][256];
    while ((de = readdir(d)) && ncase < 64) {
        char cj[4096];
        snprintf(cj, sizeof cj, "%s/%s/case.json", g, de->d_name);
        if (de->d_name[0] == '.' || access(cj, R_OK) != 0) continue;
        snprintf(names[ncase++], sizeof names[0], "%s", de->d_name);
    }
    closedir(d);
    for (int i = 0; i < ncase; i++) nok += run_case(tu_path(g, names[i]), names[i]);
    printf("%d/%d golden cases within the bf16 bound\n", nok, ncase);
    assert_true(ncase >= 1);
    assert_int_equal(nok, ncase);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bf16_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
