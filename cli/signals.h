/* signals.h - Ctrl-C handling for long commands.
 *
 * First SIGINT/SIGTERM: set the cancel flag and cancel the registered pipeline (it stops taking
 * input, finishes what is in flight, writes the report). Second: restore GPU limits and
 * _exit(130) at once (outputs are written under temporary names, so no partial file is ever
 * left under a final name). */
#ifndef FATHOM_CLI_SIGNALS_H
#define FATHOM_CLI_SIGNALS_H

#include <stdatomic.h>

#include "fathom.h"

/* Install the handlers (idempotent). */
void signals_install(void);
/* The pipeline to cancel on the first signal (NULL to clear). */
void signals_set_pipeline(fathom_pipeline *pl);
/* Nonzero once a signal arrived; the flag for libfathom cancel hooks. */
const atomic_int *signals_cancel_flag(void);
int signals_cancelled(void);

#endif
