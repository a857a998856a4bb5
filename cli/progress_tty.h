/* progress_tty.h - what `fathom run` shows while running: a live bar on a terminal, NDJSON
 * events on stderr (--progress ndjson), or nothing. */
#ifndef FATHOM_CLI_PROGRESS_TTY_H
#define FATHOM_CLI_PROGRESS_TTY_H

#include "fathom.h"

typedef enum { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_NDJSON, PROGRESS_NONE } progress_mode;

typedef struct progress_out {
    progress_mode mode; /* resolved: BAR, NDJSON or NONE */
    int bar_shown;      /* a bar line is on screen (needs clearing before other output) */
    fathom_governor *gov; /* borrowed from the run params, may be NULL: shown on the line */
    int gov_slots;        /* governed inference slots (the run's devices) */
    int quiet;            /* -q: no summary line */
    int64_t taken;        /* from the last stats call: for the Ctrl-C message */
} progress_out;

/* Resolve AUTO: a bar when stderr is a terminal, else nothing (but the summary line). */
void progress_init(progress_out *p, progress_mode mode, int quiet);
/* Hook into run params (on_stats, on_item); call after rp->governor is set. */
void progress_attach(progress_out *p, fathom_run_params *rp);
/* Final line(s) after the run: the summary always (on stderr), unless quiet. */
void progress_finish(progress_out *p, const fathom_run_stats *s);

#endif
