/* test_serve_slot_tsan.c - latest-frame-wins slots under contention: a fast producer and a slow
 * consumer never block each other, ids reach the consumer in increasing order, every put frame
 * is either taken or counted as dropped, several sink readers each see increasing ids, and every
 * frame is freed (refcounts) - checked by ASan/TSan builds too. The stage-to-stage queue
 * likewise, for live and for not-live (keep) frames. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "serve/priv.h"

#define N_PUT 20000

typedef struct ctx {
    sv_slot slot;
    atomic_int stop;
    int64_t taken[4];
    int bad_order[4];
} ctx;

static void *producer(void *arg) {
    ctx *c = arg;
    for (int i = 0; i < N_PUT; i++) {
        sv_frame *f = sv_frame_new(2, 2);
        assert_non_null(f);
        f->id = i;
        sv_slot_put(&c->slot, f);
        sv_frame_unref(&f);
    }
    atomic_store(&c->stop, 1);
    sv_slot_wake(&c->slot);
    return NULL;
}

typedef struct reader_arg {
    ctx *c;
    int k;
} reader_arg;

static void *reader(void *arg) {
    reader_arg *a = arg;
    uint64_t seen = 0;
    int64_t last = -1;
    for (;;) {
        sv_frame *f = sv_slot_wait(&a->c->slot, &seen, 0.05, NULL);
        if (!f) {
            if (atomic_load(&a->c->stop)) break;
            continue;
        }
        if (f->id <= last) a->c->bad_order[a->k]++;
        last = f->id;
        a->c->taken[a->k]++;
        if (a->k == 0) { /* a slow consumer */
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
        sv_frame_unref(&f);
        if (last == N_PUT - 1) break;
    }
    return NULL;
}

static void test_one_consumer_counts(void **state) {
    (void)state;
    ctx c = {0};
    sv_slot_init(&c.slot);
    reader_arg ra = {&c, 0};
    pthread_t p, r;
    pthread_create(&r, NULL, reader, &ra);
    pthread_create(&p, NULL, producer, &c);
    pthread_join(p, NULL);
    pthread_join(r, NULL);
    assert_int_equal(c.bad_order[0], 0);
    /* every frame put was taken or replaced untaken (dropped) */
    assert_int_equal(c.taken[0] + (int64_t)atomic_load(&c.slot.drops), N_PUT);
    assert_true(c.taken[0] > 0);
    sv_slot_destroy(&c.slot);
}

static void test_many_readers(void **state) {
    (void)state;
    ctx c = {0};
    sv_slot_init(&c.slot);
    reader_arg ra[4];
    pthread_t p, r[4];
    for (int k = 0; k < 4; k++) {
        ra[k] = (reader_arg){&c, k};
        pthread_create(&r[k], NULL, reader, &ra[k]);
    }
    pthread_create(&p, NULL, producer, &c);
    pthread_join(p, NULL);
    for (int k = 0; k < 4; k++) {
        pthread_join(r[k], NULL);
        assert_int_equal(c.bad_order[k], 0);
        assert_true(c.taken[k] > 0 && c.taken[k] <= N_PUT);
    }
    sv_slot_destroy(&c.slot);
}

/* The stage-to-stage queue: keep frames (a file played as fast as possible) all arrive, in
 * order, with the producer waiting for room; live frames are latest-frame-wins, every one
 * taken or counted as dropped, and at most one waits after a put. */
typedef struct qctx {
    sv_queue q;
    atomic_int stop;
    int keep;
    int64_t taken, bad_order, max_waiting;
} qctx;

static void *q_producer(void *arg) {
    qctx *c = arg;
    for (int i = 0; i < N_PUT; i++) {
        sv_frame *f = sv_frame_new(2, 2);
        assert_non_null(f);
        f->id = i;
        f->keep = c->keep;
        while (c->keep && !sv_queue_wait_room(&c->q, 0.05)) {
        }
        sv_queue_put(&c->q, f);
        sv_frame_unref(&f);
        pthread_mutex_lock(&c->q.mu);
        if (c->q.n > c->max_waiting) c->max_waiting = c->q.n;
        pthread_mutex_unlock(&c->q.mu);
    }
    atomic_store(&c->stop, 1);
    sv_queue_wake(&c->q);
    return NULL;
}

static void *q_consumer(void *arg) {
    qctx *c = arg;
    int64_t last = -1;
    for (;;) {
        sv_frame *f = sv_queue_take(&c->q, 0.05, NULL);
        if (!f) {
            if (!atomic_load(&c->stop)) continue;
            pthread_mutex_lock(&c->q.mu);
            int empty = c->q.n == 0;
            pthread_mutex_unlock(&c->q.mu);
            if (empty) break;
            continue;
        }
        if (f->id <= last) c->bad_order++;
        last = f->id;
        c->taken++;
        if (c->taken % 16 == 0) { /* slower than the producer now and then */
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        sv_frame_unref(&f);
    }
    return NULL;
}

static void run_queue(qctx *c) {
    sv_queue_init(&c->q);
    pthread_t p, r;
    pthread_create(&r, NULL, q_consumer, c);
    pthread_create(&p, NULL, q_producer, c);
    pthread_join(p, NULL);
    pthread_join(r, NULL);
    assert_int_equal(c->bad_order, 0);
    assert_int_equal(c->taken + (int64_t)atomic_load(&c->q.drops), N_PUT);
    sv_queue_destroy(&c->q);
}

static void test_queue_keep_loses_nothing(void **state) {
    (void)state;
    qctx c = {.keep = 1};
    run_queue(&c);
    assert_int_equal(c.taken, N_PUT);
    assert_true(c.max_waiting <= SV_QUEUE_DEPTH);
}

static void test_queue_live_latest_wins(void **state) {
    (void)state;
    qctx c = {.keep = 0};
    run_queue(&c);
    assert_true(c.taken > 0);
    assert_true(c.max_waiting <= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_consumer_counts),
                                       cmocka_unit_test(test_many_readers),
                                       cmocka_unit_test(test_queue_keep_loses_nothing),
                                       cmocka_unit_test(test_queue_live_latest_wins)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
