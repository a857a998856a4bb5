/* progress_tty.c - progress output of `fathom run` (see progress_tty.h). */
#include "progress_tty.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli_util.h"
#include "signals.h"

void progress_init(progress_out *p, progress_mode mode, int quiet) {
    p->bar_shown = 0;
    p->quiet = quiet;
    p->taken = 0;
    p->gov = NULL;
    p->gov_slots = 0;
    if (mode == PROGRESS_AUTO) mode = isatty(2) ? PROGRESS_BAR : PROGRESS_NONE;
    p->mode = mode;
}

static int term_width(void) {
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col - 1;
    return 79;
}

/* The bar with the governor's state of each governed slot ("|"-separated) after the ETA. */
static void bar_line(const progress_out *p, const fathom_run_stats *s, char *line, size_t cap) {
    char gov[2048] = "";
    size_t n = 0;
    for (int i = 0; p->gov && i < p->gov_slots && n + 4 < sizeof gov; i++) {
        if (i) n += (size_t)snprintf(gov + n, sizeof gov - n, " | ");
        int w = fathom_governor_describe(p->gov, i, gov + n, sizeof gov - n);
        if (w < 0) break;
        n += (size_t)w;
    }
    fathom_progress_bar_extra(s, gov, term_width(), line, cap);
}

static void on_stats(void *user, const fathom_run_stats *s) {
    progress_out *p = user;
    char line[8192]; /* ndjson: up to 16 governed slots of ~170 bytes each */
    signals_set_in_flight(s->taken - s->finished);
    if (p->mode == PROGRESS_NONE) return;
    if (p->mode == PROGRESS_BAR) {
        bar_line(p, s, line, sizeof line);
        fprintf(stderr, "\r\033[K%s", line);
        p->bar_shown = 1;
    } else if (p->mode == PROGRESS_NDJSON) {
        fathom_progress_json_stats(s, 0, p->gov, p->gov_slots, line, sizeof line);
        fputs(line, stderr);
    }
    fflush(stderr);
}

static void on_item(void *user, const fathom_item_event *ev) {
    progress_out *p = user;
    signals_item_finished();
    if (p->mode == PROGRESS_NDJSON) {
        char line[16384];
        fathom_progress_json_item(ev, line, sizeof line);
        fputs(line, stderr);
    } else if (ev->state == 3 && ev->status != FATHOM_ERR_INTERRUPTED) {
        /* failures are always shown, whatever the mode (not the items a Ctrl-C left out) */
        if (p->bar_shown) fputs("\r\033[K", stderr);
        char msg[4096];
        cli_flag_words(ev->error, msg, sizeof msg);
        fprintf(stderr, "fathom %s: %s\n", cli_command(), msg);
    }
}

void progress_attach(progress_out *p, fathom_run_params *rp) {
    p->gov = rp->governor;
    p->gov_slots = rp->n_devices;
    rp->user = p;
    rp->on_item = on_item;
    rp->on_stats = on_stats; /* also without a display: counts items in flight for Ctrl-C */
}

void progress_finish(progress_out *p, const fathom_run_stats *s) {
    char line[8192];
    if (p->mode == PROGRESS_NDJSON) {
        fathom_progress_json_stats(s, 1, p->gov, p->gov_slots, line, sizeof line);
        fputs(line, stderr);
        return;
    }
    if (p->bar_shown) fputs("\r\033[K", stderr);
    if (!p->quiet)
        fprintf(stderr, "fathom %s: %lld done, %lld skipped, %lld failed in %.1f s\n",
                cli_command(), (long long)s->done, (long long)s->skipped, (long long)s->failed, s->elapsed_s);
    for (int i = 0; !p->quiet && p->gov && i < p->gov_slots; i++) {
        fathom_governor_describe(p->gov, i, line, sizeof line);
        fprintf(stderr, "fathom %s: governor (device %d): %s\n", cli_command(), i, line);
    }
}
