/* cmd_info.c - `fathom info` (placeholder until its owner lands it). */
#include <stdio.h>
#include "commands.h"
int cmd_info(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "fathom info: not built yet\n");
    return 2;
}
