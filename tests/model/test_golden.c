/* test_golden.c - parity with the official PyTorch model on every case in ../shared/golden.
 *
 * Per case (a directory with case.json): load the model as users have it (HF folder or .pth),
 * decode input.png, preprocess (vs pixel_values.npy), run the forward pass with a tap that
 * compares every stored intermediate, then depth_net.npy and depth.npy. The repository's
 * small copy (tests/data/golden) has input, model and depth.npy only: the end-to-end check;
 * the intermediate files are compared when present (../shared/golden).
 * Tolerances (golden/README.md "Tolerances"):
 *  - intermediates stored in float16 (rounding up to 2^-11 relative): 1e-3 * max|ref| per
 *    tensor, loose enough for f16 storage, tight enough to name the first wrong stage;
 *    float32 intermediates: 1e-4 * max|ref| (their own float32 error is <= 1.5e-5);
 *  - depth_net / depth: max|d| <= 1e-4 * max|ref| and rms <= 1e-5 * max|ref|: 3.5-5x above
 *    the float32-vs-float64 error of the reference itself, below every plausible bug measured
 *    (tanh GELU, wrong LayerNorm eps, pos-embed size= semantics, align_corners=False, ...). */
#include <math.h>
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

#include "fathom.h"
#include "golden_util.h"
#include "test_util.h"

typedef struct tap_state {
    tu_ref *refs;
    int nrefs;
    char first_bad[64];
    int compared;
} tap_state;

static void on_tap(void *user, const char *name, const float *data, int ndim,
                   const int64_t *shape) {
    tap_state *st = user;
    for (int i = 0; i < st->nrefs; i++) {
        tu_ref *r = &st->refs[i];
        if (strcmp(r->name, name)) continue;
        r->seen = 1;
        int same = ndim == r->ndim;
        for (int d = 0; same && d < ndim; d++) same = shape[d] == r->shape[d];
        if (!same) {
            printf("  %s: shape mismatch\n", name);
            r->ok = 0;
        } else {
            char label[96];
            snprintf(label, sizeof label, "  %s", name);
            r->ok = tu_check(label, data, r->data, r->n, r->tol, -1);
        }
        st->compared++;
        if (!r->ok && !st->first_bad[0]) snprintf(st->first_bad, sizeof st->first_bad, "%s", name);
    }
}

static int run_case(const char *dir, const char *cname) {
    int ok = 1;
    printf("== %s\n", cname);

    int input_size;
    fathom_model *m = tu_load_case_model(dir, &input_size);
    if (!m) fail_msg("%s: cannot load the case's model", cname);

    /* preprocessing */
    fathom_image img = {0};
    if (fathom_image_load(tu_path(dir, "input.png"), 0, &img) != FATHOM_OK)
        fail_msg("%s", fathom_last_error());
    int H, W;
    fathom_network_size(img.height, img.width, input_size, &H, &W);
    int64_t shape[8];
    int ndim;
    size_t n;
    int full = access(tu_path(dir, "pixel_values.npy"), R_OK) == 0; /* ../shared's full case */
    float *pv = NULL;
    n = (size_t)3 * H * W;
    if (full) {
        pv = tu_load_npy(tu_path(dir, "pixel_values.npy"), shape, &ndim, &n);
        assert_non_null(pv);
        assert_int_equal(shape[2], H);
        assert_int_equal(shape[3], W);
    } else {
        printf("  (small copy: no pixel_values, intermediates, depth_net; end to end only)\n");
    }
    float *x = malloc(n * sizeof(float));
    assert_int_equal(fathom_preprocess(img.rgb, img.height, img.width, img.stride, H, W, x),
                     FATHOM_OK);
    if (full) {
        tu_diff pd = tu_compare(x, pv, n);
        printf("  pixel_values: max|d| %.3g\n", pd.max_abs);
        ok &= pd.max_abs <= 1e-5;
    }

    /* forward with taps */
    tap_state st = {0};
    if (full && !(st.refs = tu_load_refs(tu_path(dir, "intermediates.safetensors"), &st.nrefs)))
        fail_msg("%s: cannot read intermediates.safetensors", cname);
    fathom_engine_params ep = fathom_engine_default_params();
    fathom_engine *e = NULL;
    if (fathom_engine_create(m, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_engine_set_tap(e, on_tap, &st);
    float *net = malloc((size_t)H * W * sizeof(float));
    if (fathom_engine_forward(e, x, 1, H, W, net) != FATHOM_OK)
        fail_msg("%s", fathom_last_error());
    for (int i = 0; i < st.nrefs; i++) {
        if (!st.refs[i].seen) {
            printf("  %s: never produced by the engine\n", st.refs[i].name);
            ok = 0;
        }
        ok &= st.refs[i].ok || !st.refs[i].seen;
    }
    if (st.first_bad[0]) printf("  FIRST DIVERGING STAGE: %s\n", st.first_bad);

    float *dn = NULL;
    if (full) {
        dn = tu_load_npy(tu_path(dir, "depth_net.npy"), shape, &ndim, &n);
        assert_int_equal(n, (size_t)H * W);
        ok &= tu_check("  depth_net", net, dn, n, 1e-4, 1e-5);
        /* without a tap the head's last steps run fused (dpt_head_tail): the same bound */
        fathom_engine_set_tap(e, NULL, NULL);
        float *net2 = malloc((size_t)H * W * sizeof(float));
        if (fathom_engine_forward(e, x, 1, H, W, net2) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        ok &= tu_check("  depth_net (no tap)", net2, dn, n, 1e-4, 1e-5);
        free(net2);
    }
    float *dref = tu_load_npy(tu_path(dir, "depth.npy"), shape, &ndim, &n);
    assert_int_equal(n, (size_t)img.height * img.width);
    float *depth = malloc(n * sizeof(float));
    fathom_resize_depth(net, H, W, depth, img.height, img.width);
    ok &= tu_check("  depth", depth, dref, n, 1e-4, 1e-5);

    tu_free_refs(st.refs, st.nrefs);
    free(depth), free(dref), free(dn), free(net), free(x), free(pv);
    fathom_engine_free(&e);
    fathom_image_free(&img);
    fathom_model_free(&m);
    return ok;
}

static void test_golden_cases(void **state) {
    (void)state;
    const char *g = tu_golden_dir();
    char names[64][256];
    int ncase = tu_golden_cases(g, names, 64), nok = 0;
    for (int i = 0; i < ncase; i++) nok += run_case(tu_path(g, names[i]), names[i]);
    printf("%d/%d golden cases pass\n", nok, ncase);
    assert_true(ncase >= 1);
    assert_int_equal(nok, ncase);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden_cases)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
