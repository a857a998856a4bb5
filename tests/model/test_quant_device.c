/* test_quant_device.c - a device engine's weight upload (quant_io_device.c) without a GPU: a
 * stand-in device (the CPU backend's memory ops under a device kind, load_packed recording
 * what it gets) takes the tiny golden model's weights, as fp32, int8 and q4:
 *   - fp32: the whole arena, every tensor field pointing at its own values;
 *   - int8 / q4: the arena less exactly the fp32 copies of the matrices load_packed got
 *     (every encoder block's qkv, proj, fc1 and fc2 among them); every other field points
 *     inside the smaller arena at its own values, every packed one at a key outside it,
 *     unique, under which its (N, K) matrix was loaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "core/status.h"
#include "model/quant_io.h"
#include "model/weights.h"
#include "test_util.h"

enum { MAXLOADS = 512 };
static struct {
    const float *key;
    int N, K, kind;
} loads[MAXLOADS];
static int nloads;

static fathom_status record(fathom_backend *be, const float *w, const fathom_packed_mat *m) {
    (void)be;
    if (nloads == MAXLOADS) return fathom_fail(FATHOM_ERR_INTERNAL, "test: too many packed matrices");
    loads[nloads].key = w, loads[nloads].N = m->N, loads[nloads].K = m->K, loads[nloads].kind = m->kind;
    nloads++;
    return FATHOM_OK;
}

static int loaded(const float *p, size_t floats) {
    int hits = 0;
    for (int i = 0; i < nloads; i++)
        if (loads[i].key == p) hits += (size_t)loads[i].N * loads[i].K == floats ? 1 : 100;
    return hits;
}

static void check(fathom_weight_format fmt) {
    const char *dir = tu_golden_dir();
    if (!dir) skip();
    fathom_weights *h = NULL;
    assert_int_equal(fathom_weights_load(tu_path(dir, "tiny-hf/model"), NULL, &h), FATHOM_OK);
    assert_non_null(h->info);
    fathom_backend *cpu = NULL;
    assert_int_equal(fathom_backend_cpu_create(1, &cpu), FATHOM_OK);
    fathom_backend_ops ops = *cpu->ops;
    ops.name = "stand-in", ops.load_packed = record;
    fathom_backend dev = {&ops, cpu->ctx, FATHOM_DEVICE_CUDA, 1};
    fathom_engine_params ep = {0};
    ep.threads = 1, ep.weights = fmt;
    nloads = 0;
    void *arena = NULL;
    size_t bytes = 0;
    fathom_weights dw;
    fathom_block_weights *blocks = calloc((size_t)h->arch.depth, sizeof *blocks);
    assert_int_equal(fathom_quant_device_upload(&dev, h, &ep, &arena, &bytes, &dw, blocks), FATHOM_OK);
    const char *lo = arena, *hi = lo + bytes, *hs = (const char *)h, *hb = (const char *)h->blocks;
    size_t packed_bytes = 0;
    int inside = 0, outside = 0;
    for (size_t k = 0; k < h->n_fields; k++) {
        const char *f = (const char *)h->fields[k];
        const char *df = f >= hs && f < hs + sizeof *h ? (const char *)&dw + (f - hs) : (const char *)blocks + (f - hb);
        const float *hp = *h->fields[k], *dp;
        memcpy(&dp, df, sizeof dp);
        size_t n = 1;
        for (int d = 0; d < h->info[k].ndim; d++) n *= (size_t)h->info[k].shape[d];
        if ((const char *)dp >= lo && (const char *)dp < hi) {
            assert_true((const char *)(dp + n) <= hi);
            assert_memory_equal(dp, hp, n * sizeof *hp);
            assert_int_equal(loaded(dp, n), 0);
            inside++;
        } else {
            assert_int_equal(loaded(dp, n), 1); /* a key of exactly one matrix of its size */
            packed_bytes += n * sizeof *hp;
            outside++;
        }
    }
    printf("%s: %d tensors uploaded, %d packed only (%d matrices loaded); arena %zu of %zu bytes\n",
           fmt == FATHOM_WEIGHTS_DEFAULT ? "fp32" : fmt == FATHOM_WEIGHTS_INT8 ? "int8" : "q4", inside,
           outside, nloads, bytes, h->arena_bytes);
    assert_int_equal(outside, nloads);
    assert_int_equal(bytes, h->arena_bytes - packed_bytes);
    if (fmt == FATHOM_WEIGHTS_DEFAULT) {
        assert_int_equal(nloads, 0);
    } else {
        assert_true(nloads >= 4 * h->arch.depth);
        for (int i = 0; i < h->arch.depth; i++) {
            const fathom_block_weights *b = &blocks[i];
            const float *lin[4] = {b->qkv_w, b->proj_w, b->fc1_w, b->fc2_w};
            for (int j = 0; j < 4; j++) assert_true((const char *)lin[j] < lo || (const char *)lin[j] >= hi);
        }
    }
    ops.free(&dev, arena, bytes);
    free(blocks);
    fathom_backend_free(&cpu);
    fathom_weights_free(&h);
}

static void test_fp32(void **state) {
    (void)state;
    check(FATHOM_WEIGHTS_DEFAULT);
}
static void test_int8(void **state) {
    (void)state;
    check(FATHOM_WEIGHTS_INT8);
}
static void test_q4(void **state) {
    (void)state;
    check(FATHOM_WEIGHTS_Q4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp32),
        cmocka_unit_test(test_int8),
        cmocka_unit_test(test_q4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
