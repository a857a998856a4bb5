/* signals.c - SIGINT/SIGTERM: first cancels cleanly, second exits at once. */
#include "signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Process-wide by nature: a signal handler can only reach globals. */
static atomic_int g_count;
static _Atomic(fathom_pipeline *) g_pipeline;

static void on_signal(int sig) {
    (void)sig;
    if (atomic_fetch_add(&g_count, 1) >= 1) {
        static const char msg[] = "\nfathom: interrupted again, exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        fathom_governor_restore_limits();
        _exit(130);
    }
    fathom_pipeline *pl = atomic_load(&g_pipeline);
    if (pl) fathom_pipeline_cancel(pl);
}

void signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking read of a stdin list returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void signals_set_pipeline(fathom_pipeline *pl) {
    atomic_store(&g_pipeline, pl);
    if (pl && atomic_load(&g_count) > 0) fathom_pipeline_cancel(pl); /* signal came before */
}

const atomic_int *signals_cancel_flag(void) { return &g_count; }
int signals_cancelled(void) { return atomic_load(&g_count) > 0; }
