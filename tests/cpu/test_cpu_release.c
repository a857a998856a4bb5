/* test_cpu_release.c - engine param release_fp32 and the packed set a model shares
 * (weights_release.c): per golden case and packed format (bf16, int8, q4), an engine made with
 * it gives bit-identical depth to one made without it on another load of the model (the
 * engine never reads the released fp32 tensors: they read as zeros) and releases nearly all
 * the fp32 bytes it packed (whole pages only). Further engines of that format share the
 * model's one set, while the first lives and after it is gone (the set is the model's), with
 * the same depth; engines of another format, or fp32, are refused with a message that says
 * why. An fp32 engine with the flag releases nothing and leaves the model usable. */
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
#include "fathom.h"
#include "golden_util.h"
#include "model/engine.h"
#include "model/model.h"
#include "test_util.h"

static float *forward_of(fathom_engine *e, const tu_net_case *nc) {
    float *out = malloc(nc->nd * sizeof *out);
    if (fathom_engine_forward(e, nc->x, 1, nc->H, nc->W, out) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    return out;
}

static float *depth_of(fathom_model *m, fathom_engine_params ep, const tu_net_case *nc) {
    fathom_engine *e = NULL;
    if (fathom_engine_create(m, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    float *out = forward_of(e, nc);
    fathom_engine_free(&e);
    return out;
}

/* the packed set an engine's CPU backend reads */
static const void *set_of(const fathom_engine *e) { return ((fathom_cpu_ctx *)e->be->ctx)->bf16; }

/* engine params ep2 on the released model rel: refused, saying why */
static void refused(fathom_model *rel, fathom_engine_params ep2, const char *what) {
    fathom_engine *e2 = NULL;
    assert_int_not_equal(fathom_engine_create(rel, &ep2, &e2), FATHOM_OK);
    assert_null(e2);
    printf("  %s engine: %s\n", what, fathom_last_error());
    assert_non_null(strstr(fathom_last_error(), "released"));
    assert_non_null(strstr(fathom_last_error(), "load the model again"));
}

static void run_case(const char *dir, const char *name) {
    tu_net_case nc;
    if (!tu_load_net_case(dir, &nc)) fail_msg("%s: no network pass", dir);
    static const struct { fathom_precision p; fathom_weight_format f; const char *what; } fmts[] = {
        {FATHOM_PRECISION_BF16, FATHOM_WEIGHTS_DEFAULT, "bf16"},
        {FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_INT8, "int8"},
        {FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_Q4, "q4"},
    };
    const int nf = (int)(sizeof fmts / sizeof fmts[0]);
    for (int f = 0; f < nf; f++) {
        fathom_engine_params ep = fathom_engine_default_params();
        ep.threads = 2, ep.precision = fmts[f].p, ep.weights = fmts[f].f;
        fathom_model *keep = tu_load_case_model(dir, NULL), *rel = tu_load_case_model(dir, NULL);
        assert_non_null(keep);
        assert_non_null(rel);
        float *want = depth_of(keep, ep, &nc);
        assert_int_equal(fathom_weights_released(keep->w), 0);
        ep.release_fp32 = 1;
        fathom_engine *e = NULL, *e2 = NULL, *e3 = NULL;
        if (fathom_engine_create(rel, &ep, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        float *got = forward_of(e, &nc);
        size_t rb = fathom_weights_released(rel->w), ab = rel->w->arena_bytes;
        printf("%s %s: released %zu of %zu fp32 bytes (%.0f%%)\n", name, fmts[f].what, rb, ab, 100.0 * rb / ab);
        assert_memory_equal(got, want, nc.nd * sizeof *got);
        /* the packed tensors are most of a model (tiny: its pos-embed and norms stay) */
        assert_true(rb > ab / 2);
        /* a second engine of the format, with the first alive: the same set, nothing released
         * twice */
        if (fathom_engine_create(rel, &ep, &e2) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        assert_ptr_equal(set_of(e2), set_of(e));
        assert_int_equal(fathom_weights_released(rel->w), rb);
        /* both gone, a third still has the model's set */
        const void *set = set_of(e);
        fathom_engine_free(&e);
        fathom_engine_free(&e2);
        ep.release_fp32 = 0;
        if (fathom_engine_create(rel, &ep, &e3) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        assert_ptr_equal(set_of(e3), set);
        float *got2 = forward_of(e3, &nc);
        assert_memory_equal(got2, want, nc.nd * sizeof *got2);
        /* another format would pack zeros, fp32 would read them: refused */
        fathom_engine_params other = ep;
        other.precision = fmts[(f + 1) % nf].p, other.weights = fmts[(f + 1) % nf].f;
        refused(rel, other, fmts[(f + 1) % nf].what);
        other.precision = FATHOM_PRECISION_FP32, other.weights = FATHOM_WEIGHTS_DEFAULT;
        refused(rel, other, "fp32");
        fathom_engine_free(&e3);
        free(got), free(got2), free(want);
        fathom_model_free(&keep);
        fathom_model_free(&rel);
    }
    /* fp32 with the flag: nothing packed, nothing released, the model stays shareable */
    fathom_model *m = tu_load_case_model(dir, NULL);
    fathom_engine_params ep = fathom_engine_default_params();
    ep.threads = 2, ep.release_fp32 = 1;
    float *a = depth_of(m, ep, &nc), *b = depth_of(m, ep, &nc);
    assert_int_equal(fathom_weights_released(m->w), 0);
    assert_memory_equal(a, b, nc.nd * sizeof *a);
    free(a), free(b);
    /* two formats made before any release: both sets stay, so nothing is released */
    ep.release_fp32 = 0, ep.weights = FATHOM_WEIGHTS_Q4;
    fathom_engine *eq = NULL, *eb = NULL;
    if (fathom_engine_create(m, &ep, &eq) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    ep.release_fp32 = 1, ep.weights = FATHOM_WEIGHTS_DEFAULT, ep.precision = FATHOM_PRECISION_BF16;
    if (fathom_engine_create(m, &ep, &eb) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    assert_int_equal(fathom_weights_released(m->w), 0);
    fathom_engine_free(&eb);
    fathom_engine_free(&eq);
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
