/* test_vda_fp16.c - `--precision fp16` stays finite on the worst case (tests/vda/vda_fp16_case.h):
 * the plain-C twin of the CUDA fp16 GEMM (fathom_ref_linear_fp16, inputs rounded with
 * fathom_ref_round_fp16) through VDA's temporal feed-forward block, GEGLU products up to 4e5, against fp32.
 * Without the guard (the GEGLU product rounded to fp16 as is) the output is inf/NaN; with it
 * (that GEMM's inputs rounded to TF32) it is within the fp16 GEMM tolerance of fp32.
 * `--precision bf16` (CUDA, and the CPU's bf16 engine) rounds GEMM inputs to bf16 (fp32's
 * range): the same case through a bf16-input GEMM stays finite with no guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/ref_ops.h"
#include "test_util.h"
#include "vda/vda_fp16_case.h"

/* the fp16 and bf16 GEMM tolerances of tests/ops/test_backend_ops.c (max|d| / max|ref|) */
#define FP16_TOL 5e-3
#define BF16_TOL 3e-2

/* fp32 -> bf16 -> fp32, round to nearest even (inf / NaN kept), as the conversions on both
 * backends */
static float round_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) != 0x7f800000u) u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* a GEMM with bf16 inputs and fp32 accumulation */
static void linear_bf16(float *out, const float *in, const float *w, const float *b, int M, int N, int K) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += round_bf16(in[(size_t)m * K + k]) * round_bf16(w[(size_t)n * K + k]);
            out[(size_t)m * N + n] = acc + (b ? b[n] : 0.0f);
        }
}

static size_t count_nonfinite(const float *x, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(x[i]);
    return bad;
}

static void test_rounding(void **state) {
    (void)state;
    assert_true(isinf(fathom_ref_round_fp16(65520.0f)));
    assert_true(fathom_ref_round_fp16(65504.0f) == 65504.0f);
    assert_true(fathom_ref_round_fp16(1.0f + 1.0f / 4096) == 1.0f); /* below half an fp16 ulp */
    /* TF32: fp16's 10-bit mantissa, fp32's exponent */
    assert_true(fathom_ref_round_tf32(1.0f + 1.0f / 4096) == 1.0f);
    assert_true(fathom_ref_round_tf32(1.0f + 1.0f / 1024) == 1.0f + 1.0f / 1024);
    assert_true(fathom_ref_round_tf32(1.0f + 3.0f / 2048) == 1.0f + 2.0f / 1024); /* tie: even */
    float big = fathom_ref_round_tf32(4.0e5f);
    assert_true(isfinite(big) && fabsf(big - 4.0e5f) <= 4.0e5f / 2048);
    assert_true(fathom_ref_round_tf32(-3.0e38f) < -2.9e38f);
    assert_true(isinf(fathom_ref_round_tf32(INFINITY)));
}

/* The whole block in fp16 semantics; wide_ff2: the guard on the GEGLU product. */
static float *run_fp16(const fp16_case *k, int wide_ff2) {
    const int rows = k->rows, C = k->C;
    float *hid = malloc((size_t)rows * 8 * C * sizeof(float));
    float *gg = malloc((size_t)rows * 4 * C * sizeof(float));
    float *out = malloc((size_t)rows * C * sizeof(float));
    assert_non_null(hid), assert_non_null(gg), assert_non_null(out);
    /* LayerNorm in fp32 (statistics in double), as on the device */
    fathom_ref_linear_fp16(hid, k->ln, k->w1, k->b1, rows, 8 * C, C, FATHOM_ACT_NONE, 0);
    fathom_ref_geglu(gg, hid, rows, 4 * C);
    fathom_ref_linear_fp16(out, gg, k->w2, k->b2, rows, C, 4 * C, FATHOM_ACT_NONE, wide_ff2);
    free(hid), free(gg);
    return out;
}

static void check_case(int T, int P, int C, uint64_t seed) {
    fp16_case k;
    memset(&k, 0, sizeof k);
    assert_true(fp16_case_make(&k, T, P, C, seed));
    const size_t n = (size_t)k.rows * C;
    float peak = fp16_case_amax(k.gg, (size_t)k.rows * 4 * C);
    printf("case T %d P %d C %d seed %llu: max GEGLU product %.3g, max|ref| %.3g\n", T, P, C,
           (unsigned long long)seed, peak, fp16_case_amax(k.ref, n));
    assert_true(peak > 1.0e5f);
    assert_true(count_nonfinite(k.ref, n) == 0);

    /* the case is a real overflow: fp16 rounding of the product as is breaks the output */
    float *raw = run_fp16(&k, 0);
    size_t bad = count_nonfinite(raw, n);
    printf("  unguarded fp16: %zu of %zu outputs inf/NaN\n", bad, n);
    assert_true(bad > 0);
    free(raw);

    float *out = run_fp16(&k, 1);
    assert_int_equal(count_nonfinite(out, n), 0);
    assert_true(tu_check("guarded fp16 vs fp32", out, k.ref, n, FP16_TOL, -1));
    free(out);

    /* bf16: every GEMM input rounded to bf16, no guard */
    float *hid = malloc((size_t)k.rows * 8 * C * sizeof(float));
    float *gg = malloc((size_t)k.rows * 4 * C * sizeof(float));
    out = malloc(n * sizeof(float));
    assert_non_null(hid), assert_non_null(gg), assert_non_null(out);
    linear_bf16(hid, k.ln, k.w1, k.b1, k.rows, 8 * C, C);
    fathom_ref_geglu(gg, hid, k.rows, 4 * C);
    linear_bf16(out, gg, k.w2, k.b2, k.rows, C, 4 * C);
    assert_int_equal(count_nonfinite(out, n), 0);
    assert_true(tu_check("bf16 vs fp32", out, k.ref, n, BF16_TOL, -1));
    free(hid), free(gg), free(out);
    fp16_case_free(&k);
}

static void test_worst_case(void **state) {
    (void)state;
    check_case(32, 6, 32, 11);  /* a window: 32 frames */
    check_case(32, 5, 48, 907); /* other seed and width */
    check_case(1, 40, 64, 23);  /* streaming: one frame, more positions */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_worst_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
