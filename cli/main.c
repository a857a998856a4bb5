/* main.c - `fathom` command-line entry: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "fathom.h"

static int usage(FILE *f) {
    fprintf(f, "usage: fathom <command> [options]   (fathom <command> --help for details)\n"
               "commands:\n"
               "  run      compute depth maps for images, folders, lists, URLs and videos\n"
               "  info     describe a model file or folder\n"
               "  bench    time the inference engine\n"
               "  report   merge the reports of sharded runs (report merge A.json B.json -o M.json)\n"
               "  version  print the version\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) return usage(stdout);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("fathom %s\n", fathom_version());
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "fathom: unknown command '%s'\n", cmd);
    return usage(stderr);
}
