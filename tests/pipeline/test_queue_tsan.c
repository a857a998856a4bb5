/* test_queue_tsan.c - the bounded blocking queue: FIFO order, close semantics, blocking at
 * capacity, timeouts, and many producers/consumers (also run under TSan: label tsan). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "pipeline/queue.h"

static void test_fifo_and_close(void **state) {
    (void)state;
    fathom_queue *q;
    assert_int_equal(fathom_queue_create(3, &q), FATHOM_OK);
    int v[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) assert_int_equal(fathom_queue_push(q, &v[i]), FATHOM_OK);
    assert_int_equal(fathom_queue_size(q), 3);
    void *p;
    assert_int_equal(fathom_queue_pop(q, &p), 1);
    assert_ptr_equal(p, &v[0]);
    fathom_queue_close(q);
    fathom_queue_close(q); /* idempotent */
    /* closed: push refused, remaining items still come out in order, then end */
    assert_int_equal(fathom_queue_push(q, &v[0]), FATHOM_ERR_INTERRUPTED);
    assert_int_equal(fathom_queue_pop(q, &p), 1);
    assert_ptr_equal(p, &v[1]);
    assert_int_equal(fathom_queue_try_pop(q, &p), 1);
    assert_ptr_equal(p, &v[2]);
    assert_int_equal(fathom_queue_pop(q, &p), 0);
    assert_null(p);
    assert_int_equal(fathom_queue_pop_timeout(q, &p, 1.0), 0);
    assert_int_equal(fathom_queue_try_pop(q, &p), 0);
    fathom_queue_free(&q);
    assert_null(q);
    fathom_queue_free(&q); /* NULL is fine */
    assert_int_not_equal(fathom_queue_create(0, &q), FATHOM_OK);
}

static void test_timeout_open(void **state) {
    (void)state;
    fathom_queue *q;
    assert_int_equal(fathom_queue_create(1, &q), FATHOM_OK);
    void *p = (void *)1;
    assert_int_equal(fathom_queue_pop_timeout(q, &p, 0.01), -1); /* empty, open */
    assert_null(p);
    assert_int_equal(fathom_queue_try_pop(q, &p), -1);
    fathom_queue_free(&q);
}

typedef struct blocker {
    fathom_queue *q;
    atomic_int pushed;
    fathom_status last;
} blocker;

static void *push_two(void *arg) {
    blocker *b = arg;
    static int x;
    b->last = fathom_queue_push(b->q, &x);
    atomic_fetch_add(&b->pushed, 1);
    b->last = fathom_queue_push(b->q, &x); /* blocks: capacity 1 */
    atomic_fetch_add(&b->pushed, 1);
    return NULL;
}

static void sleep_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_push_blocks_until_pop_or_close(void **state) {
    (void)state;
    blocker b = {0};
    assert_int_equal(fathom_queue_create(1, &b.q), FATHOM_OK);
    pthread_t t;
    pthread_create(&t, NULL, push_two, &b);
    while (atomic_load(&b.pushed) < 1) sleep_ms(1);
    sleep_ms(50); /* give the second push time to (wrongly) succeed */
    assert_int_equal(atomic_load(&b.pushed), 1);
    void *p;
    assert_int_equal(fathom_queue_pop(b.q, &p), 1); /* frees a slot: the push completes */
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&b.pushed), 2);
    assert_int_equal(b.last, FATHOM_OK);
    /* full again (the second push landed): a blocked push is released by close */
    assert_int_equal(fathom_queue_size(b.q), 1);
    atomic_store(&b.pushed, 0);
    pthread_create(&t, NULL, push_two, &b); /* the first push blocks on the full queue */
    sleep_ms(20);
    assert_int_equal(atomic_load(&b.pushed), 0);
    fathom_queue_close(b.q);
    pthread_join(t, NULL);
    assert_int_equal(b.last, FATHOM_ERR_INTERRUPTED);
    fathom_queue_free(&b.q);
}

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 5000

typedef struct mpmc {
    fathom_queue *q;
    uintptr_t base;
    atomic_llong sum;
    atomic_llong count;
    atomic_int producers_left;
} mpmc;

typedef struct prod_arg {
    mpmc *m;
    int id;
} prod_arg;

static void *producer(void *arg) {
    prod_arg *a = arg;
    for (uintptr_t i = 1; i <= PER_PRODUCER; i++) {
        /* encode producer id and sequence number in the pointer value */
        uintptr_t v = ((uintptr_t)a->id << 20) | i;
        assert_int_equal(fathom_queue_push(a->m->q, (void *)v), FATHOM_OK);
    }
    if (atomic_fetch_sub(&a->m->producers_left, 1) == 1) fathom_queue_close(a->m->q);
    return NULL;
}

static void *consumer(void *arg) {
    mpmc *m = arg;
    uintptr_t last[PRODUCERS] = {0};
    void *p;
    while (fathom_queue_pop(m->q, &p) == 1) {
        uintptr_t v = (uintptr_t)p;
        int id = (int)(v >> 20);
        uintptr_t seq = v & ((1u << 20) - 1);
        /* each producer's items keep their order, also as seen by one consumer */
        if (seq <= last[id]) fail_msg("producer %d: %lu after %lu", id, (unsigned long)seq,
                                      (unsigned long)last[id]);
        last[id] = seq;
        atomic_fetch_add(&m->sum, (long long)seq);
        atomic_fetch_add(&m->count, 1);
    }
    return NULL;
}

static void test_many_producers_consumers(void **state) {
    (void)state;
    mpmc m;
    memset(&m, 0, sizeof m);
    assert_int_equal(fathom_queue_create(7, &m.q), FATHOM_OK);
    atomic_store(&m.producers_left, PRODUCERS);
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    prod_arg pa[PRODUCERS];
    for (int i = 0; i < CONSUMERS; i++) pthread_create(&ct[i], NULL, consumer, &m);
    for (int i = 0; i < PRODUCERS; i++) {
        pa[i] = (prod_arg){&m, i};
        pthread_create(&pt[i], NULL, producer, &pa[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(pt[i], NULL);
    for (int i = 0; i < CONSUMERS; i++) pthread_join(ct[i], NULL);
    /* every item delivered exactly once */
    assert_int_equal(atomic_load(&m.count), (long long)PRODUCERS * PER_PRODUCER);
    assert_int_equal(atomic_load(&m.sum),
                     (long long)PRODUCERS * PER_PRODUCER * (PER_PRODUCER + 1) / 2);
    assert_int_equal(fathom_queue_size(m.q), 0);
    fathom_queue_free(&m.q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_close),
        cmocka_unit_test(test_timeout_open),
        cmocka_unit_test(test_push_blocks_until_pop_or_close),
        cmocka_unit_test(test_many_producers_consumers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
