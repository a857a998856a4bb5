/* test_temporal_norm.c - EMA min/max with look-ahead and scene cuts on synthetic depth clips. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "video/temporal_norm.h"

enum { H = 24, W = 32, N = 60 };

/* A "scene": a ramp lo..hi left to right, plus an optional bright blob. */
static void frame(float *d, float lo, float hi, float blob) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) d[y * W + x] = lo + (hi - lo) * x / (W - 1);
    if (blob > 0)
        for (int y = 8; y < 12; y++)
            for (int x = 8; x < 12; x++) d[y * W + x] = blob;
}

typedef struct range { float lo, hi; int cut; } range;

/* Push all frames (made by fn), popping as soon as possible; returns ranges in order. */
static void run(const fathom_tnorm_opts *o, float (*spec)[3], int n, range *out) {
    fathom_tnorm *tn = NULL;
    assert_int_equal(fathom_tnorm_create(o, &tn), FATHOM_OK);
    float d[H * W];
    int k = 0;
    for (int i = 0; i < n; i++) {
        frame(d, spec[i][0], spec[i][1], spec[i][2]);
        assert_int_equal(fathom_tnorm_push(tn, d, H, W), FATHOM_OK);
        while (fathom_tnorm_pop(tn, &out[k].lo, &out[k].hi, &out[k].cut)) k++;
        assert_true(fathom_tnorm_pending(tn) <= o->lookahead);
    }
    fathom_tnorm_flush(tn);
    while (fathom_tnorm_pop(tn, &out[k].lo, &out[k].hi, &out[k].cut)) k++;
    assert_int_equal(k, n);
    assert_int_equal(fathom_tnorm_pending(tn), 0);
    fathom_tnorm_free(&tn);
    fathom_tnorm_free(&tn); /* idempotent */
}

static void test_spike_is_smoothed_and_anticipated(void **state) {
    (void)state;
    static float spec[N][3];
    for (int i = 0; i < N; i++) {
        spec[i][0] = 1;
        spec[i][1] = 5;
        spec[i][2] = (i == 30) ? 9 : 0; /* one frame with a near object */
    }
    range r[N];
    fathom_tnorm_opts o = {0.8f, 4, 0.3f};
    run(&o, spec, N, r);
    for (int i = 0; i < N; i++) {
        /* never clips its own frame */
        assert_true(r[i].lo <= spec[i][0] + 1e-6f);
        assert_true(r[i].hi >= fmaxf(spec[i][1], spec[i][2]) - 1e-6f);
        assert_int_equal(r[i].cut, i == 0);
    }
    assert_true(fabsf(r[10].hi - 5) < 1e-5f); /* steady scene: its own range */
    /* look-ahead: the range starts growing before the spike arrives ... */
    assert_true(r[27].hi > 5.1f && r[27].hi < r[28].hi && r[28].hi < r[29].hi);
    assert_true(fabsf(r[25].hi - 5) < 1e-5f); /* ... but not before it is in view */
    /* ... and decays smoothly afterwards instead of jumping back */
    assert_true(r[31].hi > 5.5f && r[31].hi < 9);
    for (int i = 31; i < 40; i++) assert_true(r[i + 1].hi <= r[i].hi + 1e-6f);
    assert_true(r[59].hi < 5.05f);
    /* consecutive ranges never jump by more than (1 - decay) of the change: no flicker */
    for (int i = 1; i < 30; i++) assert_true(fabsf(r[i].hi - r[i - 1].hi) <= 0.2f * 4 + 1e-4f);
}

static void test_scene_cut_resets(void **state) {
    (void)state;
    static float spec[N][3];
    for (int i = 0; i < N; i++) {
        /* 0..19 ramp 1..5; 20..39 a new layout (reversed ramp) over 100..300; 40.. the same
         * layout at ten times the depth: a cut seen only in the range */
        float k = i >= 40 ? 10 : 1;
        spec[i][0] = i >= 20 ? 300 * k : 1;
        spec[i][1] = i >= 20 ? 100 * k : 5;
        spec[i][2] = 0;
    }
    range r[N];
    fathom_tnorm_opts o = {0.95f, 6, 0.1f};
    run(&o, spec, N, r);
    for (int i = 0; i < N; i++) assert_int_equal(r[i].cut, i == 0 || i == 20 || i == 40);
    /* the first scene's look-ahead stops at the cut, and the next starts fresh */
    assert_true(fabsf(r[19].lo - 1) < 1e-5f && fabsf(r[19].hi - 5) < 1e-5f);
    assert_true(fabsf(r[20].lo - 100) < 1e-3f && fabsf(r[20].hi - 300) < 1e-3f);
    assert_true(fabsf(r[39].lo - 100) < 1e-3f && fabsf(r[39].hi - 300) < 1e-3f);
    assert_true(fabsf(r[40].lo - 1000) < 1e-2f && fabsf(r[40].hi - 3000) < 1e-2f);
    /* without cut detection the slow EMA drags the old range along */
    o.cut_threshold = 0;
    run(&o, spec, N, r);
    assert_true(r[21].lo < 50);
}

static void test_frame_mode_and_bad_input(void **state) {
    (void)state;
    static float spec[4][3] = {{0, 1, 0}, {2, 3, 0}, {-1, 7, 0}, {5, 5, 0}};
    range r[4];
    fathom_tnorm_opts o = {0, 0, 0}; /* per-frame ranges */
    run(&o, spec, 4, r);
    assert_true(r[0].lo == 0 && r[0].hi == 1);
    assert_true(r[1].lo == 2 && r[1].hi == 3);
    assert_true(r[2].lo == -1 && r[2].hi == 7);
    assert_true(r[3].lo == 5 && r[3].hi > 5); /* constant frame: still an increasing range */

    fathom_tnorm *tn = NULL;
    fathom_tnorm_opts bad = {1.5f, 4, 0};
    assert_int_equal(fathom_tnorm_create(&bad, &tn), FATHOM_ERR_INVALID_ARG);
    bad.decay = 0.5f;
    bad.lookahead = -1;
    assert_int_equal(fathom_tnorm_create(&bad, &tn), FATHOM_ERR_INVALID_ARG);
    fathom_tnorm_opts one = {0.5f, 1, 0};
    assert_int_equal(fathom_tnorm_create(&one, &tn), FATHOM_OK);
    float d[H * W];
    for (int i = 0; i < H * W; i++) d[i] = NAN; /* nothing finite */
    d[5] = INFINITY;
    float lo, hi;
    assert_int_equal(fathom_tnorm_pop(tn, &lo, &hi, NULL), 0);
    assert_int_equal(fathom_tnorm_push(tn, d, H, W), FATHOM_OK);
    assert_int_equal(fathom_tnorm_pop(tn, &lo, &hi, NULL), 0); /* waits for look-ahead */
    assert_int_equal(fathom_tnorm_push(tn, d, H, W), FATHOM_OK);
    assert_int_equal(fathom_tnorm_push(tn, d, H, W), FATHOM_ERR_INVALID_ARG); /* window full */
    assert_int_equal(fathom_tnorm_pop(tn, &lo, &hi, NULL), 1);
    assert_true(isfinite(lo) && isfinite(hi) && hi > lo);
    assert_int_equal(fathom_tnorm_push(tn, NULL, H, W), FATHOM_ERR_INVALID_ARG);
    fathom_tnorm_free(&tn);
    fathom_tnorm_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spike_is_smoothed_and_anticipated),
        cmocka_unit_test(test_scene_cut_resets),
        cmocka_unit_test(test_frame_mode_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
