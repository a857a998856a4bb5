/* cmd_info.c - `fathom info MODEL`: what a weight file or folder holds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "fathom.h"

static int info_usage(FILE *f) {
    fprintf(f,
            "usage: fathom info [options] [-m] MODEL\n"
            "Describe a Depth Anything V2 model: an official .pth, a .safetensors file, a\n"
            "Hugging Face folder (config.json + model.safetensors), or a name: small, base,\n"
            "large (vits, vitb, vitl), metric-indoor-small, ..., or a Hugging Face repo id\n"
            "(depth-anything/Depth-Anything-V2-Small-hf). Names are looked up in the Hugging\n"
            "Face cache, then fathom's cache, then downloaded (docs/models.md).\n"
            "  -m, --model M      the model (the same as the MODEL argument; default: none)\n"
            "      --offline      never download a model (also $HF_HUB_OFFLINE=1)\n"
            "      --metric       treat the weights as a metric-depth model (official .pth files\n"
            "                     do not say which head they were trained for; default: off)\n"
            "      --max-depth M  metric depth range in meters (default: config.json, else 20)\n"
            "  -q, --quiet        no warnings     -v, --verbose  more notes (twice: debug)\n"
            "  -h, --help         this help\n"
            "Exit status: 0 ok, 2 bad usage or unreadable model.\n");
    return f == stdout ? 0 : 2;
}

/* 24785089 -> "24,785,089" */
static const char *grouped(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0 && raw[i - 1] != '-') buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

int cmd_info(int argc, char **argv) {
    enum { OPT_METRIC = 1000, OPT_MAX_DEPTH, OPT_OFFLINE };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"metric", no_argument, 0, OPT_METRIC},
                                         {"max-depth", required_argument, 0, OPT_MAX_DEPTH},
                                         {"offline", no_argument, 0, OPT_OFFLINE},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    fathom_model_params mp = fathom_model_default_params();
    const char *model = NULL;
    int c, offline = 0, verbosity = 0;
    double d;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "m:qvh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_METRIC: mp.metric = 1; break;
        case OPT_MAX_DEPTH:
            if (!cli_double("--max-depth", optarg, 1e-6, 1e9, &d)) return 2;
            mp.max_depth = (float)d;
            break;
        case OPT_OFFLINE: offline = 1; break;
        case 'q': verbosity = -1; break;
        case 'v': verbosity++; break;
        case 'h': return info_usage(stdout);
        default: return 2;
        }
    }
    cli_log_install(verbosity);
    if (!model && optind < argc) model = argv[optind++];
    if (!model || optind != argc) {
        cli_error("expected exactly one MODEL (see fathom info --help)");
        return 2;
    }
    char path[4096];
    if (!cli_model(model, offline, path, sizeof path)) return 2;
    fathom_model *m = NULL;
    if (fathom_model_load(path, &mp, &m) != FATHOM_OK) {
        cli_error("cannot load model '%s': %s", path, fathom_last_error());
        return 2;
    }
    fathom_model_info in;
    fathom_model_get_info(m, &in);
    char b1[32], b2[32];
    if (strcmp(model, path)) printf("model:        %s (%s)\n", model, path);
    else printf("model:        %s\n", path);
    if (in.focal) { /* Depth Pro */
        printf("format:       %s\n", in.format);
        printf("architecture: Depth Pro (three ViTs of embed dim %d, %d blocks, %d heads, MLP %d; "
               "hooks %d,%d;\n"
               "              encoder features %d,%d,%d,%d, decoder features %d)\n",
               in.embed_dim, in.depth, in.heads, in.mlp_hidden, in.layer_idx[0], in.layer_idx[1],
               in.out_channels[0], in.out_channels[1], in.out_channels[2], in.out_channels[3],
               in.features);
        printf("parameters:   %s\n", grouped(in.params, b1, sizeof b1));
        printf("dtype:        %s\n", in.dtype);
        printf("input size:   %d x %d (every image is stretched to it)\n", in.input_size,
               in.input_size);
        printf("output:       metric depth in meters and the focal length (pixels) / field of "
               "view\n");
        printf("compute:      %.1f GFLOP per image\n",
               fathom_model_flops(m, in.input_size, in.input_size) / 1e9);
        fathom_model_free(&m);
        return 0;
    }
    printf("format:       %s\n", in.format);
    printf("architecture: %s (embed dim %d, %d blocks, %d heads, MLP %d, layers %d,%d,%d,%d;\n"
           "              DPT features %d, out channels %d,%d,%d,%d)\n",
           in.arch, in.embed_dim, in.depth, in.heads, in.mlp_hidden, in.layer_idx[0],
           in.layer_idx[1], in.layer_idx[2], in.layer_idx[3], in.features, in.out_channels[0],
           in.out_channels[1], in.out_channels[2], in.out_channels[3]);
    printf("parameters:   %s", grouped(in.params, b1, sizeof b1));
    if (in.unused_params) printf(" (+ %s unused)", grouped(in.unused_params, b2, sizeof b2));
    printf("\ndtype:        %s\n", in.dtype);
    if (in.video) /* Video Depth Anything: metric output is meters straight from its ReLU head */
        printf("video model:  Video Depth Anything (temporal modules %d,%d,%d,%d wide; videos only:\n"
               "              32-frame windows, or --streaming)\n",
               in.temporal_widths[0], in.temporal_widths[1], in.temporal_widths[2], in.temporal_widths[3]);
    if (in.metric && in.video) printf("output:       metric depth in meters\n");
    else if (in.metric) printf("output:       metric depth in meters (max depth %g)\n", in.max_depth);
    else printf("output:       relative (disparity-like, larger = nearer)\n");
    printf("compute:      %.1f GFLOP per 518x518 image\n", fathom_model_flops(m, 518, 518) / 1e9);
    fathom_model_free(&m);
    return 0;
}
