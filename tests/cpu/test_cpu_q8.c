/* test_cpu_q8.c - the int8 GEMM kernels (portable, AVX512-VNNI, AMX-INT8), the row quantizers
 * and the int8 linear ops; FATHOM_CPU_KERNEL forced to each variant. Variants this CPU lacks
 * SKIP (named in the output).
 *
 * The integer sums are exact and every kernel scales them with the same fp32 expression, so
 * the variants must agree bit for bit with the portable kernel (GELU outputs to 1e-6: the fast
 * kernels' epilogue has the AVX-512 GELU, erf to 3e-7), and the portable kernel with a
 * double sum of the same int8 values to 1e-6 relative. Against the fp32 reference on the
 * unquantized inputs the bound is 3e-2 of max|ref| (7 bits + sign per weight channel and
 * activation row; measured ~6e-3 on these random inputs). */
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
#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/ref_ops.h"
#include "model/weights.h"
#include "test_util.h"
#include "cpu_test_block.h"

static const fathom_cpu_q8_kernel variants[] = {FATHOM_CPU_Q8_PORTABLE, FATHOM_CPU_Q8_VNNI,
                                                FATHOM_CPU_Q8_AMX};

static void test_quantize(void **state) {
    (void)state;
    const int rows = 3, K = 75, Kp = 128;
    float *x = tu_random_alloc((size_t)rows * K, 3, 10.0f);
    x[5] = 0.0f;
    int8_t a[3 * 128], b[3 * 128];
    float sa[3], sb[3];
    memset(a, 0x55, sizeof a), memset(b, 0x66, sizeof b);
    fathom_cpu_q8_rows(a, sa, x, rows, K, Kp);
    for (int r = 0; r < rows; r++) {
        float amax = 0;
        for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[r * K + k]));
        assert_true(fabsf(sa[r] - amax / 127.0f) <= 1e-6f * amax);
        for (int k = 0; k < K; k++) /* within half a step, and the max maps to +-127 */
            assert_true(fabsf(a[r * Kp + k] * sa[r] - x[r * K + k]) <= 0.5001f * sa[r]);
        for (int k = K; k < Kp; k++) assert_int_equal(a[r * Kp + k], 0);
    }
    if (fathom_cpu_q8_kernel_available(FATHOM_CPU_Q8_VNNI)) {
        fathom_cpu_q8_rows_avx512(b, sb, x, rows, K, Kp);
        assert_memory_equal(a, b, sizeof a);
        assert_memory_equal(sa, sb, sizeof sa);
    } else {
        printf("SKIP avx512 row quantizer: not on this CPU\n");
    }
    free(x);
}

static void test_kernels(void **state) {
    (void)state;
    int ran = 0;
    for (size_t s = 0; s < TB_NSHAPES; s++) {
        int M, N, K;
        float *w, *x;
        int rows = tb_gemm_case(s, &M, &N, &K, &w, &x);
        fathom_q8_mat m;
        assert_int_equal(fathom_cpu_q8_mat_pack(&m, w, N, K), FATHOM_OK);
        int8_t *a = calloc((size_t)rows * m.Kp, 1);
        float *sa = calloc(rows, sizeof *sa);
        fathom_cpu_q8_rows(a, sa, x, M, K, m.Kp);
        /* unpack the weights through the layout formula and check the double sums */
        float *ref = malloc((size_t)M * N * sizeof *ref), *out = malloc((size_t)M * N * sizeof *out);
        fathom_cpu_gemm_q8_portable(ref, N, a, sa, &m, 0, N, M);
        double maxd = 0, maxref = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double d = 0;
                for (int k = 0; k < K; k++) {
                    size_t at = ((size_t)(j / 32) * (m.Kp / 4) + k / 4) * 128 + (j % 32) * 4 + k % 4;
                    d += (double)a[(size_t)i * m.Kp + k] * m.w[at];
                    /* each weight is its scale times the int8 value to half a step */
                    assert_true(fabs(m.w[at] * (double)m.scale[j] - w[(size_t)j * K + k]) <=
                                0.5001 * m.scale[j]);
                }
                d *= (double)sa[i] * m.scale[j];
                maxd = fmax(maxd, fabs(d - ref[(size_t)i * N + j]));
                maxref = fmax(maxref, fabs(d));
            }
        assert_true(maxd <= 1e-6 * maxref);
        for (size_t v = 1; v < sizeof variants / sizeof variants[0]; v++) {
            fathom_cpu_q8_kernel k = variants[v];
            if (!fathom_cpu_q8_kernel_available(k)) {
                printf("SKIP %s: not on this CPU\n", fathom_cpu_q8_kernel_name(k));
                continue;
            }
            memset(out, 0xff, (size_t)M * N * sizeof *out);
            fathom_cpu_gemm_q8(k, out, N, a, sa, &m, 0, N, M);
            printf("%-10s M %4d N %4d K %4d: bit-identical to portable\n", fathom_cpu_q8_kernel_name(k), M, N, K);
            assert_memory_equal(out, ref, (size_t)M * N * sizeof *out);
            if (N > 32) { /* from the second panel on */
                fathom_cpu_gemm_q8(k, out, N, a, sa, &m, 32, N - 32, M);
                for (int i = 0; i < M; i++)
                    assert_memory_equal(out + (size_t)i * N, ref + (size_t)i * N + 32,
                                        (size_t)(N - 32) * sizeof *out);
            }
            /* with an epilogue (per 32 x 32 block on AMX): each element handed over once, final */
            for (int n0 = 0; n0 <= 32 && n0 < N; n0 += 32) {
                tb_ep e;
                memset(out, 0xff, (size_t)M * N * sizeof *out);
                tb_ep_init(&e, out, (size_t)N, M, 5);
                fathom_cpu_gemm_q8_ep(k, out, N, a, sa, &m, n0, N - n0, M, &e.ep);
                assert_true(tb_ep_done(&e, N - n0));
                for (int i = 0; i < M; i++)
                    for (int j = n0; j < N; j++) assert_true(out[(size_t)i * N + j - n0] == ref[(size_t)i * N + j] + 1.0f);
            }
            ran++;
        }
        fathom_cpu_q8_mat_free(&m);
        free(a), free(sa), free(ref), free(out), free(w), free(x);
    }
    printf("%d variant runs\n", ran);
}

static void test_linear_ops(void **state) {
    (void)state;
    tb_block t;
    tb_make(&t);
    const int M = TB_M, D = TB_D;
    const tb_case *cases = t.cases;
    size_t big = (size_t)M * 3 * D;
    float *out = malloc(big * sizeof *out), *ref = malloc(big * sizeof *ref);
    float *first = malloc(TB_NCASE * big * sizeof *first);
    int ran = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        fathom_cpu_q8_kernel k = variants[v];
        if (!fathom_cpu_q8_kernel_available(k)) {
            printf("SKIP %s: not on this CPU\n", fathom_cpu_q8_kernel_name(k));
            continue;
        }
        fathom_backend *be = NULL;
        assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
        setenv("FATHOM_CPU_KERNEL", fathom_cpu_q8_kernel_name(k), 1);
        assert_int_equal(fathom_cpu_q8_prepare(be, &t.w), FATHOM_OK);
        unsetenv("FATHOM_CPU_KERNEL");
        assert_int_equal(fathom_cpu_q8_kernel_of(be), k);
        assert_int_equal(fathom_cpu_bf16_kernel_of(be), -1);
        /* attention: bf16, on the reference kernel when int8 is forced portable, else on a
         * fast bf16 kernel or (none on this CPU) fp32 */
        int ak = fathom_cpu_bf16_act_kernel(be);
        if (k == FATHOM_CPU_Q8_PORTABLE) assert_int_equal(ak, FATHOM_CPU_BF16_PORTABLE);
        else assert_true(ak == -1 || (ak != FATHOM_CPU_BF16_PORTABLE && fathom_cpu_bf16_kernel_available(ak)));
        for (size_t c = 0; c < TB_NCASE; c++) {
            int N = cases[c].N, K = cases[c].K;
            assert_non_null(fathom_cpu_q8_find(be, cases[c].w));
            assert_null(fathom_cpu_bf16_find(be, cases[c].w));
            tb_run(be, &t, &cases[c], t.in, cases[c].w, out, ref, NULL);
            char name[64];
            snprintf(name, sizeof name, "%s %s N%d K%d vs fp32", fathom_cpu_q8_kernel_name(k),
                     cases[c].residual ? "resid" : "linear", N, K);
            assert_true(tu_check(name, out, ref, (size_t)M * N, 3e-2, -1));
            /* every variant gives the same bits as the first one that ran (portable); GELU
             * epilogues within 1e-6 (erf to 3e-7 against 2.5e-8) */
            if (ran == 0) memcpy(first + c * big, out, (size_t)M * N * sizeof *out);
            else if (cases[c].act == FATHOM_ACT_GELU)
                assert_true(tu_check(name, out, first + c * big, (size_t)M * N, 1e-6, -1));
            else assert_memory_equal(first + c * big, out, (size_t)M * N * sizeof *out);
        }
        fathom_backend_free(&be);
        ran++;
    }
    assert_true(ran >= 1);
    free(out), free(ref), free(first);
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
