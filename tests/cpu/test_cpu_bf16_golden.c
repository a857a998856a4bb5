/* test_cpu_bf16_golden.c - `--precision bf16` and `--weights int8|q4` on the CPU against the
 * official PyTorch outputs (../shared/golden), once per kernel variant this CPU has
 * (FATHOM_CPU_KERNEL forces each; the engine must report the one forced). The network input
 * is the golden pixel_values, so only the forward pass is measured.
 *
 * Bounds on depth_net, relative to max|ref| (measured values: docs/precision.md):
 * The DPT convs run packed too (bf16; int8 engines: bf16; q4: q4).
 *   bf16  max 3e-2, rms 5e-3   bf16 keeps 8 bits (2^-8 relative per rounded GEMM input);
 *                              measured 1.4e-2 .. 2.1e-2 max, 1.8e-3 .. 4.2e-3 rms on these
 *                              random-weight cases
 *   int8  max 1e-1, rms 1.5e-2 weights per channel and activations per row at 7 bits + sign;
 *                              measured 3.5e-2 .. 6.3e-2 max, 5.7e-3 .. 8.1e-3 rms
 *   q4    max 0.8, rms 0.15      4-bit weights (one bf16 scale per 32) and bf16 activations;
 *                              these small random-weight models amplify the weight error:
 *                              measured 0.35 .. 0.58 max, 0.059 .. 0.118 rms (the metric case
 *                              largest: its sigmoid output saturates at max_depth)
 * The fp32 engine stays at its own 1e-4 (test_golden). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_packed.h"
#include "fathom.h"
#include "golden_util.h"
#include "test_util.h"

/* Sanitizer builds skip the scalar (portable) kernels on the cases with a large network input
 * (the tiny-* cases, 518 x 686): there they took most of a 600 s ctest timeout on a loaded
 * 2-core machine. The portable kernels still run under the sanitizer on the small case, and on
 * every case in the Release run. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
enum { TRIM_PORTABLE_PIXELS = 300 * 300 };
#else
enum { TRIM_PORTABLE_PIXELS = 0 };
#endif

/* one engine configuration: bf16, int8 or q4 weights with a forced kernel */
enum { BF16, INT8, Q4 };
typedef struct { int fmt, kernel; double max_tol, rms_tol; } config;
static const config configs[] = {
    {BF16, FATHOM_CPU_BF16_PORTABLE, 3e-2, 5e-3}, {BF16, FATHOM_CPU_BF16_AVX512, 3e-2, 5e-3},
    {BF16, FATHOM_CPU_BF16_AMX, 3e-2, 5e-3},      {INT8, FATHOM_CPU_Q8_PORTABLE, 1e-1, 1.5e-2},
    {INT8, FATHOM_CPU_Q8_VNNI, 1e-1, 1.5e-2},     {INT8, FATHOM_CPU_Q8_AMX, 1e-1, 1.5e-2},
    {Q4, FATHOM_CPU_BF16_PORTABLE, 0.8, 0.15},    {Q4, FATHOM_CPU_BF16_AVX512, 0.8, 0.15},
    {Q4, FATHOM_CPU_BF16_AMX, 0.8, 0.15},
};

static int run_case(const char *dir, const char *name) {
    int ok = 1;
    fathom_model *m = tu_load_case_model(dir, NULL);
    if (!m) fail_msg("%s: cannot load the case's model", name);
    tu_net_case nc;
    if (!tu_load_net_case(dir, &nc)) fail_msg("%s: no network pass to compare", dir);
    float *x = nc.x, *ref = nc.ref;
    size_t nd = nc.nd;
    int H = nc.H, W = nc.W;
    float *out = malloc(nd * sizeof *out);
    for (size_t v = 0; v < sizeof configs / sizeof configs[0]; v++) {
        const config *cf = &configs[v];
        const int int8 = cf->fmt == INT8;
        const char *kn = int8 ? fathom_cpu_q8_kernel_name(cf->kernel)
                              : fathom_cpu_bf16_kernel_name(cf->kernel);
        const char *what = int8 ? "int8" : cf->fmt == Q4 ? "q4" : "bf16";
        if (!(int8 ? fathom_cpu_q8_kernel_available(cf->kernel)
                   : fathom_cpu_bf16_kernel_available(cf->kernel))) {
            printf("SKIP %s %s: not on this CPU\n", what, kn);
            continue;
        }
        const int portable = cf->kernel == (int8 ? FATHOM_CPU_Q8_PORTABLE : FATHOM_CPU_BF16_PORTABLE);
        if (TRIM_PORTABLE_PIXELS && portable && (long)H * W > TRIM_PORTABLE_PIXELS) {
            printf("SKIP %s %s on %s: sanitizer build, %dx%d input (the Release run covers it)\n",
                   what, kn, name, W, H);
            continue;
        }
        setenv("FATHOM_CPU_KERNEL", kn, 1);
        fathom_engine_params ep = fathom_engine_default_params();
        ep.device = FATHOM_DEVICE_CPU;
        if (int8) ep.weights = FATHOM_WEIGHTS_INT8;
        else if (cf->fmt == Q4) ep.weights = FATHOM_WEIGHTS_Q4;
        else ep.precision = FATHOM_PRECISION_BF16;
        ep.threads = 2;
        fathom_engine *e = NULL;
        if (fathom_engine_create(m, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        unsetenv("FATHOM_CPU_KERNEL");
        char desc[256], label[512];
        fathom_engine_kernels(e, desc, sizeof desc);
        assert_non_null(strstr(desc, int8 ? "cpu int8 weights" : cf->fmt == Q4 ? "cpu q4 weights" : "cpu bf16"));
        assert_non_null(strstr(desc, kn));
        if (fathom_engine_forward(e, x, 1, H, W, out) != FATHOM_OK)
            fail_msg("%s", fathom_last_error());
        snprintf(label, sizeof label, "%.200s %s %s", name, what, kn);
        ok &= tu_check(label, out, ref, nd, cf->max_tol, cf->rms_tol);
        fathom_engine_free(&e);
    }
    free(out);
    tu_free_net_case(&nc);
    fathom_model_free(&m);
    return ok;
}

static void test_bf16_golden(void **state) {
    (void)state;
    const char *g = tu_golden_dir();
    char names[64][256];
    int ncase = tu_golden_cases(g, names, 64), nok = 0;
    for (int i = 0; i < ncase; i++) nok += run_case(tu_path(g, names[i]), names[i]);
    printf("%d/%d golden cases within the bf16, int8 and q4 bounds\n", nok, ncase);
    assert_true(ncase >= 1);
    assert_int_equal(nok, ncase);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bf16_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
