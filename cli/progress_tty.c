/* progress_tty.c - progress output of `fathom run` (see progress_tty.h). */
#include "progress_tty.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pipeline/progress.h"

void progress_init(progress_out *p, progress_mode mode) {
    p->bar_shown = 0;
    if (mode == PROGRESS_AUTO) mode = isatty(2) ? PROGRESS_BAR : PROGRESS_NONE;
    p->mode = mode;
}

static int term_width(void) {
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col - 1;
    return 79;
}

static void on_stats(void *user, const fathom_run_stats *s) {
    progress_out *p = user;
    char line[1024];
    if (p->mode == PROGRESS_BAR) {
        fathom_progress_bar(s, term_width(), line, sizeof line);
        fprintf(stderr, "\r\033[K%s", line);
        p->bar_shown = 1;
    } else if (p->mode == PROGRESS_NDJSON) {
        fathom_progress_json_stats(s, 0, line, sizeof line);
        fputs(line, stderr);
    }
    fflush(stderr);
}

static void on_item(void *user, const fathom_item_event *ev) {
    progress_out *p = user;
    if (p->mode == PROGRESS_NDJSON) {
        char line[16384];
        fathom_progress_json_item(ev, line, sizeof line);
        fputs(line, stderr);
    } else if (ev->state == 3) { /* failures are always shown, whatever the mode */
        if (p->bar_shown) fputs("\r\033[K", stderr);
        fprintf(stderr, "fathom: %s\n", ev->error);
    }
}

void progress_attach(progress_out *p, fathom_run_params *rp) {
    rp->user = p;
    rp->on_item = on_item;
    rp->on_stats = p->mode == PROGRESS_NONE ? NULL : on_stats;
}

void progress_finish(progress_out *p, const fathom_run_stats *s) {
    char line[1024];
    if (p->mode == PROGRESS_NDJSON) {
        fathom_progress_json_stats(s, 1, line, sizeof line);
        fputs(line, stderr);
        return;
    }
    if (p->bar_shown) fputs("\r\033[K", stderr);
    if (p->mode == PROGRESS_BAR)
        fprintf(stderr, "fathom: %lld done, %lld skipped, %lld failed in %.1f s\n",
                (long long)s->done, (long long)s->skipped, (long long)s->failed, s->elapsed_s);
}
