/* cmd_info.c - `fathom info MODEL`: what a weight file or folder holds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fathom.h"

static int info_usage(FILE *f) {
    fprintf(f,
            "usage: fathom info [options] MODEL\n"
            "Describe a Depth Anything V2 model: an official .pth, a .safetensors file or a\n"
            "Hugging Face folder (config.json + model.safetensors).\n"
            "  --metric           treat the weights as a metric-depth model (official .pth files\n"
            "                     do not say which head they were trained for)\n"
            "  --max-depth M      metric depth range in meters (default: config.json, else 20)\n"
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
    static const struct option opts[] = {{"metric", no_argument, 0, 'm'},
                                         {"max-depth", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    fathom_model_params mp = fathom_model_default_params();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': mp.metric = 1; break;
        case 'd': {
            char *end;
            mp.max_depth = strtof(optarg, &end);
            if (*end || !(mp.max_depth > 0)) {
                fprintf(stderr, "fathom info: --max-depth needs a positive number, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'h': return info_usage(stdout);
        default: return info_usage(stderr);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "fathom info: expected exactly one MODEL argument\n");
        return info_usage(stderr);
    }
    const char *path = argv[optind];
    fathom_model *m = NULL;
    fathom_status s = fathom_model_load(path, &mp, &m);
    if (s != FATHOM_OK) {
        fprintf(stderr, "fathom info: cannot load model '%s': %s\n", path, fathom_last_error());
        return 2;
    }
    fathom_model_info in;
    fathom_model_get_info(m, &in);
    char b1[32], b2[32];
    printf("model:        %s\n", path);
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
