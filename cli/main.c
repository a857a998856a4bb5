/* main.c - `fathom` command-line entry: subcommand dispatch. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "fathom.h"

static int usage(FILE *f) {
    fprintf(f, "usage: fathom <command> [options]   (fathom <command> --help for details)\n"
               "commands:\n"
               "  run      compute depth maps for images, folders, lists, URLs and videos\n"
               "  info     describe a model file or folder\n"
               "  bench    time the inference engine\n"
               "  serve    live depth worker: streams in, depth over HTTP/WebSocket\n"
               "  report   merge the reports of sharded runs (report merge A.json B.json -o M.json)\n"
               "  quantize write a model's int8 / q4 / bf16 weights to a file that loads as they are\n"
               "  version  print the version\n");
    return f == stderr ? 2 : 0;
}

/* OpenMP threads that wait at the end of a parallel region sleep instead of spinning
 * (OMP_WAIT_POLICY=passive): when the cores are shared, a spinning thread burns the time slice
 * its team-mate needs, and a forward pass became 1.6x (ViT-S) to 20x (tiny model) slower at
 * load 12 on 2 cores (bench/RESULTS.md); idle, each region's wake-up costs microseconds.
 * libgomp reads the variable once, when it loads, so the CLI sets it for its own process and
 * starts itself again, once. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is left as given
 * (OMP_WAIT_POLICY=active restores spinning; docs/precision.md "Threads"). */
static void omp_passive_wait(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return; /* not Linux: run as is */
    self[n] = 0;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv(self, argv); /* returns only on failure: then run as is */
}

int main(int argc, char **argv) {
    omp_passive_wait(argv);
    /* --help is longer than stdio's 4 KiB pipe buffer: one write lets `| grep -q` quit early
     * without a SIGPIPE in the middle of it */
    static char outbuf[1 << 16];
    if (!isatty(1)) setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    /* A closed stderr/stdout pipe (`2>&1 | head -c1`, a dead log collector) must not kill a run
     * half way: writes then fail with EPIPE and the run goes on to write outputs and report. */
    signal(SIGPIPE, SIG_IGN);
    fathom_blas_serial(1); /* the CPU engine threads around sgemm itself (fathom.h) */
    fathom_ffmpeg_quiet(1); /* decoder chatter off: fathom says what failed (fathom.h) */
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) return usage(stdout);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("fathom %s\n", fathom_version());
        return 0;
    }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"run", cmd_run}, {"info", cmd_info}, {"bench", cmd_bench}, {"serve", cmd_serve},
        {"report", cmd_report}, {"quantize", cmd_quantize}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name)) {
            cli_set_command(cmds[i].name);
            return cmds[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "fathom: unknown command '%s' (see fathom --help)\n", cmd);
    return 2;
}
