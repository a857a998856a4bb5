/* cmd_run.c - `fathom run` (placeholder until its owner lands it). */
#include <stdio.h>
#include "commands.h"
int cmd_run(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "fathom run: not built yet\n");
    return 2;
}
