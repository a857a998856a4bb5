/* main.c - `fathom` command-line entry: subcommand dispatch and exit codes. */
#include <stdio.h>
#include <string.h>

#include "fathom.h"

static int usage(FILE *f) {
    fprintf(f, "usage: fathom <command> [options]\n"
               "commands:\n"
               "  run     compute depth maps\n"
               "  info    describe a model file\n"
               "  bench   time the engine\n"
               "  version print the version\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return usage(stdout);
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("fathom %s\n", fathom_version());
        return 0;
    }
    fprintf(stderr, "fathom: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
