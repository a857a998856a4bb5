/* test_cpu_release.c - engine param release_fp32 (fathom_weights_release): per golden case
 * and packed format (bf16, int8, q4), an engine made with it gives bit-identical depth to one
 * made without it on another load of the model (the engine never reads the released fp32
 * tensors: they read as zeros), releases nearly all the fp32 bytes it packed (whole pages
 * only), and the model then refuses a second engine with a message that says why. An fp32
 * engine with the flag releases nothing and leaves the model usable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fathom.h"
#include "golden_util.h"
#include "model/model.h"
#include "test_util.h"

static float *depth_of(fathom_model *m, fathom_engine_params ep, const tu_net_case *nc) {
    fathom_engine *e = NULL;
    if (fathom_engine_create(m, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    float *out = malloc(nc->nd * sizeof *out);
    if (fathom_engine_forward(e, nc->x, 1, nc->H, nc->W, out) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_engine_free(&e);
    return out;
}

static void run_case(const char *dir, const char *name) {
    tu_net_case nc;
    if (!tu_load_net_case(dir, &nc)) fail_msg("%s: no network pass", dir);
    static const struct { fathom_precision p; fathom_weight_format f; const char *what; } fmts[] = {
        {FATHOM_PRECISION_BF16, FATHOM_WEIGHTS_DEFAULT, "bf16"},
        {FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_INT8, "int8"},
        {FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_Q4, "q4"},
    };
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        fathom_engine_params ep = fathom_engine_default_params();
        ep.threads = 2, ep.precision = fmts[f].p, ep.weights = fmts[f].f;
        fathom_model *keep = tu_load_case_model(dir, NULL), *rel = tu_load_case_model(dir, NULL);
        assert_non_null(keep);
        assert_non_null(rel);
        float *want = depth_of(keep, ep, &nc);
        assert_int_equal(keep->w->released_bytes, 0);
        /* the released model's engine, kept alive while a second one is refused */
        ep.release_fp32 = 1;
        fathom_engine *e = NULL;
        if (fathom_engine_create(rel, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        float *got = malloc(nc.nd * sizeof *got);
        assert_int_equal(fathom_engine_forward(e, nc.x, 1, nc.H, nc.W, got), FATHOM_OK);
        size_t rb = rel->w->released_bytes, ab = rel->w->arena_bytes;
        printf("%s %s: released %zu of %zu fp32 bytes (%.0f%%)\n", name, fmts[f].what, rb, ab, 100.0 * rb / ab);
        assert_memory_equal(got, want, nc.nd * sizeof *got);
        /* the packed tensors are most of a model (tiny: its pos-embed and norms stay) */
        assert_true(rb > ab / 2);
        fathom_engine *e2 = NULL;
        ep.release_fp32 = 0;
        assert_int_not_equal(fathom_engine_create(rel, &ep, &e2), FATHOM_OK);
        assert_null(e2);
        printf("  second engine: %s\n", fathom_last_error());
        assert_non_null(strstr(fathom_last_error(), "release_fp32"));
        assert_non_null(strstr(fathom_last_error(), "load the model again"));
        fathom_engine_free(&e);
        free(got), free(want);
        fathom_model_free(&keep);
        fathom_model_free(&rel);
    }
    /* fp32 with the flag: nothing packed, nothing released, the model stays shareable */
    fathom_model *m = tu_load_case_model(dir, NULL);
    fathom_engine_params ep = fathom_engine_default_params();
    ep.threads = 2, ep.release_fp32 = 1;
    float *a = depth_of(m, ep, &nc), *b = depth_of(m, ep, &nc);
    assert_int_equal(m->w->released_bytes, 0);
    assert_memory_equal(a, b, nc.nd * sizeof *a);
    free(a), free(b);
    fathom_model_free(&m);
    tu_free_net_case(&nc);
}

static void test_release(void **state) {
    (void)state;
    const char *g = tu_golden_dir();
    char names[64][256];
    int ncase = tu_golden_cases(g, names, 64);
    assert_true(ncase >= 1);
    for (int i = 0; i < ncase; i++) run_case(tu_path(g, names[i]), names[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_release)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
