/* test_pipeline_tsan.c - the staged pipeline through the library API, on real PNG files and
 * the golden tiny model: accounting, batching (batch 3 == batch 1, shapes never mixed), the
 * ordered-sink reorder buffer, cancel, resume. Also run under TSan (label tsan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fathom.h"
#include "pipeline/pipeline.h"
#include "test_util.h"

#define N_GOOD 9

static fathom_model *g_model;
static char *g_in;   /* input folder with N_GOOD pngs + 1 corrupt file */

static void make_inputs(void) {
    g_in = tu_mkdtemp();
    for (int i = 0; i < N_GOOD; i++) {
        /* two sizes -> two network shapes; real PNG files through the real encoder */
        int w = i % 3 == 0 ? 40 : 30, h = i % 3 == 0 ? 24 : 30;
        float *img = malloc(sizeof(float) * w * h);
        tu_fill_random(img, (size_t)w * h, 100 + i, 1.0f);
        char name[64];
        snprintf(name, sizeof name, "img%02d.png", i);
        assert_int_equal(fathom_depth_write(tu_path(g_in, name), FATHOM_OUT_PNG8, img, h, w, NULL),
                         FATHOM_OK);
        free(img);
    }
    FILE *f = fopen(tu_path(g_in, "zz_corrupt.png"), "wb");
    fputs("\x89PNG\r\n\x1a\n truncated", f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    const char *g = tu_golden_dir();
    if (fathom_model_load(tu_path(g, "tiny-hf/model"), NULL, &g_model) != FATHOM_OK) {
        fprintf(stderr, "model: %s\n", fathom_last_error());
        return -1;
    }
    make_inputs();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fathom_model_free(&g_model);
    tu_rmtree(g_in);
    free(g_in);
    return 0;
}

static fathom_run_params small_params(const char **inputs, const char *outdir, int batch) {
    fathom_run_params p = fathom_run_default_params();
    p.inputs = inputs;
    p.n_inputs = 1;
    p.outdir = outdir;
    p.input_size = 28; /* small network: fast, still two shapes */
    p.batch = batch;
    p.workers = 2;
    p.queue = 2;      /* small queues: backpressure is exercised */
    p.devices[0].threads = 1;
    return p;
}

static float *load_out(const char *dir, int i, size_t *n) {
    char name[64];
    snprintf(name, sizeof name, "img%02d.npy", i);
    int64_t shape[8];
    int nd;
    return tu_load_npy(tu_path(dir, name), shape, &nd, n);
}

static void test_accounting_and_batching(void **state) {
    (void)state;
    const char *inputs[] = {g_in};
    char *o1 = tu_mkdtemp(), *o3 = tu_mkdtemp();
    fathom_run_stats s1, s3;
    fathom_pipeline *pl;
    fathom_run_params p = small_params(inputs, o1, 1);
    assert_int_equal(fathom_pipeline_create(g_model, &p, &pl), FATHOM_OK);
    assert_int_equal(fathom_pipeline_run(pl, &s1), FATHOM_OK);
    fathom_pipeline_free(&pl);
    p = small_params(inputs, o3, 3);
    p.batch_timeout_s = 0.5;
    assert_int_equal(fathom_pipeline_create(g_model, &p, &pl), FATHOM_OK);
    assert_int_equal(fathom_pipeline_run(pl, &s3), FATHOM_OK);
    fathom_pipeline_free(&pl);
    fathom_run_stats *all[2] = {&s1, &s3};
    for (int k = 0; k < 2; k++) {
        fathom_run_stats *s = all[k];
        assert_int_equal(s->taken, N_GOOD + 1);
        assert_int_equal(s->total, N_GOOD + 1); /* folder counted (count thread, then exact) */
        assert_int_equal(s->done, N_GOOD);
        assert_int_equal(s->failed, 1);
        assert_int_equal(s->skipped, 0);
        assert_int_equal(s->finished, s->done + s->skipped + s->failed);
        assert_int_equal(s->fatal, FATHOM_OK);
    }
    assert_int_equal(s1.batches, N_GOOD);
    assert_true(s3.batches < N_GOOD); /* some batching happened */
    for (int i = 0; i < N_GOOD; i++) {
        size_t n1, n3;
        float *a = load_out(o1, i, &n1), *b = load_out(o3, i, &n3);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(n1, n3);
        assert_int_equal(n1, i % 3 == 0 ? 40 * 24 : 30 * 30);
        /* same engine, same numbers: batching must not change an image's result beyond
         * float reassociation in batched GEMMs */
        assert_true(tu_check("batch3 vs batch1", b, a, n1, 1e-4, 1e-5));
        free(a);
        free(b);
    }
    tu_rmtree(o1);
    tu_rmtree(o3);
    free(o1);
    free(o3);
}

/* ---- ordered sink: must see 0, 1, 2, ... exactly once ---- */
typedef struct order_sink {
    uint64_t next;
    int bad, count, failed;
} order_sink;

static fathom_status order_write(void *self, fathom_item *it) {
    order_sink *s = self;
    if (it->index != s->next) s->bad++;
    s->next = it->index + 1;
    s->count++;
    if (it->state == FATHOM_ITEM_FAILED) s->failed++;
    return FATHOM_OK;
}
static void order_free(void *self) { (void)self; }
static const fathom_sink_ops k_order_ops = {"order", 1, NULL, order_write, NULL, order_free};

static void test_ordered_sink(void **state) {
    (void)state;
    const char *inputs[] = {g_in};
    order_sink os = {0};
    fathom_run_params p = small_params(inputs, "unused", 3);
    p.workers = 3;
    fathom_source src;
    fathom_inputs_opts io = {0, NULL, NULL};
    assert_int_equal(fathom_inputs_source_create(inputs, 1, &io, &src), FATHOM_OK);
    fathom_sink sink = {&k_order_ops, &os};
    fathom_pipeline *pl;
    assert_int_equal(fathom_pipeline_create_with(g_model, &p, &src, &sink, &pl), FATHOM_OK);
    fathom_run_stats s;
    assert_int_equal(fathom_pipeline_run(pl, &s), FATHOM_OK);
    fathom_pipeline_free(&pl);
    assert_int_equal(os.bad, 0);
    assert_int_equal(os.count, N_GOOD + 1);
    assert_int_equal(os.failed, 1);
}

/* ---- cancel from the progress callback: stops input, finishes what is in flight ---- */
static void cancel_on_first(void *user, const fathom_item_event *ev) {
    (void)ev;
    fathom_pipeline_cancel(*(fathom_pipeline **)user);
}

static void test_cancel(void **state) {
    (void)state;
    const char *inputs[] = {g_in};
    char *o = tu_mkdtemp();
    fathom_run_params p = small_params(inputs, o, 1);
    p.queue = 1;
    p.workers = 1;
    fathom_pipeline *pl;
    p.on_item = cancel_on_first;
    p.user = &pl;
    assert_int_equal(fathom_pipeline_create(g_model, &p, &pl), FATHOM_OK);
    fathom_run_stats s;
    assert_int_equal(fathom_pipeline_run(pl, &s), FATHOM_ERR_INTERRUPTED);
    fathom_pipeline_free(&pl);
    assert_true(s.cancelled);
    assert_true(s.taken < N_GOOD + 1);       /* input was not read to the end */
    assert_int_equal(s.finished, s.taken);   /* nothing taken was dropped */
    tu_rmtree(o);
    free(o);
}

static void test_resume_and_existing(void **state) {
    (void)state;
    const char *inputs[] = {g_in};
    char *o = tu_mkdtemp();
    fathom_run_params p = small_params(inputs, o, 2);
    fathom_pipeline *pl;
    fathom_run_stats s;
    assert_int_equal(fathom_pipeline_create(g_model, &p, &pl), FATHOM_OK);
    assert_int_equal(fathom_pipeline_run(pl, &s), FATHOM_OK);
    fathom_pipeline_free(&pl);
    assert_int_equal(s.done, N_GOOD);
    /* default policy: existing outputs fail their items, nothing is rewritten */
    assert_int_equal(fathom_pipeline_create(g_model, &p, &pl), FATHOM_OK);
    assert_int_equal(fathom_pipeline_run(pl, &s), FATHOM_OK);
    fathom_pipeline_free(&pl);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.failed, N_GOOD + 1);
    p.existing = FATHOM_EXISTING_RESUME;
    assert_int_equal(fathom_pipeline_create(g_model, &p, &pl), FATHOM_OK);
    assert_int_equal(fathom_pipeline_run(pl, &s), FATHOM_OK);
    fathom_pipeline_free(&pl);
    assert_int_equal(s.skipped, N_GOOD);
    assert_int_equal(s.failed, 1); /* the corrupt file has no outputs: tried again */
    assert_int_equal(s.batches, 0);
    tu_rmtree(o);
    free(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounting_and_batching),
        cmocka_unit_test(test_ordered_sink),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_resume_and_existing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
