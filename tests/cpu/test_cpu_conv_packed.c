/* test_cpu_conv_packed.c - the DPT head's convs on packed weights (cpu_conv_bf16.c): the
 * backend's conv2d / conv_transpose after prepare_weights for bf16, int8 (convs in bf16) and
 * q4, once per bf16 kernel forced through FATHOM_CPU_KERNEL; variants this CPU lacks SKIP.
 *
 * Each must equal the plain-C reference run on what the kernel multiplies (bf16-rounded
 * inputs, and bf16-rounded or q4-dequantized weights) to 1e-4 of max|ref| (fp32 sums in
 * another order), and the fp32 reference on the original values to bf16's (3e-2) or q4's
 * (2e-1) bound. Shapes cover every conv kind of the head: a 3x3 with ReLU in and out and a
 * residual (rows narrower and wider than 16 pixels), a 1x1 projection, resize3 (stride 2) with K = 9 x 1024 (several K chunks),
 * resize0 (transposed, k 4) with N = 16 x 40 (two N chunks), partial pixel tiles, batch 2. */
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

enum { F = 32, D = 40, O0 = 40, O3 = 1024, B = 2 };

typedef struct head {
    fathom_weights w;
    float *rcu, *proj, *resize3, *resize0, *b;
} head;

static void head_make(head *h) {
    memset(h, 0, sizeof *h);
    fathom_arch *a = &h->w.arch;
    a->embed_dim = D, a->features = F, a->head_hidden = 32, a->patch = 14, a->depth = 0;
    a->out_ch[0] = O0, a->out_ch[1] = 48, a->out_ch[2] = 64, a->out_ch[3] = O3;
    h->rcu = h->w.fusion[0].rcu1_c1_w = tu_random_alloc((size_t)F * F * 9, 1, 0.2f);
    h->proj = h->w.proj_w[0] = tu_random_alloc((size_t)O0 * D, 2, 0.3f);
    h->resize3 = h->w.resize3_w = tu_random_alloc((size_t)O3 * O3 * 9, 3, 0.02f);
    h->resize0 = h->w.resize0_w = tu_random_alloc((size_t)O0 * O0 * 16, 4, 0.3f);
    h->b = tu_random_alloc(O3, 5, 1.0f);
}

static void head_free(head *h) { free(h->rcu), free(h->proj), free(h->resize3), free(h->resize0), free(h->b); }

/* The weight the kernel multiplies, in the op's layout (transposed back for conv_transpose) */
static float *kernel_weight(fathom_backend *be, const float *w, int Ci, int Co, int k, int transpose) {
    const fathom_bf16_mat *wb;
    const fathom_q4_mat *w4;
    int kern;
    assert_true(fathom_cpu_conv_find(be, w, &wb, &w4, &kern));
    size_t n = (size_t)Ci * Co * k * k;
    if (wb) return tb_rounded(w, n);
    float *m = tb_dequantized(w4); /* (N, K) GEMM form */
    if (!transpose) return m;
    float *t = malloc(n * sizeof *t); /* (Co k k, Ci) -> (Ci, Co k k) */
    int R = Co * k * k;
    for (int r = 0; r < R; r++)
        for (int ci = 0; ci < Ci; ci++) t[(size_t)ci * R + r] = m[(size_t)r * Ci + ci];
    free(m);
    return t;
}

typedef struct conv_case {
    const char *name;
    int which; /* 0 rcu, 1 proj, 2 resize3, 3 resize0 (transposed) */
    int Ci, H, W, Co, k, stride, pad, flags, residual;
} conv_case;

static const conv_case cases[] = {
    {"3x3 relu-in/out + residual", 0, F, 13, 11, F, 3, 1, 1, FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT, 1},
    {"3x3 wide rows (plain loads)", 0, F, 6, 45, F, 3, 1, 1, FATHOM_CONV_RELU_IN, 1},
    {"1x1 projection", 1, D, 9, 23, O0, 1, 1, 0, 0, 0},
    {"resize3 3x3 stride 2, K 9216", 2, O3, 5, 4, O3, 3, 2, 1, 0, 0},
    {"resize0 transposed k 4, N 640", 3, O0, 5, 7, O0, 4, 4, 0, 0, 0},
};

static int run_case(fathom_backend *be, const head *h, const conv_case *c, double tol32, const char *what) {
    const float *w = c->which == 0 ? h->rcu : c->which == 1 ? h->proj : c->which == 2 ? h->resize3 : h->resize0;
    int transpose = c->which == 3;
    int Ho = transpose ? c->H * c->k : (c->H + 2 * c->pad - c->k) / c->stride + 1;
    int Wo = transpose ? c->W * c->k : (c->W + 2 * c->pad - c->k) / c->stride + 1;
    size_t nin = (size_t)B * c->Ci * c->H * c->W, nout = (size_t)B * c->Co * Ho * Wo;
    float *in = tu_random_alloc(nin, 7 + c->which, 1.0f), *res = tu_random_alloc(nout, 9, 1.0f);
    float *out = malloc(nout * sizeof *out), *ref = malloc(nout * sizeof *ref), *ref32 = malloc(nout * sizeof *ref32);
    float *ir = tb_rounded(in, nin), *wr = kernel_weight(be, w, c->Ci, c->Co, c->k, transpose);
    if (transpose) {
        be->ops->conv_transpose(be, out, in, w, h->b, B, c->Ci, c->H, c->W, c->Co, c->k);
        fathom_ref_conv_transpose(ref, ir, wr, h->b, B, c->Ci, c->H, c->W, c->Co, c->k);
        fathom_ref_conv_transpose(ref32, in, w, h->b, B, c->Ci, c->H, c->W, c->Co, c->k);
    } else {
        const float *r = c->residual ? res : NULL;
        be->ops->conv2d(be, out, in, w, h->b, r, B, c->Ci, c->H, c->W, c->Co, c->k, c->stride, c->pad, c->flags);
        fathom_ref_conv2d(ref, ir, wr, h->b, r, B, c->Ci, c->H, c->W, c->Co, c->k, c->stride, c->pad, c->flags);
        fathom_ref_conv2d(ref32, in, w, h->b, r, B, c->Ci, c->H, c->W, c->Co, c->k, c->stride, c->pad, c->flags);
    }
    char label[160];
    snprintf(label, sizeof label, "%s %s", what, c->name);
    int ok = tu_check(label, out, ref, nout, 1e-4, -1);
    ok &= tu_check("  vs fp32", out, ref32, nout, tol32, -1);
    free(in), free(res), free(out), free(ref), free(ref32), free(ir), free(wr);
    return ok;
}

static const fathom_cpu_bf16_kernel variants[] = {FATHOM_CPU_BF16_PORTABLE, FATHOM_CPU_BF16_AVX512,
                                                  FATHOM_CPU_BF16_AMX};

static void test_conv_packed(void **state) {
    (void)state;
    head h;
    head_make(&h);
    int ran = 0, ok = 1;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        fathom_cpu_bf16_kernel k = variants[v];
        if (!fathom_cpu_bf16_kernel_available(k)) {
            printf("SKIP %s: not on this CPU\n", fathom_cpu_bf16_kernel_name(k));
            continue;
        }
        static const struct { fathom_precision p; fathom_weight_format f; const char *name; double tol; } fmts[] = {
            {FATHOM_PRECISION_BF16, FATHOM_WEIGHTS_DEFAULT, "bf16", 3e-2},
            {FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_Q4, "q4", 2e-1},
            {FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_INT8, "int8 (bf16 convs)", 3e-2},
        };
        for (size_t f = 0; f < 3; f++) {
            /* int8 engines run their convs on the best bf16 kernel: once is enough */
            if (fmts[f].f == FATHOM_WEIGHTS_INT8 && k != fathom_cpu_bf16_kernel_pick()) continue;
            fathom_backend *be = NULL;
            assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
            if (fmts[f].f != FATHOM_WEIGHTS_INT8) setenv("FATHOM_CPU_KERNEL", fathom_cpu_bf16_kernel_name(k), 1);
            assert_int_equal(be->ops->prepare_weights(be, &h.w, fmts[f].p, fmts[f].f), FATHOM_OK);
            unsetenv("FATHOM_CPU_KERNEL");
            const fathom_bf16_mat *wb;
            const fathom_q4_mat *w4;
            int kern = -1;
            assert_true(fathom_cpu_conv_find(be, h.rcu, &wb, &w4, &kern));
            assert_int_equal(kern, k);
            assert_true(fmts[f].f == FATHOM_WEIGHTS_Q4 ? w4 && !wb : wb && !w4);
            /* fp32 weights it was not given stay unpacked */
            assert_false(fathom_cpu_conv_find(be, h.b, &wb, &w4, &kern));
            size_t packed, fp32;
            fathom_cpu_packed_bytes(be, &packed, &fp32);
            assert_int_equal(fp32, ((size_t)F * F * 9 + (size_t)O0 * D + (size_t)O3 * O3 * 9 + (size_t)O0 * O0 * 16) * 4);
            printf("%s %s: %zu packed bytes for %zu fp32\n", fathom_cpu_bf16_kernel_name(k), fmts[f].name, packed, fp32);
            assert_true(packed * (fmts[f].f == FATHOM_WEIGHTS_Q4 ? 6 : 1.9) < fp32);
            char what[64];
            snprintf(what, sizeof what, "%s %s", fathom_cpu_bf16_kernel_name(k), fmts[f].name);
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) ok &= run_case(be, &h, &cases[c], fmts[f].tol, what);
            fathom_backend_free(&be);
            ran++;
        }
    }
    head_free(&h);
    printf("%d format x kernel runs\n", ran);
    assert_true(ran >= 3);
    assert_true(ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_conv_packed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
