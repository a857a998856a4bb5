/* test_cpu_bf16.c - the bf16 GEMM kernels (portable, AVX512-BF16, AMX) and the bf16 linear
 * ops against the plain-C reference; the FATHOM_CPU_KERNEL dispatcher forced to each variant.
 * Variants this CPU lacks SKIP (named in the output); the portable one runs everywhere.
 *
 * Tolerances (relative to max|ref|):
 *   kernel vs portable kernel, same bf16 inputs           1e-5  (fp32 sums in another order)
 *   bf16 linear vs reference on bf16-rounded inputs        1e-5  (the reference sums in double)
 *   bf16 linear vs fp32 reference on the unrounded inputs  1e-2  (bf16 keeps 8 bits: 2^-8
 *                                                         relative per input, random signs) */
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
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"
#include "model/weights.h"
#include "test_util.h"
#include "cpu_test_block.h"

static const fathom_cpu_bf16_kernel variants[] = {FATHOM_CPU_BF16_PORTABLE, FATHOM_CPU_BF16_AVX512,
                                                  FATHOM_CPU_BF16_AMX};

static void test_rounding(void **state) {
    (void)state;
    /* nearest, ties to even, at the 8-bit mantissa boundary */
    assert_int_equal(fathom_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(fathom_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);            /* tie -> even */
    assert_int_equal(fathom_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81); /* above the tie */
    assert_int_equal(fathom_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);        /* tie -> even (up) */
    assert_int_equal(fathom_f32_to_bf16(-2.0f), 0xc000);
    assert_true(isnan(fathom_bf16_to_f32(fathom_f32_to_bf16(NAN))));
    assert_true(isinf(fathom_bf16_to_f32(fathom_f32_to_bf16(INFINITY))));
    for (float x = -3.0f; x < 3.0f; x += 0.0137f) {
        float r = fathom_bf16_to_f32(fathom_f32_to_bf16(x));
        assert_true(fabsf(r - x) <= fabsf(x) * 0x1p-8f); /* half an ulp of 8 bits */
    }
}

/* the vectorized row conversion rounds exactly as the scalar one (normal numbers) */
static void test_rows_avx512(void **state) {
    (void)state;
    if (!fathom_cpu_bf16_kernel_available(FATHOM_CPU_BF16_AVX512)) {
        printf("SKIP avx512bf16 row conversion: not on this CPU\n");
        return;
    }
    const int rows = 3, K = 75, Kp = 96;
    float *x = tu_random_alloc((size_t)rows * K, 3, 100.0f);
    uint16_t a[3 * 96], b[3 * 96];
    memset(a, 0xff, sizeof a), memset(b, 0xee, sizeof b);
    fathom_cpu_bf16_rows(a, x, rows, K, Kp);
    fathom_cpu_bf16_rows_avx512(b, x, rows, K, Kp);
    assert_memory_equal(a, b, sizeof a);
    /* attention's converters: scaled rows (with a tail) and v^T pair rows */
    fathom_cpu_bf16_scale(a, x, K, 0.125f);
    fathom_cpu_bf16_scale_avx512(b, x, K, 0.125f);
    assert_memory_equal(a, b, K * sizeof *a);
    fathom_cpu_bf16_pair_rows(a, x, x + 40);
    fathom_cpu_bf16_pair_rows_avx512(b, x, x + 40);
    assert_memory_equal(a, b, 64 * sizeof *a);
    for (int j = 0; j < 32; j++) {
        assert_int_equal(a[2 * j], fathom_f32_to_bf16(x[j]));
        assert_int_equal(a[2 * j + 1], fathom_f32_to_bf16(x[40 + j]));
    }
    free(x);
}

/* softmax's fused pass: the bf16 exponentials of the two-pass path, zero padded, same sum */
static void test_exp_bf16(void **state) {
    (void)state;
    enum { N = 203, NP = 224 };
    float *x = tu_random_alloc(N, 7, 20.0f), e[N];
    memcpy(e, x, sizeof e);
    float m = fathom_cpu_max(x, N);
    int hit = 0;
    for (int i = 0; i < N; i++) assert_true(x[i] <= m), hit |= x[i] == m;
    assert_true(hit);
    float s2 = fathom_cpu_exp_shift_sum(e, N, m);
    uint16_t p[NP];
    memset(p, 0xff, sizeof p);
    float s1 = fathom_cpu_exp_shift_sum_bf16(p, x, N, NP, m);
    assert_true(fabsf(s1 - s2) <= 1e-6f * s2);
    for (int i = 0; i < N; i++) assert_int_equal(p[i], fathom_f32_to_bf16(e[i]));
    for (int i = N; i < NP; i++) assert_int_equal(p[i], 0);
    /* the AVX-512 one (a 4.2e-5-accurate exp): within one bf16 step of exp rounded once, the
     * sum within 1e-4 */
    if (fathom_cpu_bf16_kernel_available(FATHOM_CPU_BF16_AVX512)) {
        memset(p, 0xff, sizeof p);
        float s3 = fathom_cpu_exp_bf16_avx512(p, x, N, NP, m);
        assert_true(fabsf(s3 - s2) <= 1e-4f * s2);
        for (int i = 0; i < N; i++)
            assert_true(abs((int)p[i] - (int)fathom_f32_to_bf16((float)exp((double)x[i] - m))) <= 1);
        for (int i = N; i < NP; i++) assert_int_equal(p[i], 0);
    } else {
        printf("SKIP avx512bf16 softmax pass: not on this CPU\n");
    }
    free(x);
}

/* the reduced-precision engines' GELU epilogue against the fp32 one (erf to 3e-7 vs 2.5e-8):
 * over [-12, 12] with a tail of 13 and a bias */
static void test_gelu_avx512(void **state) {
    (void)state;
    if (!fathom_cpu_has_avx512()) {
        printf("SKIP avx512 GELU epilogue: not on this CPU\n");
        return;
    }
    enum { N = 2061 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *b = malloc(N * sizeof *b);
    for (int i = 0; i < N; i++) x[i] = -12.0f + 24.0f * i / (N - 1), b[i] = 0.01f * (i % 7);
    double worst = 0;
    for (int bias = 0; bias < 2; bias++) {
        memcpy(y, x, N * sizeof *x);
        fathom_cpu_bias_act(y, bias ? b : NULL, N, FATHOM_ACT_GELU);
        float *z = malloc(N * sizeof *z);
        memcpy(z, x, N * sizeof *x);
        fathom_cpu_bias_gelu_avx512(z, bias ? b : NULL, N);
        for (int i = 0; i < N; i++) {
            double d = fabs((double)z[i] - y[i]) / (1.0 + fabs(x[i]));
            worst = fmax(worst, d);
            assert_true(d <= 3e-7);
        }
        free(z);
    }
    printf("avx512 GELU vs fp32 GELU: max |d| / (1 + |x|) %.3g\n", worst);
    free(x), free(y), free(b);
}

/* pack + kernels: every variant against the portable one, and the portable one against a
 * double sum of the same bf16 values, over shapes with row, column and K tails */
static void test_kernels(void **state) {
    (void)state;
    int ran = 0;
    for (size_t s = 0; s < TB_NSHAPES; s++) {
        int M, N, K;
        float *w, *x;
        int rows = tb_gemm_case(s, &M, &N, &K, &w, &x);
        fathom_bf16_mat m;
        assert_int_equal(fathom_cpu_bf16_mat_pack(&m, w, N, K), FATHOM_OK);
        uint16_t *a = calloc((size_t)rows * m.Kp, sizeof *a);
        fathom_cpu_bf16_rows(a, x, M, K, m.Kp);
        float *ref = malloc((size_t)M * N * sizeof *ref), *out = malloc((size_t)M * N * sizeof *out);
        double maxref = 0, maxd = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double d = 0;
                for (int k = 0; k < K; k++)
                    d += (double)fathom_bf16_to_f32(fathom_f32_to_bf16(x[(size_t)i * K + k])) *
                         fathom_bf16_to_f32(fathom_f32_to_bf16(w[(size_t)j * K + k]));
                ref[(size_t)i * N + j] = (float)d;
                maxref = fmax(maxref, fabs(d));
            }
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            fathom_cpu_bf16_kernel k = variants[v];
            if (!fathom_cpu_bf16_kernel_available(k)) {
                printf("SKIP %s: not on this CPU\n", fathom_cpu_bf16_kernel_name(k));
                continue;
            }
            /* whole N, and from column 32 on (panel offset), into a wider output */
            memset(out, 0xff, (size_t)M * N * sizeof *out);
            fathom_cpu_gemm_bf16(k, out, N, a, &m, 0, N, M);
            maxd = 0;
            for (size_t i = 0; i < (size_t)M * N; i++) maxd = fmax(maxd, fabs(out[i] - ref[i]));
            printf("%-10s M %4d N %4d K %4d: max|d| %.3g of max|ref| %.3g\n",
                   fathom_cpu_bf16_kernel_name(k), M, N, K, maxd, maxref);
            assert_true(maxd <= 1e-5 * maxref);
            if (N > 32) {
                memset(out, 0xff, (size_t)M * N * sizeof *out);
                fathom_cpu_gemm_bf16(k, out, N, a, &m, 32, N - 32, M);
                for (int i = 0; i < M; i++)
                    for (int j = 32; j < N; j++)
                        assert_true(fabs(out[(size_t)i * N + j - 32] - ref[(size_t)i * N + j]) <=
                                    1e-5 * maxref);
            }
            /* with an epilogue (per 32 x 32 block on AMX): each element handed over once, final */
            for (int n0 = 0; n0 <= 32 && n0 < N; n0 += 32) {
                tb_ep e;
                memset(out, 0xff, (size_t)M * N * sizeof *out);
                tb_ep_init(&e, out, (size_t)N, M, 7);
                fathom_cpu_gemm_bf16_ep(k, out, N, a, &m, n0, N - n0, M, &e.ep);
                assert_true(tb_ep_done(&e, N - n0));
                for (int i = 0; i < M; i++)
                    for (int j = n0; j < N; j++)
                        assert_true(fabs(out[(size_t)i * N + j - n0] - 1.0f - ref[(size_t)i * N + j]) <=
                                    1e-5 * maxref + 1e-6);
            }
            ran++;
        }
        fathom_cpu_bf16_mat_free(&m);
        free(a), free(ref), free(out), free(w), free(x);
    }
    assert_true(ran >= 6); /* the portable kernel at least */
}

/* The backend's linear / linear_residual with bf16 weights packed by fathom_cpu_bf16_prepare,
 * once per variant forced through FATHOM_CPU_KERNEL (the dispatcher must report it). */
static void test_linear_ops(void **state) {
    (void)state;
    tb_block t;
    tb_make(&t);
    const int M = TB_M, Hm = TB_HM;
    const float *bias = t.bias, *in = t.in;
    const tb_case *cases = t.cases;
    float *out = malloc((size_t)M * Hm * 4 * sizeof *out), *ref = malloc((size_t)M * Hm * 4 * sizeof *ref);
    float *ref32 = malloc((size_t)M * Hm * 4 * sizeof *ref32);
    int ran = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        fathom_cpu_bf16_kernel k = variants[v];
        if (!fathom_cpu_bf16_kernel_available(k)) {
            printf("SKIP %s: not on this CPU\n", fathom_cpu_bf16_kernel_name(k));
            continue;
        }
        fathom_backend *be = NULL;
        assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
        setenv("FATHOM_CPU_KERNEL", fathom_cpu_bf16_kernel_name(k), 1);
        assert_int_equal(fathom_cpu_bf16_prepare(be, &t.w), FATHOM_OK);
        unsetenv("FATHOM_CPU_KERNEL");
        assert_int_equal(fathom_cpu_bf16_kernel_of(be), k);
        char desc[256];
        fathom_cpu_describe(be, desc, sizeof desc);
        printf("%s\n", desc);
        assert_non_null(strstr(desc, fathom_cpu_bf16_kernel_name(k)));
        for (size_t c = 0; c < TB_NCASE; c++) {
            int N = cases[c].N, K = cases[c].K;
            assert_non_null(fathom_cpu_bf16_find(be, cases[c].w));
            float *wr = tb_rounded(cases[c].w, (size_t)N * K), *ir = tb_rounded(in, (size_t)M * K);
            tb_run(be, &t, &cases[c], ir, wr, out, ref, ref32);
            char name[64];
            snprintf(name, sizeof name, "%s %s N%d K%d", fathom_cpu_bf16_kernel_name(k),
                     cases[c].residual ? "resid" : "linear", N, K);
            assert_true(tu_check(name, out, ref, (size_t)M * N, 1e-5, -1));
            assert_true(tu_check("  vs fp32", out, ref32, (size_t)M * N, 1e-2, -1));
            free(wr), free(ir);
        }
        /* weights it did not pack take the fp32 path */
        assert_null(fathom_cpu_bf16_find(be, bias));
        fathom_backend_free(&be);
        ran++;
    }
    assert_true(ran >= 1);
    free(out), free(ref), free(ref32);
    tb_free(&t);
}

/* Attention of a backend holding bf16 weights: bf16 q, k, p, v on the forced GEMM variant
 * (cpu_attention_bf16.c) against the fp32 reference; head dims that are not multiples of 32
 * take the fp32 path (1e-4). */
static void test_attention(void **state) {
    (void)state;
    /* ramp: scores rise by 4 every 32 keys (16 per 128-key block), so every flash kernel moves
     * its reference max and rescales O in every block; the ramp's terms (q 32, k the key's
     * 32-key panel index) are exact in bf16, the rest is noise of amplitude 0.5 */
    static const struct { int B, L, D, heads, ramp; } shapes[] = {
        {2, 77, 128, 2, 0}, {1, 200, 96, 3, 0}, {1, 391, 384, 6, 0}, {1, 33, 96, 2, 0} /* hd 48: fp32 */,
        {2, 391, 128, 2, 1}};
    tb_block t; /* weights for prepare_weights to pack: it sets the backend's format */
    tb_make(&t);
    int ran = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        fathom_cpu_bf16_kernel k = variants[v];
        if (!fathom_cpu_bf16_kernel_available(k)) {
            printf("SKIP %s attention: not on this CPU\n", fathom_cpu_bf16_kernel_name(k));
            continue;
        }
        fathom_backend *be = NULL;
        assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
        setenv("FATHOM_CPU_KERNEL", fathom_cpu_bf16_kernel_name(k), 1);
        assert_int_equal(be->ops->prepare_weights(be, &t.w, FATHOM_PRECISION_BF16, FATHOM_WEIGHTS_DEFAULT),
                         FATHOM_OK);
        unsetenv("FATHOM_CPU_KERNEL");
        assert_int_equal(fathom_cpu_bf16_act_kernel(be), k);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int B = shapes[s].B, L = shapes[s].L, D = shapes[s].D, H = shapes[s].heads;
            size_t n = (size_t)B * L * D;
            float *qkv = tu_random_alloc(3 * n, 50 + s, shapes[s].ramp ? 0.5f : 1.5f);
            for (int r = 0; shapes[s].ramp && r < B * L; r++)
                for (int h = 0; h < H; h++) {
                    qkv[(size_t)r * 3 * D + h * (D / H)] = 32.0f;
                    qkv[(size_t)r * 3 * D + D + h * (D / H)] = (float)(r % L / 32);
                }
            float *out = malloc(n * sizeof *out), *ref = malloc(n * sizeof *ref);
            float scale = 1.0f / sqrtf((float)(D / H));
            int bf = fathom_cpu_attention_bf16_fits(L, D / H);
            assert_int_equal(bf, (D / H) % 32 == 0);
            be->ops->attention(be, out, qkv, B, L, D, H, scale);
            fathom_ref_attention(ref, qkv, B, L, D, H, scale);
            char name[96];
            snprintf(name, sizeof name, "%s attention B%d L%d D%d h%d%s%s", fathom_cpu_bf16_kernel_name(k),
                     B, L, D, H, bf ? "" : " (fp32 path)", shapes[s].ramp ? " (rising scores)" : "");
            assert_true(tu_check(name, out, ref, n, bf ? 2e-2 : 1e-4, bf ? 4e-3 : -1));
            free(qkv), free(out), free(ref);
        }
        fathom_backend_free(&be);
        ran++;
    }
    assert_true(ran >= 1);
    tb_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_rows_avx512),
        cmocka_unit_test(test_exp_bf16),
        cmocka_unit_test(test_gelu_avx512),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_linear_ops),
        cmocka_unit_test(test_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
