/* queue.c - the hand-over between two single-threaded stages (source -> analyser -> post).
 *
 * Live frames are latest-frame-wins: putting one drops (counts) every frame still waiting, so
 * a slow stage never builds a queue and latency stays bounded. Frames of a file played as fast
 * as possible (f->keep) are not live: none may be lost, and the producer waits for room
 * instead (sv_queue_wait_room). Up to SV_QUEUE_DEPTH of them wait, so a stage that is
 * descheduled for a moment (a loaded machine) does not stall the next one, as the bounded
 * queues between `fathom run`'s stages absorb it. */
#include <string.h>

#include "serve/priv.h"

void sv_queue_init(sv_queue *q) {
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    sv_cond_init(&q->cv);
    atomic_init(&q->drops, 0);
}

void sv_queue_destroy(sv_queue *q) {
    for (; q->n > 0; q->n--, q->head = (q->head + 1) % SV_QUEUE_DEPTH) sv_frame_unref(&q->f[q->head]);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

void sv_queue_put(sv_queue *q, sv_frame *f) {
    sv_frame *old[SV_QUEUE_DEPTH]; /* references dropped here, released outside the lock */
    int n_old = 0;
    sv_frame_ref(f);
    pthread_mutex_lock(&q->mu);
    while (q->n > 0 && (!f->keep || q->n == SV_QUEUE_DEPTH)) {
        old[n_old++] = q->f[q->head];
        q->head = (q->head + 1) % SV_QUEUE_DEPTH;
        q->n--;
    }
    q->f[(q->head + q->n) % SV_QUEUE_DEPTH] = f;
    q->n++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (n_old) atomic_fetch_add(&q->drops, (uint64_t)n_old);
    while (n_old > 0) sv_frame_unref(&old[--n_old]);
}

sv_frame *sv_queue_take(sv_queue *q, double timeout_s, const atomic_int *stop) {
    struct timespec dl = sv_deadline(timeout_s);
    sv_frame *f = NULL;
    pthread_mutex_lock(&q->mu);
    while (q->n == 0 && !(stop && atomic_load(stop)))
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) != 0) break;
    if (q->n > 0 && !(stop && atomic_load(stop))) {
        f = q->f[q->head];
        q->f[q->head] = NULL;
        q->head = (q->head + 1) % SV_QUEUE_DEPTH;
        q->n--;
        pthread_cond_broadcast(&q->cv); /* a producer may wait for room */
    }
    pthread_mutex_unlock(&q->mu);
    return f;
}

int sv_queue_wait_room(sv_queue *q, double timeout_s) {
    struct timespec dl = sv_deadline(timeout_s);
    pthread_mutex_lock(&q->mu);
    while (q->n == SV_QUEUE_DEPTH)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) != 0) break;
    int r = q->n < SV_QUEUE_DEPTH;
    pthread_mutex_unlock(&q->mu);
    return r;
}

int sv_queue_waiting(sv_queue *q) {
    pthread_mutex_lock(&q->mu);
    int n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void sv_queue_wake(sv_queue *q) {
    pthread_mutex_lock(&q->mu);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}
