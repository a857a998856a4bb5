/* queue.h - bounded blocking FIFO of pointers with close(): the only channel between stages.
 *
 * DESIGN
 *   Ordering: strict FIFO for one producer; with several producers, each producer's items keep
 *   their relative order.
 *   Backpressure: push blocks while the queue holds `capacity` items, so a fast stage can
 *   never run more than `capacity` items ahead of the stage after it. Memory is bounded by
 *   the sum of the capacities (plus one item per worker in hand).
 *   Shutdown: close() wakes every waiter. After close, push refuses new items
 *   (FATHOM_ERR_INTERRUPTED) and pop keeps returning the items still queued, then reports the
 *   end (returns 0). A stage ends when its input queue is closed and drained; the last worker
 *   of a stage closes the next queue, so closing the first queue drains the whole pipeline in
 *   order.
 *   The queue never owns what its pointers point to: ownership passes from the pusher to the
 *   popper with the pointer. Thread-safe (one mutex, two condition variables). */
#ifndef FATHOM_PIPELINE_QUEUE_H
#define FATHOM_PIPELINE_QUEUE_H

#include <stddef.h>

#include "fathom.h"

typedef struct fathom_queue fathom_queue;

/* capacity >= 1. *out owned by the caller (fathom_queue_free). */
fathom_status fathom_queue_create(size_t capacity, fathom_queue **out);
/* Accepts NULL / *q == NULL; sets *q to NULL. No thread may be waiting on it. Items still
 * queued are not freed (the queue does not own them). */
void fathom_queue_free(fathom_queue **q);

/* Block while full. FATHOM_OK: queued (ownership moved to the queue's consumer).
 * FATHOM_ERR_INTERRUPTED: the queue is closed; the caller keeps ownership of item. */
fathom_status fathom_queue_push(fathom_queue *q, void *item);
/* Block while empty and open. Returns 1 and *item when one was taken; 0 when the queue is
 * closed and empty (end of stream). */
int fathom_queue_pop(fathom_queue *q, void **item);
/* As pop, but waits at most timeout_s seconds: returns 1 (item), 0 (closed and empty) or
 * -1 (timed out, still open). */
int fathom_queue_pop_timeout(fathom_queue *q, void **item, double timeout_s);
/* Non-blocking pop: 1 (item), 0 (closed and empty), -1 (empty, still open). */
int fathom_queue_try_pop(fathom_queue *q, void **item);

/* Idempotent. Wakes all waiters. */
void fathom_queue_close(fathom_queue *q);
int fathom_queue_is_closed(fathom_queue *q);
/* Snapshot of the fill level (for progress display; racy by nature). */
size_t fathom_queue_size(fathom_queue *q);
size_t fathom_queue_capacity(const fathom_queue *q);

#endif
