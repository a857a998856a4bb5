/* cmd_bench.c - `fathom bench` (placeholder until its owner lands it). */
#include <stdio.h>
#include "commands.h"
int cmd_bench(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "fathom bench: not built yet\n");
    return 2;
}
