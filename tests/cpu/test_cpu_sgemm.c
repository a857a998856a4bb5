/* test_cpu_sgemm.c - the fp32 encoder GEMM of our own (cpu_sgemm.h): weight panels and the
 * linear, linear_residual, ln_linear and ln_mlp_residual ops on them against the plain-C
 * reference (fathom_ref_*, double sums) at the fp32 bound 1e-5 of max|ref|, over shapes with
 * row tails (M not a multiple of 14 or of a task's 56 rows, M = 1), column tails (N not a
 * multiple of 32, N < 16) and odd K; every activation; LayerNorm over rows with a large
 * common offset (the residual stream's cancellation trap). Also: the dispatch (panels only
 * with AVX-512, none under FATHOM_CPU_KERNEL=portable or a forced portable backend, which
 * then run OpenBLAS on the same weights and must agree). SKIP without AVX-512. */
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
#include "backend/cpu/cpu_sgemm.h"
#include "backend/cpu/ref_ops.h"
#include "test_util.h"

typedef struct shape {
    int M, N, K;
} shape;

static const shape shapes[] = {
    {1, 32, 64}, {13, 40, 75}, {14, 7, 3}, {57, 96, 64}, {130, 64, 33}, {71, 200, 130}, {3, 1024, 16},
    {500, 790, 24}, /* 25 panels a task: the rows packed first (cpu_sgemm.c) */
};
enum { NSHAPE = sizeof shapes / sizeof shapes[0] };

static float *rnd(size_t n, uint64_t seed, float amp, float off) {
    float *x = tu_random_alloc(n, seed, amp);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] += off;
    return x;
}

static fathom_backend *backend(void) {
    fathom_backend *be = NULL;
    assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
    return be;
}

/* each op of one shape on panels of w (and w2 for the MLP), against the reference */
static void check_shape(fathom_backend *be, const shape *s, uint64_t seed) {
    const int M = s->M, N = s->N, K = s->K;
    float *in = rnd((size_t)M * K, seed, 2.0f, 0.0f), *w = rnd((size_t)N * K, seed + 1, 0.3f, 0.0f);
    float *b = rnd((size_t)N, seed + 2, 1.0f, 0.0f), *g = rnd((size_t)N, seed + 3, 0.5f, 0.0f);
    float *x0 = rnd((size_t)M * N, seed + 4, 3.0f, 100.0f); /* residual rows with an offset */
    float *lw = rnd((size_t)K, seed + 5, 1.0f, 1.0f), *lb = rnd((size_t)K, seed + 6, 0.5f, 0.0f);
    float *xk = rnd((size_t)M * K, seed + 7, 3.0f, 100.0f); /* ln_linear's input, offset too */
    float *w2 = rnd((size_t)K * N, seed + 8, 0.3f, 0.0f), *b2 = rnd((size_t)K, seed + 9, 1.0f, 0.0f);
    float *g2 = rnd((size_t)K, seed + 10, 0.5f, 0.0f);
    const size_t big = (size_t)M * (N > K ? N : K);
    float *out = malloc(big * sizeof *out), *ref = malloc(big * sizeof *ref);
    float *y = malloc(big * sizeof *y), *h = malloc(big * sizeof *h);
    assert_true(out && ref && y && h);
    const float *ws[2] = {w, w2};
    const int Ns[2] = {N, K}, Ks[2] = {K, N};
    assert_int_equal(fathom_cpu_sgemm_pack(be, ws, Ns, Ks, 2), FATHOM_OK);
    assert_non_null(fathom_cpu_sgemm_find(be, w, N, K));
    assert_null(fathom_cpu_sgemm_find(be, w, N + 1, K)); /* another shape: not this panel set */
    char name[96];
    static const fathom_act acts[] = {FATHOM_ACT_NONE, FATHOM_ACT_GELU, FATHOM_ACT_RELU};
    static const char *act_name[] = {"none", "gelu", "relu"};
    const size_t mn = (size_t)M * N;
    for (int a = 0; a < 3; a++)
        for (int nb = 0; nb < 2; nb++) {
            const float *bb = nb ? NULL : b;
            be->ops->linear(be, out, in, w, bb, M, N, K, acts[a]);
            fathom_ref_linear(ref, in, w, bb, M, N, K, acts[a]);
            snprintf(name, sizeof name, "linear M%d N%d K%d %s%s", M, N, K, act_name[a], nb ? " no bias" : "");
            assert_true(tu_check(name, out, ref, mn, 1e-5, -1));
            be->ops->ln_linear(be, out, y, w, bb, xk, lw, lb, M, N, K, acts[a], 1e-6f);
            fathom_ref_ln_linear(ref, y, w, bb, xk, lw, lb, M, N, K, acts[a], 1e-6f);
            snprintf(name, sizeof name, "ln_linear M%d N%d K%d %s%s", M, N, K, act_name[a], nb ? " no bias" : "");
            assert_true(tu_check(name, out, ref, mn, 1e-5, -1));
        }
    for (int nb = 0; nb < 2; nb++) {
        memcpy(out, x0, mn * sizeof *out);
        memcpy(ref, x0, mn * sizeof *ref);
        be->ops->linear_residual(be, out, in, w, nb ? NULL : b, g, M, N, K);
        fathom_ref_linear_residual(ref, in, w, nb ? NULL : b, g, M, N, K);
        snprintf(name, sizeof name, "linear_residual M%d N%d K%d%s", M, N, K, nb ? " no bias" : "");
        assert_true(tu_check(name, out, ref, mn, 1e-5, -1));
    }
    /* the MLP half: D = K, H = N (fc1 (N, K), fc2 (K, N)) */
    memcpy(out, xk, (size_t)M * K * sizeof *out);
    memcpy(ref, xk, (size_t)M * K * sizeof *ref);
    be->ops->ln_mlp_residual(be, out, h, w, b, w2, b2, g2, lw, lb, y, M, K, N, 1e-6f);
    fathom_ref_ln_mlp_residual(ref, h, w, b, w2, b2, g2, lw, lb, y, M, K, N, 1e-6f);
    snprintf(name, sizeof name, "ln_mlp_residual M%d D%d H%d", M, K, N);
    assert_true(tu_check(name, out, ref, (size_t)M * K, 1e-5, -1));
    free(in), free(w), free(b), free(g), free(x0), free(lw), free(lb), free(xk), free(w2), free(b2), free(g2);
    free(out), free(ref), free(y), free(h);
}

static void test_ops(void **state) {
    (void)state;
    if (!fathom_cpu_has_avx512()) tu_skip("this CPU has no AVX-512: the fp32 linears run OpenBLAS only");
    fathom_backend *be = backend();
    for (int i = 0; i < NSHAPE; i++) check_shape(be, &shapes[i], 100 + 16 * (uint64_t)i);
    fathom_backend_free(&be);
}

/* no panels without AVX-512 (forced) and under FATHOM_CPU_KERNEL=portable; the portable path
 * (OpenBLAS) on the same weights agrees with the panels */
static void test_dispatch(void **state) {
    (void)state;
    if (!fathom_cpu_has_avx512()) tu_skip("this CPU has no AVX-512");
    const int M = 45, N = 72, K = 50;
    float *in = rnd((size_t)M * K, 7, 2.0f, 0.0f), *w = rnd((size_t)N * K, 8, 0.3f, 0.0f);
    float *a = malloc((size_t)M * N * sizeof *a), *p = malloc((size_t)M * N * sizeof *p);
    assert_true(a && p);
    fathom_backend *be = backend();
    const float *ws[1] = {w};
    assert_int_equal(fathom_cpu_sgemm_pack(be, ws, &N, &K, 1), FATHOM_OK);
    assert_true(fathom_cpu_sgemm_bytes(be) >= (size_t)N * K * sizeof(float));
    be->ops->linear(be, a, in, w, NULL, M, N, K, FATHOM_ACT_GELU);
    fathom_cpu_force_portable(1);
    assert_null(fathom_cpu_sgemm_find(be, w, N, K));
    be->ops->linear(be, p, in, w, NULL, M, N, K, FATHOM_ACT_GELU);
    fathom_cpu_force_portable(0);
    assert_true(tu_check("panels vs OpenBLAS", a, p, (size_t)M * N, 1e-5, -1));
    fathom_backend_free(&be);
    free(in), free(w), free(a), free(p);
}

/* GELU in the tile store against the elementwise one (cpu_math.c: the same polynomials):
 * x . 1 over a sweep through both erf branches (|x| / sqrt 2 around 0.75), the clamp at 4
 * and large |x|, to 2e-7 of max(1, |gelu|) (FMA contraction moves a few ulp) */
static void test_gelu(void **state) {
    (void)state;
    if (!fathom_cpu_has_avx512()) tu_skip("this CPU has no AVX-512");
    const int M = 4001, N = 1, K = 1;
    float *x = malloc(M * sizeof *x), *got = malloc(M * sizeof *got), *want = malloc(M * sizeof *want);
    const float one = 1.0f;
    assert_true(x && got && want);
    for (int i = 0; i < M; i++) x[i] = want[i] = -12.0f + 24.0f * (float)i / (M - 1);
    fathom_backend *be = backend();
    const float *ws[1] = {&one};
    assert_int_equal(fathom_cpu_sgemm_pack(be, ws, &N, &K, 1), FATHOM_OK);
    be->ops->linear(be, got, x, &one, NULL, M, N, K, FATHOM_ACT_GELU);
    fathom_cpu_bias_act(want, NULL, (size_t)M, FATHOM_ACT_GELU);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        double d = fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        worst = d > worst ? d : worst;
    }
    printf("tile GELU vs fathom_cpu_bias_act over [-12, 12]: %.2e\n", worst);
    assert_true(worst <= 2e-7);
    fathom_backend_free(&be);
    free(x), free(got), free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_gelu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
