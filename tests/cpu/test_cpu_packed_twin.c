/* test_cpu_packed_twin.c - the plain-C twin of the device int8 / q4 GEMMs
 * (fathom_ref_linear_packed, backend/cpu/ref_packed.c; the CUDA kernels are checked against
 * it in tests/ops/test_backend_ops.c) holds the CPU formats' semantics:
 *   - fathom_ref_packed_value reads the CPU panels as the CPU does: q4 values equal the CPU
 *     dequantizer's bit for bit; int8 values are q * scale within half a step of the weight,
 *     and each channel's largest weight is +-127 steps;
 *   - on matrices the CPU backend packed (portable kernels forced), the twin's linear and
 *     linear_residual agree with the CPU ops to 2e-6 of max|out| (int8: the same exact integer
 *     sums and scaling; q4: the same bf16 products, summed in another order), at shapes with N
 *     and K off the panel sizes;
 *   - and it really quantizes: against the fp32 reference it is off by more than 1e-4 and
 *     within the format bounds of tests/ops (int8 5e-2, q4 2e-1). */
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
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/ref_ops.h"
#include "test_util.h"

static fathom_packed_mat view_q4(const fathom_q4_mat *q) {
    return (fathom_packed_mat){FATHOM_PACKED_MAT_Q4, q->N, q->K, q->Np, q->Kp, q->q, q->scale,
                               (size_t)q->Np * q->Kp / 2, (size_t)q->Np * (q->Kp / 32) * sizeof(uint16_t)};
}

static fathom_packed_mat view_q8(const fathom_q8_mat *q) {
    return (fathom_packed_mat){FATHOM_PACKED_MAT_INT8, q->N, q->K, q->Np, q->Kp, q->w, q->scale,
                               (size_t)q->Np * q->Kp, (size_t)q->Np * sizeof(float)};
}

static void test_values(void **state) {
    (void)state;
    const int N = 70, K = 100;
    float *w = tu_random_alloc((size_t)N * K, 11, 0.5f);
    w[3] = 1e-41f; /* a denormal: q4 flushes the product, as the CPU */
    fathom_q4_mat q4;
    assert_int_equal(fathom_cpu_q4_mat_pack(&q4, w, N, K), FATHOM_OK);
    fathom_packed_mat m4 = view_q4(&q4);
    uint16_t *panel = malloc((size_t)q4.Kp * 32 * sizeof *panel);
    int bad = 0;
    for (int p = 0; p < q4.Np / 32; p++) {
        fathom_cpu_q4_dequant_panel(panel, &q4, p);
        for (int j = 0; j < 32 && 32 * p + j < N; j++)
            for (int k = 0; k < K; k++) {
                float cpu = fathom_bf16_to_f32(panel[(size_t)(k / 2) * 64 + 2 * j + k % 2]);
                bad += memcmp(&cpu, &(float){fathom_ref_packed_value(&m4, 32 * p + j, k)}, sizeof cpu) != 0;
            }
    }
    printf("q4: %d of %d values differ from the CPU dequantizer\n", bad, N * K);
    assert_int_equal(bad, 0);
    fathom_q8_mat q8;
    assert_int_equal(fathom_cpu_q8_mat_pack(&q8, w, N, K), FATHOM_OK);
    fathom_packed_mat m8 = view_q8(&q8);
    for (int n = 0; n < N; n++) {
        float amax = 0.0f, vmax = 0.0f, s = q8.scale[n];
        for (int k = 0; k < K; k++) {
            float v = fathom_ref_packed_value(&m8, n, k);
            assert_true(fabsf(v - w[(size_t)n * K + k]) <= 0.5f * s * (1.0f + 1e-5f));
            amax = fmaxf(amax, fabsf(w[(size_t)n * K + k]));
            vmax = fmaxf(vmax, fabsf(v));
        }
        assert_true(fabsf(vmax - 127.0f * s) <= 1e-6f * vmax && fabsf(vmax - amax) <= 1e-6f * amax);
    }
    fathom_cpu_q4_mat_free(&q4), fathom_cpu_q8_mat_free(&q8);
    free(panel), free(w);
}

/* one shape and format: the CPU op (portable kernel) and the twin on the CPU's own packing */
static void linear_case(fathom_backend *be, fathom_weight_format fmt, int M, int N, int K, fathom_act act,
                        int residual, uint64_t seed) {
    float *in = tu_random_alloc((size_t)M * K, seed, 1.0f), *w = tu_random_alloc((size_t)N * K, seed + 1, 0.2f);
    float *b = tu_random_alloc((size_t)N, seed + 2, 0.5f), *g = tu_random_alloc((size_t)N, seed + 3, 1.0f);
    float *cpu = tu_random_alloc((size_t)M * N, seed + 4, 1.0f);
    float *twin = malloc((size_t)M * N * sizeof *twin), *ref = malloc((size_t)M * N * sizeof *ref);
    memcpy(twin, cpu, (size_t)M * N * sizeof *twin), memcpy(ref, cpu, (size_t)M * N * sizeof *ref);
    setenv("FATHOM_CPU_KERNEL", "portable", 1);
    assert_int_equal(fathom_cpu_pack_one(be, fmt, w, N, K, -1), FATHOM_OK);
    unsetenv("FATHOM_CPU_KERNEL");
    fathom_packed_mat m;
    if (fmt == FATHOM_WEIGHTS_Q4) {
        const fathom_q4_mat *q = fathom_cpu_q4_find(be, w);
        assert_non_null(q);
        m = view_q4(q);
    } else {
        const fathom_q8_mat *q = fathom_cpu_q8_find(be, w);
        assert_non_null(q);
        m = view_q8(q);
    }
    if (residual) {
        be->ops->linear_residual(be, cpu, in, w, b, g, M, N, K);
        fathom_ref_linear_residual(ref, in, w, b, g, M, N, K);
    } else {
        be->ops->linear(be, cpu, in, w, b, M, N, K, act);
        fathom_ref_linear(ref, in, w, b, M, N, K, act);
    }
    fathom_ref_linear_packed(twin, in, &m, b, residual ? g : NULL, M, act);
    char name[96];
    snprintf(name, sizeof name, "%s %dx%dx%d act %d%s: twin vs cpu", fmt == FATHOM_WEIGHTS_Q4 ? "q4" : "int8",
             M, N, K, (int)act, residual ? " residual" : "");
    assert_true(tu_check(name, twin, cpu, (size_t)M * N, 2e-6, -1));
    tu_diff d = tu_compare(twin, ref, (size_t)M * N);
    /* residual: x stays, only gamma * (in . W^T + b) is quantized, so the change is smaller */
    printf("  %s: twin vs fp32 reference %.2e\n", name, d.max_rel);
    assert_true(d.max_rel > (residual ? 1e-5 : 1e-4));
    assert_true(d.max_rel < (fmt == FATHOM_WEIGHTS_Q4 ? 2e-1 : 5e-2));
    free(in), free(w), free(b), free(g), free(cpu), free(twin), free(ref);
}

static void test_linear(void **state) {
    (void)state;
    fathom_backend *be = NULL;
    assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
    static const int shapes[][3] = {{5, 40, 70}, {13, 96, 588}, {3, 384, 384}, {1, 33, 64}};
    static const fathom_weight_format fmts[] = {FATHOM_WEIGHTS_INT8, FATHOM_WEIGHTS_Q4};
    uint64_t seed = 100;
    for (int f = 0; f < 2; f++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int *sh = shapes[s];
            linear_case(be, fmts[f], sh[0], sh[1], sh[2], FATHOM_ACT_NONE, 0, seed += 8);
            linear_case(be, fmts[f], sh[0], sh[1], sh[2], FATHOM_ACT_GELU, 0, seed += 8);
            linear_case(be, fmts[f], sh[0], sh[1], sh[2], FATHOM_ACT_NONE, 1, seed += 8);
        }
    fathom_backend_free(&be);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
