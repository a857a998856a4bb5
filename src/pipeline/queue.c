/* queue.c - bounded blocking FIFO with close() (see queue.h for the DESIGN). */
#include "pipeline/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/status.h"

struct fathom_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty; /* signalled on push and close */
    pthread_cond_t not_full;  /* signalled on pop and close */
    void **ring;              /* owned: capacity slots */
    size_t capacity, head, count;
    int closed;
};

fathom_status fathom_queue_create(size_t capacity, fathom_queue **out) {
    *out = NULL;
    if (capacity < 1) return fathom_fail(FATHOM_ERR_INVALID_ARG, "queue capacity must be >= 1");
    fathom_queue *q = calloc(1, sizeof *q);
    if (!q) return fathom_fail(FATHOM_ERR_NOMEM, "queue: out of memory");
    q->ring = calloc(capacity, sizeof *q->ring);
    if (!q->ring) {
        free(q);
        return fathom_fail(FATHOM_ERR_NOMEM, "queue: out of memory for %zu slots", capacity);
    }
    q->capacity = capacity;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    *out = q;
    return FATHOM_OK;
}

void fathom_queue_free(fathom_queue **qp) {
    if (!qp || !*qp) return;
    fathom_queue *q = *qp;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
    *qp = NULL;
}

fathom_status fathom_queue_push(fathom_queue *q, void *item) {
    pthread_mutex_lock(&q->mu);
    while (q->count == q->capacity && !q->closed) pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return FATHOM_ERR_INTERRUPTED;
    }
    q->ring[(q->head + q->count) % q->capacity] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return FATHOM_OK;
}

/* Take the head; caller holds the lock and checked count > 0. */
static void *take_locked(fathom_queue *q) {
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    pthread_cond_signal(&q->not_full);
    return item;
}

int fathom_queue_pop(fathom_queue *q, void **item) {
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed) pthread_cond_wait(&q->not_empty, &q->mu);
    int got = q->count > 0;
    *item = got ? take_locked(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return got;
}

int fathom_queue_pop_timeout(fathom_queue *q, void **item, double timeout_s) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_s < 0) timeout_s = 0;
    long long ns = (long long)(timeout_s * 1e9) + deadline.tv_nsec;
    deadline.tv_sec += (time_t)(ns / 1000000000LL);
    deadline.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    while (q->count == 0 && !q->closed && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&q->not_empty, &q->mu, &deadline);
    int got;
    if (q->count > 0) {
        *item = take_locked(q);
        got = 1;
    } else {
        *item = NULL;
        got = q->closed ? 0 : -1;
    }
    pthread_mutex_unlock(&q->mu);
    return got;
}

int fathom_queue_try_pop(fathom_queue *q, void **item) {
    pthread_mutex_lock(&q->mu);
    int got;
    if (q->count > 0) {
        *item = take_locked(q);
        got = 1;
    } else {
        *item = NULL;
        got = q->closed ? 0 : -1;
    }
    pthread_mutex_unlock(&q->mu);
    return got;
}

void fathom_queue_close(fathom_queue *q) {
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

int fathom_queue_is_closed(fathom_queue *q) {
    pthread_mutex_lock(&q->mu);
    int c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

size_t fathom_queue_size(fathom_queue *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t fathom_queue_capacity(const fathom_queue *q) { return q->capacity; }
