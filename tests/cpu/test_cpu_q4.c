/* test_cpu_q4.c - 4-bit weights (--weights q4): the quantizer, the portable and AVX-512 panel
 * dequantizers, the q4 GEMM with each bf16 kernel (portable, AVX512-BF16, AMX) and the q4
 * linear ops through the backend's prepare_weights entry, FATHOM_CPU_KERNEL forced to each
 * variant. Variants this CPU lacks SKIP (named in the output).
 *
 * A q4 GEMM is defined as the bf16 GEMM on the dequantized weights bf16(q * d), so each variant
 * must give the same bits as the bf16 kernel of that variant on a matrix packed from those
 * weights, and the linear ops must match the fp32 reference on bf16-rounded inputs and
 * dequantized weights to 1e-5. Against fp32 on the original weights the bound is 1.5e-1 max,
 * 4e-2 rms of max|ref| (4 bits a weight, one scale per 32, on short K = 75..200 sums; measured
 * 5.1e-2 .. 7.2e-2 max, 0.8e-2 .. 1.7e-2 rms on these random inputs). */
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
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/ref_ops.h"
#include "core/alloc.h"
#include "model/weights.h"
#include "test_util.h"
#include "cpu_test_block.h"

static const fathom_cpu_bf16_kernel variants[] = {FATHOM_CPU_BF16_PORTABLE, FATHOM_CPU_BF16_AVX512,
                                                  FATHOM_CPU_BF16_AMX};

static void test_quantize(void **state) {
    (void)state;
    static const int shapes[][2] = {{40, 75}, {64, 384}, {7, 3}, {33, 1536}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], K = shapes[s][1];
        float *w = tu_random_alloc((size_t)N * K, 41 + s, 0.5f);
        for (int k = 0; k < K && k < 32; k++) w[k] = 0.0f; /* an all-zero group */
        fathom_q4_mat m;
        assert_int_equal(fathom_cpu_q4_mat_pack(&m, w, N, K), FATHOM_OK);
        assert_int_equal(m.Kp % 32, 0);
        assert_int_equal(fathom_cpu_q4_mat_bytes(&m), (size_t)m.Np * m.Kp / 2 + (size_t)m.Np * m.Kp / 16);
        if (N % 32 == 0 && K % 32 == 0) /* 4.5 bits a weight: 7.1x less than fp32 */
            assert_true(fathom_cpu_q4_mat_bytes(&m) * 7 < (size_t)N * K * 4);
        float *dq = tb_dequantized(&m);
        double se = 0, ss = 0;
        for (int n = 0; n < N; n++)
            for (int g = 0; g < K; g += 32) {
                float amax = 0;
                for (int k = g; k < K && k < g + 32; k++) amax = fmaxf(amax, fabsf(w[(size_t)n * K + k]));
                for (int k = g; k < K && k < g + 32; k++) {
                    /* within one step (amax / 8: the far side of the range is clipped at +7),
                     * plus the bf16 roundings of the scale and of the result */
                    double err = fabs(dq[(size_t)n * K + k] - w[(size_t)n * K + k]);
                    if (!(err <= amax / 8.0 * 1.05 + 1e-30))
                        fail_msg("n %d k %d: w %g -> %g, amax %g", n, k, w[(size_t)n * K + k],
                                 dq[(size_t)n * K + k], amax);
                    se += err * err, ss += (double)w[(size_t)n * K + k] * w[(size_t)n * K + k];
                }
            }
        printf("q4 %3d x %4d: rms error %.3g of rms weight\n", N, K, sqrt(se / ss));
        assert_true(sqrt(se / ss) < 0.12); /* ~0.08 for uniform weights */
        assert_float_equal(dq[0], 0.0f, 0.0f);
        /* the two dequantizers give the same bits, and the layout formula's values */
        uint16_t *p0 = calloc((size_t)m.Kp * 32, 2), *p1 = calloc((size_t)m.Kp * 32, 2);
        for (int p = 0; p < m.Np / 32; p++) {
            fathom_cpu_q4_dequant_panel(p0, &m, p);
            for (int n = p * 32; n < N && n < p * 32 + 32; n++)
                for (int k = 0; k < K; k++)
                    assert_true(fathom_bf16_to_f32(p0[(size_t)(k / 2) * 64 + (n % 32) * 2 + k % 2]) ==
                                dq[(size_t)n * K + k]);
            if (fathom_cpu_bf16_kernel_available(FATHOM_CPU_BF16_AVX512)) {
                fathom_cpu_q4_dequant_panel_avx512(p1, &m, p);
                assert_memory_equal(p0, p1, (size_t)m.Kp * 32 * 2);
            }
        }
        if (!fathom_cpu_bf16_kernel_available(FATHOM_CPU_BF16_AVX512))
            printf("SKIP avx512 dequantizer: not on this CPU\n");
        free(p0), free(p1), free(dq), free(w);
        fathom_cpu_q4_mat_free(&m);
    }
}

static void test_kernels(void **state) {
    (void)state;
    int ran = 0;
    for (size_t s = 0; s < TB_NSHAPES; s++) {
        int M, N, K;
        float *w, *x;
        int rows = tb_gemm_case(s, &M, &N, &K, &w, &x);
        fathom_q4_mat m;
        fathom_bf16_mat mb;
        assert_int_equal(fathom_cpu_q4_mat_pack(&m, w, N, K), FATHOM_OK);
        float *dq = tb_dequantized(&m);
        assert_int_equal(fathom_cpu_bf16_mat_pack(&mb, dq, N, K), FATHOM_OK);
        assert_int_equal(mb.Kp, m.Kp);
        uint16_t *a = calloc((size_t)rows * m.Kp, sizeof *a);
        uint16_t *panel = fathom_calloc((size_t)m.Kp * 32 * sizeof *panel);
        fathom_cpu_bf16_rows(a, x, M, K, m.Kp);
        float *ref = malloc((size_t)M * N * sizeof *ref), *out = malloc((size_t)M * N * sizeof *out);
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            fathom_cpu_bf16_kernel k = variants[v];
            if (!fathom_cpu_bf16_kernel_available(k)) {
                printf("SKIP %s: not on this CPU\n", fathom_cpu_bf16_kernel_name(k));
                continue;
            }
            fathom_cpu_gemm_bf16(k, ref, N, a, &mb, 0, N, M);
            memset(out, 0xff, (size_t)M * N * sizeof *out);
            fathom_cpu_gemm_q4(k, out, N, a, &m, 0, N, M, panel);
            printf("%-10s M %4d N %4d K %4d: q4 = bf16 on the dequantized weights\n",
                   fathom_cpu_bf16_kernel_name(k), M, N, K);
            assert_memory_equal(out, ref, (size_t)M * N * sizeof *out);
            if (N > 32) { /* from the second panel on */
                fathom_cpu_gemm_q4(k, out, N, a, &m, 32, N - 32, M, panel);
                for (int i = 0; i < M; i++)
                    assert_memory_equal(out + (size_t)i * N, ref + (size_t)i * N + 32,
                                        (size_t)(N - 32) * sizeof *out);
            }
            ran++;
        }
        fathom_cpu_q4_mat_free(&m);
        fathom_cpu_bf16_mat_free(&mb);
        fathom_free_sized(panel, (size_t)m.Kp * 32 * sizeof *panel);
        free(a), free(ref), free(out), free(w), free(x), free(dq);
    }
    printf("%d variant runs\n", ran);
    assert_true(ran >= 6);
}

/* The backend's linear / linear_residual after prepare_weights(FATHOM_WEIGHTS_Q4), once per
 * variant forced through FATHOM_CPU_KERNEL (the dispatcher must report it). */
static void test_linear_ops(void **state) {
    (void)state;
    tb_block t;
    tb_make(&t);
    const int M = TB_M, Hm = TB_HM;
    const float *bias = t.bias, *in = t.in;
    const tb_case *cases = t.cases;
    size_t big = (size_t)M * Hm * 4;
    float *out = malloc(big * sizeof *out), *ref = malloc(big * sizeof *ref);
    float *ref32 = malloc(big * sizeof *ref32);
    int ran = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        fathom_cpu_bf16_kernel k = variants[v];
        if (!fathom_cpu_bf16_kernel_available(k)) {
            printf("SKIP %s: not on this CPU\n", fathom_cpu_bf16_kernel_name(k));
            continue;
        }
        fathom_backend *be = NULL;
        assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
        assert_non_null(be->ops->prepare_weights);
        setenv("FATHOM_CPU_KERNEL", fathom_cpu_bf16_kernel_name(k), 1);
        assert_int_equal(be->ops->prepare_weights(be, &t.w, FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_Q4),
                         FATHOM_OK);
        unsetenv("FATHOM_CPU_KERNEL");
        assert_int_equal(fathom_cpu_q4_kernel_of(be), k);
        assert_int_equal(fathom_cpu_bf16_kernel_of(be), -1);
        assert_int_equal(fathom_cpu_q8_kernel_of(be), -1);
        char desc[256];
        be->ops->describe(be, desc, sizeof desc);
        printf("%s\n", desc);
        assert_non_null(strstr(desc, "cpu q4 weights, gemm "));
        assert_non_null(strstr(desc, fathom_cpu_bf16_kernel_name(k)));
        size_t packed, fp32;
        fathom_cpu_packed_bytes(be, &packed, &fp32);
        assert_true(packed > 0 && packed * 4 < fp32); /* 4.5 bits a weight, plus padding */
        for (size_t c = 0; c < TB_NCASE; c++) {
            int N = cases[c].N, K = cases[c].K;
            const fathom_q4_mat *qm = fathom_cpu_q4_find(be, cases[c].w);
            assert_non_null(qm);
            assert_null(fathom_cpu_bf16_find(be, cases[c].w));
            float *wr = tb_dequantized(qm), *ir = tb_rounded(in, (size_t)M * K);
            tb_run(be, &t, &cases[c], ir, wr, out, ref, ref32);
            char name[64];
            snprintf(name, sizeof name, "%s q4 %s N%d K%d", fathom_cpu_bf16_kernel_name(k),
                     cases[c].residual ? "resid" : "linear", N, K);
            assert_true(tu_check(name, out, ref, (size_t)M * N, 1e-5, -1));
            assert_true(tu_check("  vs fp32", out, ref32, (size_t)M * N, 1.5e-1, 4e-2));
            free(wr), free(ir);
        }
        assert_null(fathom_cpu_q4_find(be, bias)); /* weights it did not pack stay fp32 */
        /* the entry again: bf16, then fp32 (nothing packed) replace what was there */
        assert_int_equal(be->ops->prepare_weights(be, &t.w, FATHOM_PRECISION_BF16, FATHOM_WEIGHTS_DEFAULT),
                         FATHOM_OK);
        assert_null(fathom_cpu_q4_find(be, t.blk.qkv_w));
        assert_non_null(fathom_cpu_bf16_find(be, t.blk.qkv_w));
        assert_int_equal(be->ops->prepare_weights(be, &t.w, FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_DEFAULT),
                         FATHOM_OK);
        assert_null(fathom_cpu_bf16_find(be, t.blk.qkv_w));
        be->ops->describe(be, desc, sizeof desc);
        assert_non_null(strstr(desc, fathom_cpu_has_avx512() ? "cpu fp32, gemm avx512 sgemm" /* cpu_sgemm.h */
                                                             : "cpu fp32, gemm openblas sgemm"));
        fathom_backend_free(&be);
        ran++;
    }
    assert_true(ran >= 1);
    free(out), free(ref), free(ref32);
    tb_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_linear_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
