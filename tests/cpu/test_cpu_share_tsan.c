/* test_cpu_share_tsan.c - engines of one model made at once on several threads (q4 and bf16,
 * release_fp32; fp32 with its AVX-512 weight panels): they all get the model's one packed set
 * (fp32: one panel set), built once under the share's lock,
 * and their depth is bit-identical to an engine on a model of its own. Also run under TSan
 * (label tsan): the share's table, the build and the release are what it watches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
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

enum { THREADS = 4 };

typedef struct job {
    fathom_model *m;
    fathom_engine_params ep;
    const tu_net_case *nc;
    const void *set; /* the engine's packed set (fp32: its weight panels) */
    float *depth;    /* owned */
    fathom_status st;
} job;

static void *make_and_run(void *arg) {
    job *j = arg;
    fathom_engine *e = NULL;
    j->st = fathom_engine_create(j->m, &j->ep, &e);
    if (j->st == FATHOM_OK) {
        const fathom_cpu_ctx *ctx = e->be->ctx;
        j->set = j->ep.precision == FATHOM_PRECISION_FP32 && j->ep.weights == FATHOM_WEIGHTS_DEFAULT
                     ? (const void *)ctx->sgemm
                     : (const void *)ctx->bf16;
        j->depth = malloc(j->nc->nd * sizeof *j->depth);
        j->st = fathom_engine_forward(e, j->nc->x, 1, j->nc->H, j->nc->W, j->depth);
    }
    fathom_engine_free(&e);
    return NULL;
}

static void run_format(const char *dir, const tu_net_case *nc, fathom_precision p, fathom_weight_format f) {
    fathom_engine_params ep = fathom_engine_default_params();
    ep.threads = 1, ep.precision = p, ep.weights = f;
    fathom_model *own = tu_load_case_model(dir, NULL), *m = tu_load_case_model(dir, NULL);
    assert_non_null(own);
    assert_non_null(m);
    job ref = {own, ep, nc, NULL, NULL, FATHOM_OK};
    make_and_run(&ref);
    assert_int_equal(ref.st, FATHOM_OK);
    const int fp32 = p == FATHOM_PRECISION_FP32 && f == FATHOM_WEIGHTS_DEFAULT;
    ep.release_fp32 = !fp32; /* an fp32 engine reads them */
    job jobs[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){m, ep, nc, NULL, NULL, FATHOM_OK};
        assert_int_equal(pthread_create(&th[i], NULL, make_and_run, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        if (jobs[i].st != FATHOM_OK) fail_msg("engine %d: %s", i, fathom_last_error());
        assert_ptr_equal(jobs[i].set, jobs[0].set);
        assert_memory_equal(jobs[i].depth, ref.depth, nc->nd * sizeof *ref.depth);
        free(jobs[i].depth);
    }
    if (fp32) {
        /* the panels exist where AVX-512 does (else OpenBLAS reads the fp32 weights) */
        if (fathom_cpu_has_avx512()) assert_non_null(jobs[0].set);
        assert_true(fathom_weights_released(m->w) == 0);
        printf("fp32: %d engines at once, %s\n", THREADS,
               jobs[0].set ? "one set of weight panels" : "no panels (no AVX-512)");
    } else {
        assert_true(fathom_weights_released(m->w) > 0);
        printf("%s: %d engines at once, one set, %zu fp32 bytes released\n", f == FATHOM_WEIGHTS_Q4 ? "q4" : "bf16",
               THREADS, fathom_weights_released(m->w));
    }
    free(ref.depth);
    fathom_model_free(&own);
    fathom_model_free(&m);
}

static void test_share(void **state) {
    (void)state;
    const char *dir = tu_path(tu_golden_dir(), "tiny-hf");
    tu_net_case nc;
    if (!tu_load_net_case(dir, &nc)) fail_msg("%s: no network pass", dir);
    run_format(dir, &nc, FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_Q4);
    run_format(dir, &nc, FATHOM_PRECISION_BF16, FATHOM_WEIGHTS_DEFAULT);
    run_format(dir, &nc, FATHOM_PRECISION_FP32, FATHOM_WEIGHTS_DEFAULT);
    tu_free_net_case(&nc);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_share)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
