/* stage_vda.c - the inference stage of a Video Depth Anything model (pipeline.h).
 *
 * DESIGN: one thread. Items arrive from the decode pool in any order; they wait in slot
 * index % n_items until every earlier index has gone in, so the model sees the frames in
 * order. A frame goes in with fathom_vda_push (the model preprocesses and windows it; its
 * pixels are released at once) and waits in a FIFO until the model emits its depth, which
 * is copied into item->depth at the source size; the item then goes on to the write stage,
 * whose reorder buffer restores index order for the sink. An item that failed earlier, or a
 * frame of another size than the first (FATHOM_ERR_SHAPE: that frame fails, the sink repeats
 * the previous depth), goes on at once and is not seen by the model. Any other model error
 * is fatal: the frames still held fail with it and the input stops.
 * Governor: advised pause before each frame, busy time recorded after it (a window's forward
 * runs inside the push of its last frame). At the end fathom_vda_finish runs the padded last
 * windows and emits every frame still held. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "governor/governor.h"
#include "model/vda_head.h"
#include "pipeline/pipeline.h"

struct fathom_vda_stage {
    struct fathom_pipeline *pl; /* borrowed: the owner */
    fathom_vda *v;              /* owned, unless borrowed */
    int borrowed;               /* v is the caller's, kept across pipelines (pl->vda_keep) */
    fathom_item **wait;         /* owned array of n_items slots (items borrowed) */
    fathom_item **fifo;         /* owned ring of n_items (items borrowed): pushed, no depth yet */
    size_t head, count;
    uint64_t next;              /* next index to feed */
    int dead;                   /* a model error: every later item fails */
    char dead_msg[512];
    fathom_item *pushing;       /* borrowed: the item in fathom_vda_push now, or NULL */
    double push_t0;             /* when that push began */
};

/* The oldest frame in the model has its depth: on to the write stage. */
static fathom_status on_depth(void *user, int64_t frame, const float *depth, int h, int w) {
    struct fathom_vda_stage *S = user;
    struct fathom_pipeline *pl = S->pl;
    if (!S->count)
        return fathom_fail(FATHOM_ERR_INTERNAL, "video depth: frame %lld came out with no frame "
                           "waiting", (long long)frame);
    fathom_item *it = S->fifo[S->head];
    S->head = (S->head + 1) % pl->n_items;
    S->count--;
    fathom_status st = fathom_item_reserve(&it->depth, &it->depth_cap, (size_t)h * w);
    if (st != FATHOM_OK) return st;
    memcpy(it->depth, depth, (size_t)h * w * sizeof(float));
    if (it == S->pushing) /* streaming: out during its own push; the writer owns it next */
        it->t_stage[FATHOM_STAGE_INFER] = fathom_now_s() - S->push_t0;
    fathom_queue_push(pl->q_write, it);
    return FATHOM_OK;
}

fathom_status fathom_vda_stage_create(struct fathom_pipeline *pl, struct fathom_vda_stage **out) {
    *out = NULL;
    struct fathom_vda_stage *S = calloc(1, sizeof *S); /* owned by the caller */
    if (!S) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the video depth stage");
    S->pl = pl;
    S->wait = calloc(pl->n_items, sizeof *S->wait);
    S->fifo = calloc(pl->n_items, sizeof *S->fifo);
    fathom_vda_params vp = fathom_vda_default_params();
    vp.streaming = pl->p.vda_streaming;
    if (pl->p.input_size > 0) vp.input_size = pl->p.input_size;
    fathom_status st = S->wait && S->fifo ? FATHOM_OK
                       : fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the video depth stage");
    fathom_vda **keep = pl->vda_keep;
    if (st == FATHOM_OK && keep && *keep) { /* the instance of an earlier chunk, started over */
        st = fathom_vda_reset(*keep, on_depth, S);
        if (st == FATHOM_OK) S->v = *keep, S->borrowed = 1;
    } else if (st == FATHOM_OK) {
        st = fathom_vda_create(pl->model, &pl->p.devices[0], &vp, on_depth, S, &S->v);
        if (st == FATHOM_OK && keep) *keep = S->v, S->borrowed = 1; /* the caller's from now on */
    }
    if (st != FATHOM_OK) {
        fathom_vda_stage_free(&S);
        return st;
    }
    *out = S;
    return FATHOM_OK;
}

void fathom_vda_stage_free(struct fathom_vda_stage **s) {
    if (!s || !*s) return;
    if (!(*s)->borrowed) fathom_vda_free(&(*s)->v);
    free((*s)->wait);
    free((*s)->fifo);
    free(*s);
    *s = NULL;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* A model error: the frames it holds fail with it, and so will every later one. */
static void die(struct fathom_vda_stage *S, fathom_status st, const char *msg) {
    struct fathom_pipeline *pl = S->pl;
    S->dead = 1;
    snprintf(S->dead_msg, sizeof S->dead_msg, "%s", msg);
    fathom_pipeline_set_fatal(pl, st, S->dead_msg);
    for (; S->count; S->count--, S->head = (S->head + 1) % pl->n_items) {
        fathom_item *it = S->fifo[S->head];
        fathom_item_fail(it, st, "%s: %s", it->source.s, S->dead_msg);
        fathom_queue_push(pl->q_write, it);
    }
}

static void feed(struct fathom_vda_stage *S, fathom_item *it) {
    struct fathom_pipeline *pl = S->pl;
    if (it->state == FATHOM_ITEM_PENDING && S->dead)
        fathom_item_fail(it, FATHOM_ERR_INTERRUPTED, "%s: not run: %s", it->source.s, S->dead_msg);
    if (it->state != FATHOM_ITEM_PENDING) {
        fathom_image_free(&it->image);
        fathom_queue_push(pl->q_write, it);
        return;
    }
    if (pl->p.governor) {
        int want = 1;
        double pause = 0;
        fathom_governor_advise(pl->p.governor, 0, &want, &pause);
        sleep_s(pause);
    }
    /* The item may come out during the push (streaming: one in, one out) and then belongs
     * to the write stage, which resets it: so its image is taken out first, and after the
     * push the item is touched only while the model still holds it. */
    fathom_image img = it->image;
    memset(&it->image, 0, sizeof it->image);
    it->batch_size = 1;
    it->device_slot = 0;
    S->fifo[(S->head + S->count) % pl->n_items] = it;
    S->count++;
    double t = fathom_now_s();
    S->pushing = it, S->push_t0 = t;
    fathom_status st = fathom_vda_push(S->v, img.rgb, img.height, img.width, img.stride);
    S->pushing = NULL;
    double dt = fathom_now_s() - t;
    fathom_image_free(&img);
    const int held = S->count && S->fifo[(S->head + S->count - 1) % pl->n_items] == it;
    if (held) it->t_stage[FATHOM_STAGE_INFER] = dt;
    fathom_pipeline_add_busy(pl, FATHOM_STAGE_INFER, dt);
    atomic_fetch_add(&pl->batches, 1);
    if (pl->p.governor) fathom_governor_record(pl->p.governor, 0, dt, 1);
    if (st == FATHOM_OK) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fathom_last_error());
    if (st == FATHOM_ERR_SHAPE && held) {
        S->count--; /* refused before the model took it: this frame only */
        fathom_item_fail(it, st, "%s: %s", it->source.s, msg);
        fathom_queue_push(pl->q_write, it);
        return;
    }
    die(S, st, msg);
}

void *fathom_stage_vda(void *arg) {
    struct fathom_pipeline *pl = arg;
    struct fathom_vda_stage *S = pl->vda;
    void *p;
    while (fathom_queue_pop(pl->q_infer, &p) == 1) {
        fathom_item *it = p;
        S->wait[it->index % pl->n_items] = it;
        for (;;) {
            fathom_item **slot = &S->wait[S->next % pl->n_items];
            if (!*slot || (*slot)->index != S->next) break;
            fathom_item *in = *slot;
            *slot = NULL;
            S->next++;
            feed(S, in);
        }
    }
    if (!S->dead) {
        double t = fathom_now_s();
        fathom_status st = fathom_vda_finish(S->v); /* the last windows: every frame comes out */
        fathom_pipeline_add_busy(pl, FATHOM_STAGE_INFER, fathom_now_s() - t);
        if (st != FATHOM_OK) die(S, st, fathom_last_error());
        else if (S->count) die(S, FATHOM_ERR_INTERNAL, "video depth: frames held after the end");
    }
    if (atomic_fetch_sub(&pl->infer_alive, 1) == 1) fathom_queue_close(pl->q_write);
    return NULL;
}
