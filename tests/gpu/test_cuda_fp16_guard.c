/* test_cuda_fp16_guard.c - `--precision fp16` on the device stays finite on the worst case of
 * tests/vda/vda_fp16_case.h (VDA's temporal feed-forward block, GEGLU products up to 4e5, and
 * the encoder MLP's GELU product feeding fc2): the backend's ops (layernorm, linear, geglu,
 * linear with GELU, linear_residual) against fp32, at the fp16 GEMM tolerance, and against the
 * plain-C twin (fathom_ref_linear_fp16). SKIP without a CUDA build or device. */
#include <stdint.h>

#include "backend/cpu/ref_ops.h"
#include "gpu/cuda_test_common.h"
#include "vda/vda_fp16_case.h"

#define FP16_TOL 5e-3

static int finite_close(const char *what, const float *out, const float *ref, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i])) {
            printf("FAIL %s: output %zu is %g\n", what, i, out[i]);
            return 0;
        }
    return tu_check(what, out, ref, n, FP16_TOL, -1);
}

/* The VDA block on the device; returns 1 when finite and close to fp32 and to the twin. */
static int vda_block(fathom_backend *be, const fp16_case *k) {
    const int rows = k->rows, C = k->C;
    const size_t n = (size_t)rows * C;
    float *x = ct_dev(be, k->x, n), *lw = ct_dev(be, k->ln_w, C), *lb = ct_dev(be, k->ln_b, C);
    float *w1 = ct_dev(be, k->w1, (size_t)8 * C * C), *b1 = ct_dev(be, k->b1, (size_t)8 * C);
    float *w2 = ct_dev(be, k->w2, (size_t)4 * C * C), *b2 = ct_dev(be, k->b2, C);
    float *ln = ct_dev(be, NULL, n), *hid = ct_dev(be, NULL, n * 8), *gg = ct_dev(be, NULL, n * 4);
    float *out = ct_dev(be, NULL, n);
    if (!x || !lw || !lb || !w1 || !b1 || !w2 || !b2 || !ln || !hid || !gg || !out) return 0;
    be->ops->layernorm(be, ln, x, lw, lb, rows, C, 1e-5f);
    be->ops->linear(be, hid, ln, w1, b1, rows, 8 * C, C, FATHOM_ACT_NONE);
    be->ops->geglu(be, gg, hid, rows, 4 * C);
    be->ops->linear(be, out, gg, w2, b2, rows, C, 4 * C, FATHOM_ACT_NONE);
    float *h = ct_get(be, out, n);
    int ok = h && finite_close("cuda fp16 VDA ff block vs fp32", h, k->ref, n);
    if (h) { /* and the twin, which defines the semantics */
        float *thid = malloc(n * 8 * sizeof(float)), *tgg = malloc(n * 4 * sizeof(float));
        float *tw = malloc(n * sizeof(float));
        fathom_ref_linear_fp16(thid, k->ln, k->w1, k->b1, rows, 8 * C, C, FATHOM_ACT_NONE, 0);
        fathom_ref_geglu(tgg, thid, rows, 4 * C);
        fathom_ref_linear_fp16(tw, tgg, k->w2, k->b2, rows, C, 4 * C, FATHOM_ACT_NONE, 1);
        ok = tu_check("cuda fp16 vs the plain-C fp16 twin", h, tw, n, FP16_TOL, -1) && ok;
        free(thid), free(tgg), free(tw);
    }
    free(h);
    float *d[] = {x, lw, lb, w1, b1, w2, b2, ln, hid, gg, out};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) ct_free(be, d[i], 0);
    return ok;
}

/* The encoder MLP: fc1 with GELU into fc2 (linear_residual, LayerScale 1, x starts at 0):
 * the same product-overflow path through cuda_gelu_inplace. fc1's output is scaled so the
 * largest GELU output is 4e5. */
static int encoder_mlp(fathom_backend *be, int M, int D, uint64_t seed) {
    const int Hm = 4 * D;
    float *in = tu_random_alloc((size_t)M * D, seed, 1.0f);
    float *w1 = tu_random_alloc((size_t)Hm * D, seed + 1, 1.0f), *b1 = tu_random_alloc(Hm, seed + 2, 0.1f);
    float *w2 = tu_random_alloc((size_t)D * Hm, seed + 3, 0.2f), *b2 = tu_random_alloc(D, seed + 4, 0.1f);
    float *g = malloc(D * sizeof(float)), *hid = malloc((size_t)M * Hm * sizeof(float));
    float *ref = calloc((size_t)M * D, sizeof(float));
    if (!in || !w1 || !b1 || !w2 || !b2 || !g || !hid || !ref) return 0;
    for (int i = 0; i < D; i++) g[i] = 1.0f;
    fathom_ref_linear(hid, in, w1, b1, M, Hm, D, FATHOM_ACT_GELU);
    float s = 4.0e5f / fp16_case_amax(hid, (size_t)M * Hm); /* GELU is ~linear up there */
    for (size_t i = 0; i < (size_t)Hm * D; i++) w1[i] *= s;
    for (int i = 0; i < Hm; i++) b1[i] *= s;
    fathom_ref_linear(hid, in, w1, b1, M, Hm, D, FATHOM_ACT_GELU);
    fathom_ref_linear_residual(ref, hid, w2, b2, g, M, D, Hm);
    printf("encoder MLP M %d D %d: max GELU output %.3g\n", M, D, fp16_case_amax(hid, (size_t)M * Hm));
    float *dx = ct_dev(be, ref, 0 + (size_t)M * D), *din = ct_dev(be, in, (size_t)M * D);
    float *dw1 = ct_dev(be, w1, (size_t)Hm * D), *db1 = ct_dev(be, b1, Hm);
    float *dw2 = ct_dev(be, w2, (size_t)D * Hm), *db2 = ct_dev(be, b2, D), *dg = ct_dev(be, g, D);
    float *dh = ct_dev(be, NULL, (size_t)M * Hm);
    int ok = dx && din && dw1 && db1 && dw2 && db2 && dg && dh;
    float *zero = calloc((size_t)M * D, sizeof(float));
    ok = ok && zero && be->ops->upload(be, dx, zero, (size_t)M * D * sizeof(float)) == FATHOM_OK;
    if (ok) {
        be->ops->linear(be, dh, din, dw1, db1, M, Hm, D, FATHOM_ACT_GELU);
        be->ops->linear_residual(be, dx, dh, dw2, db2, dg, M, D, Hm);
        float *h = ct_get(be, dx, (size_t)M * D);
        ok = h && finite_close("cuda fp16 encoder fc1-GELU-fc2 vs fp32", h, ref, (size_t)M * D);
        free(h);
    }
    float *d[] = {dx, din, dw1, db1, dw2, db2, dg, dh};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) ct_free(be, d[i], 0);
    free(in), free(w1), free(b1), free(w2), free(b2), free(g), free(hid), free(ref), free(zero);
    return ok;
}

int main(void) {
    ct_require_device();
    fathom_backend *be = ct_backend(FATHOM_PRECISION_FP16);
    if (!be) return 1;
    if (be->ops->reserve_scratch(be, (size_t)64 << 20) != FATHOM_OK) {
        fprintf(stderr, "reserve_scratch: %s\n", fathom_last_error());
        return 1;
    }
    int ok = 1;
    const int shapes[][4] = {{32, 6, 32, 11}, {32, 5, 48, 907}, {1, 40, 64, 23}};
    for (int i = 0; i < 3; i++) {
        fp16_case k;
        memset(&k, 0, sizeof k);
        if (!fp16_case_make(&k, shapes[i][0], shapes[i][1], shapes[i][2], (uint64_t)shapes[i][3]))
            return 1;
        ok = vda_block(be, &k) && ok;
        fp16_case_free(&k);
    }
    ok = encoder_mlp(be, 300, 64, 5) && ok;
    fathom_backend_free(&be);
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
