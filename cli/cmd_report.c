/* cmd_report.c - `fathom report merge A.json B.json ... -o MERGED.json`: one report from the
 * reports of `fathom run --shard K/N` runs (fathom_report_merge, docs/scale-out.md).
 * Exit codes: 0 written, 2 usage error or a report unreadable, incomplete or colliding. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "fathom.h"

static int usage(FILE *f) {
    fprintf(f, "usage: fathom report merge REPORT.json... -o MERGED.json\n"
               "  merge the --report files of `fathom run --shard K/N` runs into one report:\n"
               "  every item once in index order, totals and stage times summed, elapsed_s the\n"
               "  longest shard's (docs/scale-out.md)\n"
               "exit codes: 0 written, 2 usage error or a report unreadable/incomplete/colliding\n");
    return f == stderr ? 2 : 0;
}

int cmd_report(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return usage(stdout);
    if (strcmp(argv[1], "merge")) {
        cli_error("unknown action '%s' (merge)", argv[1]);
        return usage(stderr);
    }
    static const struct option k_opts[] = {
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "o:h", k_opts, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == 'h') return usage(stdout);
        else return usage(stderr);
    }
    if (!out) {
        cli_error("merge: no output (-o MERGED.json)");
        return 2;
    }
    int n = argc - 1 - optind;
    if (n < 1) {
        cli_error("merge: no reports to merge");
        return 2;
    }
    long long items = 0;
    if (fathom_report_merge((const char *const *)argv + 1 + optind, n, out, &items) != FATHOM_OK) {
        cli_error("merge: %s", fathom_last_error());
        return 2;
    }
    cli_note("merge: %d reports, %lld items -> %s", n, items, out);
    return 0;
}
