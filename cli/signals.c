/* signals.c - SIGINT/SIGTERM: first cancels cleanly (saying so at once), second exits. */
#include "signals.h"

#include "cli_util.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Process-wide by nature: a signal handler can only reach globals. */
static atomic_int g_count;
static _Atomic(fathom_pipeline *) g_pipeline;
static atomic_llong g_in_flight; /* taken - finished, from the progress callbacks */

static void put(const char *s) {
    ssize_t w = write(2, s, strlen(s)); /* strlen and write are async-signal-safe */
    (void)w;
}

/* "finishing N items in flight; Ctrl-C again to abort" without stdio (async-signal-safe). */
static void acknowledge(void) {
    long long n = atomic_load(&g_in_flight);
    if (n < 0) n = 0;
    char digits[24];
    int i = (int)sizeof digits - 1;
    digits[i] = '\0';
    do digits[--i] = (char)('0' + n % 10), n /= 10;
    while (n > 0 && i > 0);
    if (cli_ndjson()) { /* --progress ndjson: every stderr line stays one JSON object */
        put("{\"event\":\"message\",\"level\":\"warning\",\"text\":\"interrupted: finishing ");
        put(digits + i);
        put(" item(s) in flight, taking no new input; Ctrl-C again to abort\"}\n");
        return;
    }
    put("\nfathom ");
    put(cli_command());
    put(": interrupted: finishing ");
    put(digits + i);
    put(" item(s) in flight, taking no new input; Ctrl-C again to abort\n");
}

static void on_signal(int sig) {
    (void)sig;
    if (atomic_fetch_add(&g_count, 1) >= 1) {
        if (cli_ndjson()) {
            put("{\"event\":\"message\",\"level\":\"error\",\"text\":\"interrupted again, "
                "exiting now\"}\n");
        } else {
            put("\nfathom ");
            put(cli_command());
            put(": interrupted again, exiting now\n");
        }
        fathom_governor_restore_limits();
        _exit(130);
    }
    acknowledge();
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
    atomic_store(&g_in_flight, 0);
    if (pl && atomic_load(&g_count) > 0) fathom_pipeline_cancel(pl); /* signal came before */
}

void signals_set_in_flight(int64_t n) { atomic_store(&g_in_flight, n); }
void signals_item_finished(void) { atomic_fetch_sub(&g_in_flight, 1); }

const atomic_int *signals_cancel_flag(void) { return &g_count; }
int signals_cancelled(void) { return atomic_load(&g_count) > 0; }
