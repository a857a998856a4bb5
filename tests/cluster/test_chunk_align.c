/* test_chunk_align.c - chunk plans by frame index and the least-squares seam alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "cluster/align.h"
#include "cluster/chunk_job.h"
#include "cluster/chunk_plan.h"

static void test_plan_cover(void **state) {
    (void)state;
    int64_t pts[103];
    int64_t t = 0;
    for (int i = 0; i < 103; i++) pts[i] = t, t += 33333 + (i % 7) * 1000; /* VFR */
    for (int n = 1; n <= 9; n++)
        for (int k = 0; k <= 40; k += 13) {
            fathom_chunk *c = NULL;
            int m = 0;
            assert_int_equal(fathom_chunk_plan(pts, 103, n, k, &c, &m), FATHOM_OK);
            assert_int_equal(m, n);
            int64_t next = 0, lo = 1000, hi = 0;
            for (int i = 0; i < m; i++) {
                assert_int_equal(c[i].first, next); /* contiguous, every frame once */
                next += c[i].count;
                lo = c[i].count < lo ? c[i].count : lo;
                hi = c[i].count > hi ? c[i].count : hi;
                int64_t df = i == 0 ? 0 : c[i].first - k > c[i - 1].first ? c[i].first - k : c[i - 1].first;
                assert_int_equal(c[i].decode_from, df);
                assert_int_equal(c[i].start_us, i ? pts[df] : 0);
                if (i + 1 < m) assert_int_equal(c[i].end_us, pts[c[i + 1].first]);
                else assert_int_equal(c[i].end_us, -1);
            }
            assert_int_equal(next, 103);
            assert_true(hi - lo <= 1);
            free(c);
        }
}

/* Automatic plans: the last chunk per engine half as long, every frame once, the overlap rule
 * kept; too short a video (a half chunk under 16 frames or 8x the overlap) gets equal chunks. */
static void test_plan_tapered(void **state) {
    (void)state;
    static int64_t pts[5000];
    for (int i = 0; i < 5000; i++) pts[i] = i * 40000LL + (i % 3) * 1000;
    const struct { int64_t frames; int n, taper, k, tapered; } t[] = {
        {1920, 48, 16, 0, 1}, {1920, 6, 2, 16, 1}, {4999, 15, 5, 3, 1}, {100, 6, 2, 0, 0},
        {1920, 48, 16, 4, 0}, {300, 4, 4, 0, 0}, {1000, 9, 3, 7, 1}};
    for (size_t j = 0; j < sizeof t / sizeof t[0]; j++) {
        fathom_chunk *c = NULL;
        int m = 0;
        assert_int_equal(fathom_chunk_plan_tapered(pts, t[j].frames, t[j].n, t[j].k, t[j].taper,
                                                   &c, &m), FATHOM_OK);
        assert_int_equal(m, t[j].n);
        int64_t next = 0;
        for (int i = 0; i < m; i++) {
            assert_int_equal(c[i].first, next);
            next += c[i].count;
            int64_t df = i == 0 ? 0 : c[i].first - t[j].k > c[i - 1].first ? c[i].first - t[j].k
                                                                              : c[i - 1].first;
            assert_int_equal(c[i].decode_from, df);
            if (i + 1 < m) assert_int_equal(c[i].end_us, pts[c[i + 1].first]);
            /* whole chunks (the first n - taper) and half chunks (the rest) */
            int half = t[j].tapered && i >= m - t[j].taper;
            int64_t unit = t[j].tapered ? 2 * t[j].frames / (2 * (m - t[j].taper) + t[j].taper)
                                        : t[j].frames / m;
            int64_t want = half ? unit / 2 : unit;
            assert_true(c[i].count >= want - 1 && c[i].count <= want + 1);
        }
        assert_int_equal(next, t[j].frames);
        free(c);
    }
}

static void test_plan_small(void **state) {
    (void)state;
    int64_t pts[2] = {0, 40000};
    fathom_chunk *c = NULL;
    int m = 0;
    assert_int_equal(fathom_chunk_plan(pts, 2, 5, 4, &c, &m), FATHOM_OK);
    assert_int_equal(m, 2); /* never an empty chunk */
    free(c);
    assert_int_not_equal(fathom_chunk_plan(pts, 0, 2, 0, &c, &m), FATHOM_OK);
    assert_int_not_equal(fathom_chunk_plan(pts, 2, 0, 0, &c, &m), FATHOM_OK);
}

static void test_align_recovers(void **state) {
    (void)state;
    enum { N = 4096 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    for (int i = 0; i < N; i++) {
        a[i] = 1.0f + (float)((i * 37) % 101) / 10.0f;
        b[i] = (a[i] - 0.75f) / 2.5f; /* a = 2.5 b + 0.75 */
    }
    b[7] = NAN; /* skipped */
    fathom_align_acc acc;
    fathom_align_init(&acc);
    fathom_align_add(&acc, a, b, N / 2);
    fathom_align_add(&acc, a + N / 2, b + N / 2, N / 2);
    double s, t, r;
    fathom_align_solve(&acc, &s, &t, &r);
    assert_true(fabs(s - 2.5) < 1e-5 && fabs(t - 0.75) < 1e-5);
    assert_true(r < 1e-5);
    for (int i = 0; i < N; i++) b[i] += (i & 1) ? 0.1f : -0.1f; /* noise: a residual shows */
    fathom_align_init(&acc);
    fathom_align_add(&acc, a, b, N);
    fathom_align_solve(&acc, &s, &t, &r);
    assert_true(r > 0.01 && r < 0.05); /* 0.25 / range 10 */
    free(a);
    free(b);
}

static void test_align_degenerate_and_fade(void **state) {
    (void)state;
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 5, 5, 5}, out[4];
    fathom_align_acc acc;
    fathom_align_init(&acc);
    double s, t, r;
    fathom_align_solve(&acc, &s, &t, &r); /* nothing added: identity */
    assert_true(s == 1 && t == 0 && r == 0);
    fathom_align_add(&acc, a, b, 4);
    fathom_align_solve(&acc, &s, &t, &r); /* constant b: shift only */
    assert_true(s == 1 && fabs(t - (2.5 - 5)) < 1e-12);
    fathom_align_apply(out, b, 4, 2, 1);
    assert_true(out[0] == 11);
    float x[2] = {0, 0}, y[2] = {3, 3};
    for (int j = 0; j < 2; j++) { /* weights 1/3, 2/3: strictly between the chunks */
        fathom_align_fade(out, x, y, 2, j, 2);
        assert_true(fabsf(out[0] - 3.0f * (j + 1) / 3.0f) < 1e-6f);
    }
}

/* Automatic chunk count: at most 3 per engine, each chunk owning at least 32 + 8 K frames, as
 * many as both allow, never 0 (pseudo-random sizes, engine counts and overlaps). */
static void test_auto_chunks(void **state) {
    (void)state;
    uint32_t x = 12345;
    for (int t = 0; t < 2000; t++) {
        x = x * 1103515245u + 12345u;
        int64_t frames = 1 + (x >> 8) % 200000;
        int engines = 1 + (int)((x >> 4) % 64), k = (int)(x % 40);
        int n = fathom_chunk_auto(frames, engines, k);
        int64_t per = 32 + 8 * (int64_t)k;
        assert_true(n >= 1 && n <= 3 * engines);
        if (n > 1) assert_true(frames / n >= per);       /* every chunk long enough */
        if (n < 3 * engines) assert_true(frames / (n + 1) < per); /* and no more would be */
    }
    assert_int_equal(fathom_chunk_auto(0, 4, 16), 1);
    assert_int_equal(fathom_chunk_auto(100000, 0, 0), 3); /* no engine count: one engine */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_cover), cmocka_unit_test(test_plan_small),
        cmocka_unit_test(test_plan_tapered),
        cmocka_unit_test(test_align_recovers), cmocka_unit_test(test_align_degenerate_and_fade),
        cmocka_unit_test(test_auto_chunks)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
