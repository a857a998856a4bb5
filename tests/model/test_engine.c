/* test_engine.c - engine behaviour on a small random-weight model of the real architecture:
 * no allocation after warm-up, batch folding, reserve growth, position-embedding cache, taps,
 * argument checking. (Numerical parity with PyTorch is test_golden.c.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "fathom.h"
#include "model/model.h"
#include "test_util.h"

typedef struct synth {
    fathom_model m;
    fathom_weights w;
    fathom_block_weights blocks[4];
    float *arena;
    size_t used, cap;
    uint64_t seed;
} synth;

static float *carve(synth *s, size_t n, float scale, float base) {
    assert_true(s->used + n <= s->cap);
    float *p = s->arena + s->used;
    s->used += n;
    tu_fill_random(p, n, s->seed++, scale);
    for (size_t i = 0; i < n; i++) p[i] += base;
    return p;
}

/* D 32, 4 blocks, 2 heads, MLP 64, F 8, out_ch 4/8/16/32: the official layer structure. */
static synth *synth_model(int metric) {
    synth *s = calloc(1, sizeof *s);
    fathom_arch *a = &s->w.arch;
    strcpy(a->name, "custom");
    a->embed_dim = 32, a->depth = 4, a->heads = 2, a->mlp_hidden = 64, a->patch = 14;
    a->pos_grid = 37, a->features = 8, a->head_hidden = 32, a->ln_eps = 1e-6f;
    a->metric = metric, a->max_depth = 20.f;
    int oc[4] = {4, 8, 16, 32};
    for (int k = 0; k < 4; k++) a->layer_idx[k] = k, a->out_ch[k] = oc[k];
    const size_t D = 32, Hm = 64, F = 8, G = 37;
    s->cap = 1 << 20;
    s->arena = malloc(s->cap * sizeof(float));
    s->seed = 7;
    fathom_weights *w = &s->w;
    w->cls_token = carve(s, D, 0.1f, 0);
    w->pos_embed = carve(s, (1 + G * G) * D, 0.1f, 0);
    w->patch_w = carve(s, D * 3 * 14 * 14, 0.05f, 0), w->patch_b = carve(s, D, 0.1f, 0);
    w->blocks = s->blocks;
    for (int i = 0; i < 4; i++) {
        fathom_block_weights *b = &s->blocks[i];
        b->norm1_w = carve(s, D, 0.1f, 1), b->norm1_b = carve(s, D, 0.1f, 0);
        b->qkv_w = carve(s, 3 * D * D, 0.2f, 0), b->qkv_b = carve(s, 3 * D, 0.1f, 0);
        b->proj_w = carve(s, D * D, 0.2f, 0), b->proj_b = carve(s, D, 0.1f, 0);
        b->ls1 = carve(s, D, 0.3f, 0.5f);
        b->norm2_w = carve(s, D, 0.1f, 1), b->norm2_b = carve(s, D, 0.1f, 0);
        b->fc1_w = carve(s, Hm * D, 0.2f, 0), b->fc1_b = carve(s, Hm, 0.1f, 0);
        b->fc2_w = carve(s, D * Hm, 0.15f, 0), b->fc2_b = carve(s, D, 0.1f, 0);
        b->ls2 = carve(s, D, 0.3f, 0.5f);
    }
    w->norm_w = carve(s, D, 0.1f, 1), w->norm_b = carve(s, D, 0.1f, 0);
    for (int k = 0; k < 4; k++) {
        w->proj_w[k] = carve(s, oc[k] * D, 0.3f, 0), w->proj_b[k] = carve(s, oc[k], 0.1f, 0);
        w->rn_w[k] = carve(s, F * oc[k] * 9, 0.2f, 0);
        fathom_fusion_weights *f = &w->fusion[k];
        f->out_w = carve(s, F * F, 0.3f, 0), f->out_b = carve(s, F, 0.1f, 0);
        if (k < 3) {
            f->rcu1_c1_w = carve(s, F * F * 9, 0.15f, 0), f->rcu1_c1_b = carve(s, F, 0.1f, 0);
            f->rcu1_c2_w = carve(s, F * F * 9, 0.15f, 0), f->rcu1_c2_b = carve(s, F, 0.1f, 0);
        }
        f->rcu2_c1_w = carve(s, F * F * 9, 0.15f, 0), f->rcu2_c1_b = carve(s, F, 0.1f, 0);
        f->rcu2_c2_w = carve(s, F * F * 9, 0.15f, 0), f->rcu2_c2_b = carve(s, F, 0.1f, 0);
    }
    w->resize0_w = carve(s, 4 * 4 * 16, 0.2f, 0), w->resize0_b = carve(s, 4, 0.1f, 0);
    w->resize1_w = carve(s, 8 * 8 * 4, 0.2f, 0), w->resize1_b = carve(s, 8, 0.1f, 0);
    w->resize3_w = carve(s, 32 * 32 * 9, 0.05f, 0), w->resize3_b = carve(s, 32, 0.1f, 0);
    w->out1_w = carve(s, (F / 2) * F * 9, 0.2f, 0), w->out1_b = carve(s, F / 2, 0.1f, 0);
    w->out2_w = carve(s, 32 * (F / 2) * 9, 0.2f, 0), w->out2_b = carve(s, 32, 0.1f, 0);
    w->out3_w = carve(s, 32, 0.3f, 0), w->out3_b = carve(s, 1, 0.1f, 0.2f);
    w->arena = s->arena, w->arena_bytes = s->used * sizeof(float);
    s->m.w = &s->w;
    return s;
}

static void synth_free(synth *s) {
    free(s->arena);
    free(s);
}

static fathom_engine *make_engine(const synth *s) {
    fathom_engine_params p = fathom_engine_default_params();
    p.threads = 2;
    fathom_engine *e = NULL;
    if (fathom_engine_create(&s->m, &p, &e) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    return e;
}

static float *random_input(int B, int H, int W, uint64_t seed) {
    float *x = malloc(sizeof(float) * 3 * B * H * W);
    tu_fill_random(x, (size_t)3 * B * H * W, seed, 2.0f);
    return x;
}

static void test_no_alloc_after_reserve(void **state) {
    (void)state;
    synth *s = synth_model(0);
    fathom_engine *e = make_engine(s);
    assert_int_equal(fathom_engine_reserve(e, 2, 70, 84), FATHOM_OK);
    float *x = random_input(2, 70, 84, 1), *d = malloc(sizeof(float) * 2 * 70 * 84);
    assert_int_equal(fathom_engine_forward(e, x, 2, 70, 84, d), FATHOM_OK); /* warm-up */
    size_t held = fathom_alloc_current(), reserved = fathom_engine_reserved_bytes(e);
    assert_true(reserved > 0);
    /* same shape, smaller batch, smaller shapes (new position grids), transposed */
    static const int shapes[][3] = {{2, 70, 84}, {1, 70, 84}, {1, 42, 56}, {2, 56, 28},
                                    {1, 14, 14}, {2, 70, 84}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        assert_int_equal(fathom_engine_forward(e, x, shapes[i][0], shapes[i][1], shapes[i][2], d),
                         FATHOM_OK);
        assert_int_equal(fathom_alloc_current(), held);
        assert_int_equal(fathom_engine_reserved_bytes(e), reserved);
    }
    free(x), free(d);
    fathom_engine_free(&e);
    assert_null(e);
    synth_free(s);
}

/* Batch folding must not mix images: batch 2 equals two batch-1 runs up to GEMM blocking
 * (a different M may change the summation order: 1e-5 of the output range). */
static void test_batch_equals_singles(void **state) {
    (void)state;
    synth *s = synth_model(0);
    fathom_engine *e = make_engine(s);
    const int H = 56, W = 70, n = H * W;
    float *x = random_input(2, H, W, 3), *d2 = malloc(sizeof(float) * 2 * n);
    float *d1 = malloc(sizeof(float) * n);
    assert_int_equal(fathom_engine_forward(e, x, 2, H, W, d2), FATHOM_OK);
    for (int b = 0; b < 2; b++) {
        assert_int_equal(fathom_engine_forward(e, x + (size_t)b * 3 * n, 1, H, W, d1), FATHOM_OK);
        assert_true(tu_check(b ? "batch[1]" : "batch[0]", d2 + (size_t)b * n, d1, n, 1e-5, 1e-6));
    }
    /* the two images differ, so the test can tell them apart */
    tu_diff dd = tu_compare(d2, d2 + n, n);
    assert_true(dd.max_rel > 1e-3);
    free(x), free(d1), free(d2);
    fathom_engine_free(&e);
    synth_free(s);
}

/* A larger shape after a smaller one grows the reservation; the result equals a fresh
 * engine's at that shape, and the smaller shape still works afterwards. */
static void test_reserve_growth(void **state) {
    (void)state;
    synth *s = synth_model(1);
    fathom_engine *e = make_engine(s), *fresh = make_engine(s);
    float *x = random_input(1, 98, 126, 5);
    float *a = malloc(sizeof(float) * 98 * 126), *b = malloc(sizeof(float) * 98 * 126);
    assert_int_equal(fathom_engine_forward(e, x, 1, 42, 42, a), FATHOM_OK);
    size_t small = fathom_engine_reserved_bytes(e);
    assert_int_equal(fathom_engine_forward(e, x, 1, 98, 126, a), FATHOM_OK);
    assert_true(fathom_engine_reserved_bytes(e) > small);
    assert_int_equal(fathom_engine_forward(fresh, x, 1, 98, 126, b), FATHOM_OK);
    assert_true(tu_check("grown vs fresh", a, b, 98 * 126, 1e-6, 1e-7));
    /* metric head: sigmoid * 20 */
    for (int i = 0; i < 98 * 126; i++) assert_true(a[i] >= 0.f && a[i] <= 20.f);
    assert_int_equal(fathom_engine_forward(e, x, 1, 42, 42, b), FATHOM_OK);
    free(x), free(a), free(b);
    fathom_engine_free(&e);
    fathom_engine_free(&fresh);
    synth_free(s);
}

typedef struct tap_log {
    int count, saw_features0, saw_preact, saw_block3;
} tap_log;

static void on_tap(void *user, const char *name, const float *data, int ndim,
                   const int64_t *shape) {
    tap_log *t = user;
    t->count++;
    assert_true(shape[0] == 2); /* batch first */
    assert_true(isfinite(data[0]));
    if (!strcmp(name, "features.0")) {
        assert_int_equal(ndim, 3);
        assert_int_equal(shape[1], 4 * 5), assert_int_equal(shape[2], 32);
        t->saw_features0 = 1;
    }
    if (!strcmp(name, "tokens.block3")) {
        assert_int_equal(shape[1], 1 + 4 * 5);
        t->saw_block3 = 1;
    }
    if (!strcmp(name, "head.preact")) {
        assert_int_equal(ndim, 4);
        assert_int_equal(shape[1], 1), assert_int_equal(shape[2], 56), assert_int_equal(shape[3], 70);
        t->saw_preact = 1;
    }
}

static void test_taps(void **state) {
    (void)state;
    synth *s = synth_model(0);
    fathom_engine *e = make_engine(s);
    tap_log log = {0};
    fathom_engine_set_tap(e, on_tap, &log);
    float *x = random_input(2, 56, 70, 9), *d = malloc(sizeof(float) * 2 * 56 * 70);
    assert_int_equal(fathom_engine_forward(e, x, 2, 56, 70, d), FATHOM_OK);
    assert_true(log.saw_features0 && log.saw_preact && log.saw_block3);
    /* embed + 4 blocks + 4 features + 4 reassemble + 4 layer_rn + 4 fusion + 3 head */
    assert_int_equal(log.count, 1 + 4 + 4 + 4 + 4 + 4 + 3);
    fathom_engine_set_tap(e, NULL, NULL);
    assert_int_equal(fathom_engine_forward(e, x, 2, 56, 70, d), FATHOM_OK);
    assert_int_equal(log.count, 24); /* no more calls once removed */
    free(x), free(d);
    fathom_engine_free(&e);
    synth_free(s);
}

static void test_bad_args(void **state) {
    (void)state;
    synth *s = synth_model(0);
    fathom_engine *e = NULL;
    assert_int_equal(fathom_engine_create(NULL, NULL, &e), FATHOM_ERR_INVALID_ARG);
    assert_null(e);
    assert_int_equal(fathom_engine_create(&s->m, NULL, NULL), FATHOM_ERR_INVALID_ARG);
    e = make_engine(s);
    float x[3 * 28 * 28] = {0}, d[28 * 28];
    assert_int_equal(fathom_engine_forward(e, NULL, 1, 28, 28, d), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_engine_forward(e, x, 1, 28, 28, NULL), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_engine_forward(NULL, x, 1, 28, 28, d), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_engine_forward(e, x, 0, 28, 28, d), FATHOM_ERR_SHAPE);
    assert_int_equal(fathom_engine_forward(e, x, 1, 27, 28, d), FATHOM_ERR_SHAPE);
    assert_int_equal(fathom_engine_forward(e, x, 1, 28, 0, d), FATHOM_ERR_SHAPE);
    assert_non_null(strstr(fathom_last_error(), "multiples of the patch size 14"));
    assert_int_equal(fathom_engine_reserve(e, 1, -14, 28), FATHOM_ERR_SHAPE);
    assert_int_equal(fathom_engine_reserve(e, 1 << 20, 14000, 14000), FATHOM_ERR_TOO_LARGE);
    assert_int_equal(fathom_engine_reserve(NULL, 1, 14, 14), FATHOM_ERR_INVALID_ARG);
    /* still usable after refusals */
    assert_int_equal(fathom_engine_forward(e, x, 1, 28, 28, d), FATHOM_OK);
    fathom_engine_free(&e);
    fathom_engine_free(&e); /* NULL is fine */
    fathom_engine_free(NULL);
    /* SwiGLU (vitg) is refused with a message, not run wrongly */
    s->w.arch.swiglu = 1;
    assert_int_equal(fathom_engine_create(&s->m, NULL, &e), FATHOM_ERR_UNSUPPORTED);
    synth_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_alloc_after_reserve),
        cmocka_unit_test(test_batch_equals_singles),
        cmocka_unit_test(test_reserve_growth),
        cmocka_unit_test(test_taps),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
