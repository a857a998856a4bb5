/* signals.h - Ctrl-C handling for long commands.
 *
 * First SIGINT/SIGTERM: say so at once on stderr ("finishing N item(s) in flight"), set the
 * cancel flag and cancel the registered pipeline (it stops taking input, starts no new item,
 * finishes what is in flight, writes the report). Second: restore GPU limits and
 * _exit(130) at once (outputs are written under temporary names, so no partial file is ever
 * left under a final name). */
#ifndef FATHOM_CLI_SIGNALS_H
#define FATHOM_CLI_SIGNALS_H

#include <stdatomic.h>
#include <stdint.h>

#include "fathom.h"

/* Install the handlers (idempotent). */
void signals_install(void);
/* The pipeline to cancel on the first signal (NULL to clear). */
void signals_set_pipeline(fathom_pipeline *pl);
/* Items taken but not finished (the progress callbacks keep it current): the first signal
 * says how many it waits for. */
void signals_set_in_flight(int64_t n);
void signals_item_finished(void);
/* Nonzero once a signal arrived; the flag for libfathom cancel hooks. */
const atomic_int *signals_cancel_flag(void);
int signals_cancelled(void);

#endif
