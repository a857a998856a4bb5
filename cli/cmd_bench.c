/* cmd_bench.c - `fathom bench`: time the engine on random input at a network size. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "backend/backend.h"
#include "commands.h"
#include "fathom.h"

static int bench_usage(FILE *f) {
    fprintf(f,
            "usage: fathom bench --model MODEL [options]\n"
            "Time the forward pass on random input (preprocessing and decoding excluded).\n"
            "  --model M         weights: .pth, .safetensors or Hugging Face folder (required)\n"
            "  --device D        cpu (default), cuda, cuda:N, or auto (cuda when usable, else cpu)\n"
            "  --precision P     fp32, fp16 or bf16: GEMM inputs (default bf16 on cuda, fp32 on\n"
            "                    cpu; the CPU takes fp32 or bf16, docs/precision.md)\n"
            "  --weights W       fp32 (default) or int8: encoder GEMM weights quantized at load\n"
            "                    (cpu only; docs/precision.md)\n"
            "  --input-size S    official input size (default 518): an S x S image\n"
            "  --height H        image height (default: input size); the network size follows\n"
            "  --width W         image width  (default: input size)   the official resize rule\n"
            "  --batch B         images per forward pass (default 1)\n"
            "  --threads T       CPU threads (default: all cores)\n"
            "  --iters N         timed passes (default 10)\n"
            "  --warmup N        untimed passes first (default 2)\n"
            "  -h, --help        this help\n"
            "Prints per-image latency, images/s and achieved GFLOP/s.\n"
            "Exit status: 0 ok, 1 the engine failed, 2 bad usage or unreadable model.\n");
    return f == stdout ? 0 : 2;
}

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "fathom bench: %s needs an integer in [%d, %d], got '%s'\n", flag, lo, hi,
                s);
        return 0;
    }
    *out = (int)v;
    return 1;
}

/* cpu, cuda, cuda:N, auto (probes cuda:0 and says when it falls back to the CPU). */
static int parse_device(const char *s, fathom_engine_params *ep) {
    if (!strcmp(s, "cpu")) {
        ep->device = FATHOM_DEVICE_CPU;
    } else if (!strcmp(s, "auto")) {
        fathom_backend *be = NULL;
        if (fathom_backend_cuda_create(0, FATHOM_PRECISION_DEFAULT, 0, &be) == FATHOM_OK) {
            fathom_backend_free(&be);
            ep->device = FATHOM_DEVICE_CUDA, ep->device_index = 0;
        } else {
            fprintf(stderr, "fathom bench: --device auto: no usable CUDA device (%s); using the CPU\n",
                    fathom_last_error());
            ep->device = FATHOM_DEVICE_CPU;
        }
    } else if (!strncmp(s, "cuda", 4) && (s[4] == '\0' || s[4] == ':')) {
        ep->device = FATHOM_DEVICE_CUDA, ep->device_index = 0;
        if (s[4] == ':' && !parse_int("--device", s + 5, 0, 255, &ep->device_index)) return 0;
    } else {
        fprintf(stderr, "fathom bench: --device must be cpu, cuda, cuda:N or auto, got '%s'\n", s);
        return 0;
    }
    return 1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* process CPU time (all threads): a steadier figure than wall time on a shared machine */
static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"device", required_argument, 0, 'd'},
        {"input-size", required_argument, 0, 's'}, {"height", required_argument, 0, 'H'},
        {"width", required_argument, 0, 'W'},  {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"iters", required_argument, 0, 'n'},
        {"warmup", required_argument, 0, 'w'}, {"help", no_argument, 0, 'h'},
        {"precision", required_argument, 0, 'p'}, {"weights", required_argument, 0, 'q'},
        {0, 0, 0, 0}};
    const char *model = NULL;
    int input_size = 518, h0 = 0, w0 = 0, batch = 1, threads = 0, iters = 10, warmup = 2;
    fathom_engine_params ep = fathom_engine_default_params();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'm': model = optarg; break;
        case 'd': ok = parse_device(optarg, &ep); break;
        case 'q':
            if (!strcmp(optarg, "int8")) ep.weights = FATHOM_WEIGHTS_INT8;
            else if (strcmp(optarg, "default") && strcmp(optarg, "fp32")) {
                fprintf(stderr, "fathom bench: --weights must be fp32 or int8, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'p':
            if (!strcmp(optarg, "fp32")) ep.precision = FATHOM_PRECISION_FP32;
            else if (!strcmp(optarg, "fp16")) ep.precision = FATHOM_PRECISION_FP16;
            else if (!strcmp(optarg, "bf16")) ep.precision = FATHOM_PRECISION_BF16;
            else {
                fprintf(stderr, "fathom bench: --precision must be fp32, fp16 or bf16, got '%s'\n",
                        optarg);
                ok = 0;
            }
            break;
        case 's': ok = parse_int("--input-size", optarg, 14, 8192, &input_size); break;
        case 'H': ok = parse_int("--height", optarg, 1, 65536, &h0); break;
        case 'W': ok = parse_int("--width", optarg, 1, 65536, &w0); break;
        case 'b': ok = parse_int("--batch", optarg, 1, 1024, &batch); break;
        case 't': ok = parse_int("--threads", optarg, 0, 4096, &threads); break;
        case 'n': ok = parse_int("--iters", optarg, 1, 1000000, &iters); break;
        case 'w': ok = parse_int("--warmup", optarg, 0, 1000000, &warmup); break;
        case 'h': return bench_usage(stdout);
        default: return bench_usage(stderr);
        }
        if (!ok) return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "fathom bench: unexpected argument '%s'\n", argv[optind]);
        return bench_usage(stderr);
    }
    if (!model) {
        fprintf(stderr, "fathom bench: --model is required\n");
        return bench_usage(stderr);
    }
    if (!h0) h0 = input_size;
    if (!w0) w0 = input_size;
    int H, W;
    fathom_network_size(h0, w0, input_size, &H, &W);
    ep.threads = threads;
    if (ep.device != FATHOM_DEVICE_CPU && ep.weights == FATHOM_WEIGHTS_INT8) {
        fprintf(stderr, "fathom bench: --weights int8: the CPU engine only for now\n");
        return 2;
    }
    if (ep.device == FATHOM_DEVICE_CPU && ep.precision == FATHOM_PRECISION_FP16) {
        fprintf(stderr, "fathom bench: --precision fp16: the CPU engine computes in fp32 or bf16 "
                        "(use --precision fp32, bf16 or --device cuda)\n");
        return 2;
    }

    int rc = 2;
    fathom_model *m = NULL;
    fathom_engine *e = NULL;
    float *x = NULL, *depth = NULL;   /* owned */
    double *times = NULL;             /* owned */
    if (fathom_model_load(model, NULL, &m) != FATHOM_OK) {
        fprintf(stderr, "fathom bench: cannot load model '%s': %s\n", model, fathom_last_error());
        goto done;
    }
    if (fathom_engine_create(m, &ep, &e) != FATHOM_OK ||
        fathom_engine_reserve(e, batch, H, W) != FATHOM_OK) {
        fprintf(stderr, "fathom bench: %s\n", fathom_last_error());
        goto done;
    }
    size_t nx = (size_t)batch * 3 * H * W, nd = (size_t)batch * H * W;
    x = malloc(nx * sizeof(float));
    depth = malloc(nd * sizeof(float));
    times = malloc(sizeof(double) * iters);
    if (!x || !depth || !times) {
        fprintf(stderr, "fathom bench: out of memory for %d x %d x %d\n", batch, H, W);
        goto done;
    }
    uint64_t r = 0x9E3779B97F4A7C15ull; /* normalized-image-like values in [-2, 2] */
    for (size_t i = 0; i < nx; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    rc = 1;
    double cpu0 = 0;
    for (int i = 0; i < warmup + iters; i++) {
        if (i == warmup) cpu0 = cpu_s();
        double t0 = now_s();
        if (fathom_engine_forward(e, x, batch, H, W, depth) != FATHOM_OK) {
            fprintf(stderr, "fathom bench: forward failed: %s\n", fathom_last_error());
            goto done;
        }
        if (i >= warmup) times[i - warmup] = now_s() - t0;
    }
    double cpu = (cpu_s() - cpu0) / iters;
    qsort(times, iters, sizeof *times, cmp_double);
    double med = times[iters / 2], best = times[0];
    double flops = fathom_model_flops(m, H, W);
    fathom_model_info in;
    fathom_model_get_info(m, &in);
    char tbuf[16];
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    static const char *const prec[] = {"default", "fp32", "fp16", "bf16"};
    printf("model %s (%s, %s), device %s, precision %s, threads %s, batch %d, image %dx%d -> "
           "network %dx%d\n",
           in.arch, in.format, in.dtype, ep.device == FATHOM_DEVICE_CPU ? "cpu" : "cuda",
           ep.weights == FATHOM_WEIGHTS_INT8 ? "int8 weights"
           : ep.device == FATHOM_DEVICE_CPU && ep.precision != FATHOM_PRECISION_BF16 ? "fp32"
                                                                            : prec[ep.precision],
           threads > 0 ? tbuf : "all", batch, h0, w0, H, W);
    char kern[256];
    fathom_engine_kernels(e, kern, sizeof kern);
    printf("kernels:    %s\n", kern);
    printf("latency:    %.2f ms per image (median of %d passes of %.2f ms; best %.2f ms/image)\n",
           med * 1e3 / batch, iters, med * 1e3, best * 1e3 / batch);
    printf("cpu time:   %.2f ms per image (all threads, mean)\n", cpu * 1e3 / batch);
    printf("throughput: %.3f images/s\n", batch / med);
    printf("compute:    %.2f GFLOP per image, %.1f GFLOP/s achieved\n", flops / 1e9,
           flops * batch / med / 1e9);
    printf("memory:     %.1f MiB of activations reserved\n",
           fathom_engine_reserved_bytes(e) / 1048576.0);
    rc = 0;
done:
    free(times), free(depth), free(x);
    fathom_engine_free(&e);
    fathom_model_free(&m);
    return rc;
}
