/* chunk_worker.c - one worker's chunks, the next one fetched ahead (see chunk_job.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/chunk_job.h"
#include "core/status.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* How early a worker asks for its next chunk: FATHOM_CHUNK_AHEAD_S, or the environment's
 * FATHOM_CHUNK_AHEAD_S (seconds; 0 turns fetching ahead off: for A/B benchmarks). */
static double g_ahead = FATHOM_CHUNK_AHEAD_S;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void read_env(void) {
    const char *e = getenv("FATHOM_CHUNK_AHEAD_S");
    if (e && *e) g_ahead = strtod(e, NULL);
}

typedef struct loop {
    const fathom_model *m;
    const fathom_run_params *params;
    const fathom_video_run_opts *vo;
    const char *input, *workdir;
    const fathom_chunk *plan;
    fathom_chunk_engines *ce;
    const fathom_chunk_feed *feed;
    const fathom_chunk_hooks *user; /* the worker's own hooks */
    int64_t frames;                 /* of the chunk running now, its overlap included */
    int asked, answered, next;      /* the next chunk: asked for, answer there, which */
    double answered_at;
    double first_s;                 /* the running chunk's first frame done, 0: not yet */
    fathom_chunk_opened next_open;  /* the next chunk, opened ahead (next_open.i = -1: not) */
    int open_ahead;                 /* per-frame models: the next pipeline borrows the same
                                       engines; a Video Depth Anything instance is started over
                                       by its next pipeline, so that one opens after */
} loop;

static int on_pipeline(void *user, fathom_pipeline *pl) {
    loop *L = user;
    return L->user && L->user->on_pipeline ? L->user->on_pipeline(L->user->user, pl) : 0;
}

/* From the running chunk's thread every ~20 ms: near its end, ask for the next chunk, and
 * open it once the answer is there. */
static void on_progress(void *user, const fathom_run_stats *st) {
    loop *L = user;
    if (!L->first_s && st->finished > 0) L->first_s = st->elapsed_s;
    if (!L->asked) {
        if (!(g_ahead > 0) || st->finished <= 0 || st->elapsed_s <= 0) return; /* no rate yet */
        /* frames finish a batch at a time: ask one batch early (at the last batch, or
         * FATHOM_CHUNK_AHEAD_S before the end if that is earlier) */
        const double per = st->elapsed_s / (double)st->finished;
        const double left = (double)(L->frames - st->finished) * per;
        if (left - per * L->params->batch > g_ahead) return;
        L->feed->ask(L->feed->self);
        L->asked = 1;
    }
    if (!L->answered && L->feed->poll(L->feed->self, &L->next)) {
        L->answered = 1, L->answered_at = now_s();
        if (L->next >= 0 && L->open_ahead)
            fathom_chunk_open(L->m, L->params, L->vo, L->input, L->workdir, &L->plan[L->next],
                              L->next, L->ce, &(fathom_chunk_hooks){on_pipeline, on_progress, L},
                              &L->next_open);
    }
}

void fathom_chunk_worker_loop(const fathom_model *m, const fathom_run_params *params,
                              const fathom_video_run_opts *vo, const char *input,
                              const char *workdir, const fathom_chunk *plan,
                              fathom_chunk_engines *ce, const fathom_chunk_feed *feed,
                              const fathom_chunk_hooks *hooks) {
    pthread_once(&g_once, read_env);
    loop L;
    memset(&L, 0, sizeof L);
    L.m = m, L.params = params, L.vo = vo, L.input = input, L.workdir = workdir, L.plan = plan;
    L.ce = ce, L.feed = feed, L.user = hooks;
    L.open_ahead = !fathom_model_is_video(m);
    L.next_open.i = -1;
    const fathom_chunk_hooks lh = {on_pipeline, on_progress, &L};
    fathom_chunk_opened cur_open; /* the chunk about to run */
    memset(&cur_open, 0, sizeof cur_open);
    cur_open.i = -1;
    double free_at = now_s(), got_at;
    int reported = 0; /* engines reported so far (created before the first chunk: with it) */
    int cur = feed->take(feed->self, -1, FATHOM_OK, NULL, NULL, 1);
    got_at = now_s();
    while (cur >= 0) {
        const fathom_chunk *c = &plan[cur];
        fathom_chunk_times t;
        memset(&t, 0, sizeof t);
        t.wait_s = got_at > free_at ? got_at - free_at : 0; /* 0 when it came ahead */
        if (cur_open.i == cur) {
            t.ahead = 1;
        } else {
            fathom_chunk_opened_clear(&cur_open);
            fathom_chunk_open(m, params, vo, input, workdir, c, cur, ce, &lh, &cur_open);
        }
        t.open_s = cur_open.open_s;
        L.frames = c->count + (c->first - c->decode_from);
        L.asked = L.answered = 0, L.next = -1, L.first_s = 0;
        double t0 = now_s();
        fathom_status s = fathom_chunk_exec(input, c, &cur_open, &lh, &t.finish_s);
        t.first_s = L.first_s;
        free_at = now_s();
        t.run_s = free_at - t0;
        char err[1024] = "";
        if (s != FATHOM_OK) { /* a retry starts from fresh engines: drop what borrows them */
            snprintf(err, sizeof err, "%s", fathom_last_error());
            fathom_chunk_opened_clear(&L.next_open);
            fathom_chunk_engines_clear(ce);
        }
        t.engines = ce->created - reported;
        reported = ce->created;
        if (L.asked && !L.answered)
            L.next = feed->wait(feed->self), L.answered = 1, L.answered_at = now_s();
        int next;
        if (L.answered && L.next >= 0) { /* it came ahead: report this one, ask nothing */
            feed->take(feed->self, cur, s, &t, err, 0);
            next = L.next, got_at = L.answered_at;
        } else { /* not asked, or nothing then: report and wait for the next */
            next = feed->take(feed->self, cur, s, &t, err, 1);
            got_at = now_s();
        }
        cur_open = L.next_open; /* moved: the next chunk, when opened ahead */
        L.next_open.i = -1, L.next_open.job = NULL, L.next_open.pl = NULL;
        if (cur_open.i != next) fathom_chunk_opened_clear(&cur_open);
        cur = next;
    }
    fathom_chunk_opened_clear(&cur_open);
}
