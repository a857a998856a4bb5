/* sim_engine.c - the simulated engine (see sim_engine.h). */
#include "cluster/sim_engine.h"

#ifdef FATHOM_SIM_ENGINE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static double g_ms = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void read_env(void) {
    const char *s = getenv("FATHOM_SIM_FRAME_MS");
    g_ms = s && *s ? strtod(s, NULL) : 0;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The calling thread's device timeline: when its last forward ended (0: none yet). A pipeline
 * runs its forwards on a thread of its own (one per run, so one per chunk): each chunk, each
 * image job, starts a new timeline. */
static _Thread_local int64_t t_busy_until;

int fathom_sim_forward(const float *x, int batch, int net_h, int net_w, float *depth) {
    pthread_once(&g_once, read_env);
    if (!(g_ms > 0)) return 0;
    const int64_t cost = (int64_t)(g_ms * batch * 1e6), now = now_ns();
    /* A device with the next input queued: what the host does between two forwards (wake up,
     * hand results on, take the next frame) overlaps the previous forward, so this one ends
     * `cost` after the previous one ended, not after this call. The sleep is to that absolute
     * deadline: the wake-up latency of a loaded host is not added once per frame. A call
     * later than that deadline (the device was idle: the host fell a whole forward behind,
     * or the first forward of a run) starts the timeline anew from now. */
    int64_t end = t_busy_until + cost;
    if (!t_busy_until || end < now) end = now + cost;
    t_busy_until = end;
    struct timespec ts = {(time_t)(end / 1000000000), (long)(end % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
    size_t px = (size_t)net_h * net_w;
    for (int b = 0; b < batch; b++) {
        const float *r = x + (size_t)b * 3 * px, *g = r + px, *bl = g + px;
        float *d = depth + (size_t)b * px;
        for (size_t i = 0; i < px; i++) d[i] = 10.0f + r[i] + 0.5f * g[i] + 0.25f * bl[i];
    }
    return 1;
}
#endif
