/* cmd_quantize.c - `fathom quantize`: write a model's packed int8 / q4 / bf16 weights to a
 * safetensors file that -m loads with no quantization and no fp32 copy (docs/models.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "commands.h"
#include "engine_flags.h"
#include "fathom.h"

static int usage(FILE *f) {
    fprintf(f,
"usage: fathom quantize -m MODEL (--weights int8|q4 | --precision bf16) -o FILE\n"
"Packs the weights as the CPU engine would at load (--weights int8|q4, --precision bf16;\n"
"docs/precision.md) and writes them, with the tensors that stay fp32, to FILE\n"
"(safetensors; names, dtypes and metadata in docs/models.md). `fathom run/bench/serve -m FILE`\n"
"then loads them as they are: no quantization at load, no fp32 copy, the same depth bit for\n"
"bit; the format comes from the file (a different --weights / --precision is refused).\n"
"Depth Anything V2 image models only (not Video Depth Anything, not Depth Pro).\n"
"  -m, --model M       model file, folder or name (as fathom run)\n"
"      --weights W     int8 or q4\n"
"      --precision P   bf16 (bf16 weights; with --weights it only names the compute)\n"
"  -o, --output FILE   the file to write (replaced whole: written beside it, then renamed)\n"
"      --threads N     threads for packing (default: all)\n"
"      --offline       never download a named model\n"
"  -q, --quiet / -v, --verbose / -h, --help\n");
    return f == stderr ? 2 : 0;
}

int cmd_quantize(int argc, char **argv) {
    enum { OPT_WEIGHTS = 1000, OPT_PRECISION, OPT_THREADS, OPT_OFFLINE };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},         {"output", required_argument, 0, 'o'},
        {"weights", required_argument, 0, OPT_WEIGHTS}, {"precision", required_argument, 0, OPT_PRECISION},
        {"threads", required_argument, 0, OPT_THREADS}, {"offline", no_argument, 0, OPT_OFFLINE},
        {"quiet", no_argument, 0, 'q'},               {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    fathom_engine_params ep = fathom_engine_default_params();
    const char *model = NULL, *out = NULL;
    int offline = 0, verbosity = 0, c;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "m:o:qvh", opts, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case OPT_WEIGHTS:
            if (!strcmp(optarg, "int8")) ep.weights = FATHOM_WEIGHTS_INT8;
            else if (!strcmp(optarg, "q4")) ep.weights = FATHOM_WEIGHTS_Q4;
            else {
                cli_error("--weights: '%s' is not int8 or q4", optarg);
                ok = 0;
            }
            break;
        case OPT_PRECISION: ok = cli_precision(optarg, &ep.precision); break;
        case OPT_THREADS: ok = cli_int("--threads", optarg, 0, 4096, &ep.threads); break;
        case OPT_OFFLINE: offline = 1; break;
        case 'q': verbosity = -1; break;
        case 'v': verbosity++; break;
        case 'h': return usage(stdout);
        default: return 2;
        }
        if (!ok) return 2;
    }
    cli_log_install(verbosity);
    if (optind != argc) {
        cli_error("unexpected argument '%s' (see fathom quantize --help)", argv[optind]);
        return 2;
    }
    if (!model || !out) {
        cli_error("%s is required (see fathom quantize --help)", !model ? "-m MODEL" : "-o FILE");
        return 2;
    }
    if (ep.weights == FATHOM_WEIGHTS_DEFAULT && ep.precision != FATHOM_PRECISION_BF16) {
        cli_error("give a format: --weights int8, --weights q4 or --precision bf16");
        return 2;
    }
    char path[4096];
    if (!cli_model(model, offline, path, sizeof path)) return 2;
    fathom_model *m = NULL;
    if (fathom_model_load(path, NULL, &m) != FATHOM_OK) {
        cli_error("cannot load model '%s': %s", path, fathom_last_error());
        return 2;
    }
    int rc = 0;
    if (fathom_model_quantize(m, &ep, path, out) != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        rc = 1;
    } else if (verbosity >= 0) {
        struct stat st;
        fathom_model_info in;
        fathom_model_get_info(m, &in);
        fprintf(stderr, "fathom quantize: %s (%s, %s) -> %s, %.1f MiB\n", path, in.arch,
                ep.weights == FATHOM_WEIGHTS_Q4 ? "q4" : ep.weights == FATHOM_WEIGHTS_INT8 ? "int8" : "bf16", out,
                stat(out, &st) == 0 ? st.st_size / 1048576.0 : 0.0);
    }
    fathom_model_free(&m);
    return rc;
}
