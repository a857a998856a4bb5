/* cmd_bench.c - `fathom bench`: time the engine on random input at a network size. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli_util.h"
#include "commands.h"
#include "engine_flags.h"
#include "fathom.h"

static int bench_usage(FILE *f) {
    fprintf(f,
            "usage: fathom bench [options] [-m MODEL]\n"
            "Time the forward pass on random input (preprocessing and decoding excluded).\n"
            "  -m, --model M     .pth, .safetensors, Hugging Face folder, or a name as in\n"
            "                    fathom run --help (default: small)\n"
            "      --offline     never download a model (also $HF_HUB_OFFLINE=1)\n"
            "  --device D        cpu (default), cuda, cuda:N, or auto (cuda when usable, else cpu)\n"
            "  --precision P     fp32, fp16 or bf16: GEMM inputs (default bf16 on cuda, fp32 on\n"
            "                    cpu; the CPU takes fp32 or bf16, docs/precision.md)\n"
            "  --weights W       fp32 (default), int8 or q4: GEMM and conv weights quantized at load\n"
            "                    (cpu and cuda; docs/precision.md)\n"
            "  --input-size S    official input size (default 518): an S x S image (Depth Pro:\n"
            "                    any image runs at its fixed 1536 x 1536)\n"
            "  --height H        image height (default: input size); the network size follows\n"
            "  --width W         image width  (default: input size)   the official resize rule\n"
            "  --batch B         images per forward pass (default 1)\n"
            "  --threads T       CPU threads (default: all cores)\n"
            "  --iters N         timed passes (default 10)\n"
            "  --warmup N        untimed passes first (default 2)\n"
            "  -q, --quiet       no warnings     -v, --verbose  more notes (twice: debug)\n"
            "  -h, --help        this help\n"
            "Prints per-image latency, images/s and achieved GFLOP/s.\n"
            "Exit status: 0 ok, 1 the engine failed, 2 bad usage or unreadable model.\n");
    return f == stdout ? 0 : 2;
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

/* Resident memory now (VmRSS of /proc/self/status), KiB; -1 where there is none */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

static long load_rss_kib = -1; /* after the model and engine were made (cmd_bench) */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_args {
    const char *model; /* borrowed from argv; NULL: small */
    int offline, verbosity;
    int input_size, h0, w0, batch, threads, iters, warmup;
    fathom_engine_params ep;
} bench_args;

/* -1: go on; else the exit code (help printed, or a bad flag reported). */
static int parse_bench_args(int argc, char **argv, bench_args *a) {
    enum { OPT_DEVICE = 1000, OPT_INPUT_SIZE, OPT_HEIGHT, OPT_WIDTH, OPT_BATCH, OPT_THREADS,
           OPT_ITERS, OPT_WARMUP, OPT_PRECISION, OPT_OFFLINE, OPT_WEIGHTS };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"device", required_argument, 0, OPT_DEVICE},
        {"input-size", required_argument, 0, OPT_INPUT_SIZE},
        {"height", required_argument, 0, OPT_HEIGHT}, {"width", required_argument, 0, OPT_WIDTH},
        {"batch", required_argument, 0, OPT_BATCH}, {"threads", required_argument, 0, OPT_THREADS},
        {"iters", required_argument, 0, OPT_ITERS}, {"warmup", required_argument, 0, OPT_WARMUP},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"weights", required_argument, 0, OPT_WEIGHTS},
        {"offline", no_argument, 0, OPT_OFFLINE}, {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->input_size = 518, a->batch = 1, a->iters = 10, a->warmup = 2;
    a->ep = fathom_engine_default_params();
    const char *device = "cpu";
    int c;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "m:qvh", opts, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'm': a->model = optarg; break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_PRECISION: ok = cli_precision(optarg, &a->ep.precision); break;
        case OPT_WEIGHTS:
            if (!strcmp(optarg, "int8")) a->ep.weights = FATHOM_WEIGHTS_INT8;
            else if (!strcmp(optarg, "q4")) a->ep.weights = FATHOM_WEIGHTS_Q4;
            else if (strcmp(optarg, "fp32")) {
                cli_error("--weights must be fp32, int8 or q4, got '%s'", optarg);
                ok = 0;
            }
            break;
        case OPT_INPUT_SIZE: ok = cli_int("--input-size", optarg, 14, 8192, &a->input_size); break;
        case OPT_HEIGHT: ok = cli_int("--height", optarg, 1, 65536, &a->h0); break;
        case OPT_WIDTH: ok = cli_int("--width", optarg, 1, 65536, &a->w0); break;
        case OPT_BATCH: ok = cli_int("--batch", optarg, 1, 1024, &a->batch); break;
        case OPT_THREADS: ok = cli_int("--threads", optarg, 0, 4096, &a->threads); break;
        case OPT_ITERS: ok = cli_int("--iters", optarg, 1, 1000000, &a->iters); break;
        case OPT_WARMUP: ok = cli_int("--warmup", optarg, 0, 1000000, &a->warmup); break;
        case OPT_OFFLINE: a->offline = 1; break;
        case 'q': a->verbosity = -1; break;
        case 'v': a->verbosity++; break;
        case 'h': return bench_usage(stdout);
        default: return 2;
        }
        if (!ok) return 2;
    }
    cli_log_install(a->verbosity);
    if (optind != argc) {
        cli_error("unexpected argument '%s' (see fathom bench --help)", argv[optind]);
        return 2;
    }
    fathom_precision prec = a->ep.precision;
    fathom_weight_format wf = a->ep.weights;
    if (!cli_device(device, &a->ep)) return 2;
    a->ep.precision = prec;
    a->ep.weights = wf;
    a->ep.threads = a->threads;
    if (!a->h0) a->h0 = a->input_size;
    if (!a->w0) a->w0 = a->input_size;
    if (a->ep.device == FATHOM_DEVICE_CPU && prec == FATHOM_PRECISION_FP16) {
        cli_error("--precision fp16: the CPU engine computes in fp32 or bf16 "
                  "(use --precision fp32, bf16 or --device cuda)");
        return 2;
    }
    return -1;
}

/* warmup + iters passes on x; times[] (iters) gets each timed pass, *cpu the mean CPU time. */
static int bench_passes(fathom_engine *e, const bench_args *a, int H, int W, const float *x,
                        float *depth, double *times, double *cpu) {
    double cpu0 = 0;
    for (int i = 0; i < a->warmup + a->iters; i++) {
        if (i == a->warmup) cpu0 = cpu_s();
        double t0 = now_s();
        if (fathom_engine_forward(e, x, a->batch, H, W, depth) != FATHOM_OK) {
            cli_error("forward failed: %s", fathom_last_error());
            return 0;
        }
        if (i >= a->warmup) times[i - a->warmup] = now_s() - t0;
    }
    *cpu = (cpu_s() - cpu0) / a->iters;
    return 1;
}

static void bench_print(const fathom_model *m, const fathom_engine *e, const bench_args *a,
                        int H, int W, double *times, double cpu) {
    int iters = a->iters, batch = a->batch;
    qsort(times, iters, sizeof *times, cmp_double);
    double med = times[iters / 2], best = times[0];
    double flops = fathom_model_flops(m, H, W);
    fathom_model_info in;
    fathom_model_get_info(m, &in);
    char tbuf[16];
    snprintf(tbuf, sizeof tbuf, "%d", a->threads);
    static const char *const prec[] = {"default", "fp32", "fp16", "bf16"};
    int on_cpu = a->ep.device == FATHOM_DEVICE_CPU;
    printf("model %s (%s, %s), device %s, precision %s, threads %s, batch %d, image %dx%d -> "
           "network %dx%d\n",
           in.arch, in.format, in.dtype, on_cpu ? "cpu" : "cuda",
           a->ep.weights == FATHOM_WEIGHTS_INT8                         ? "int8 weights"
           : a->ep.weights == FATHOM_WEIGHTS_Q4                         ? "q4 weights"
           : on_cpu && a->ep.precision != FATHOM_PRECISION_BF16 ? "fp32"
                                                                : prec[a->ep.precision],
           a->threads > 0 ? tbuf : "all", batch, a->h0, a->w0, H, W);
    char kern[256];
    fathom_engine_kernels(e, kern, sizeof kern);
    printf("kernels:    %s\n", kern);
    printf("latency:    %.2f ms per image (median of %d passes of %.2f ms; best %.2f ms/image)\n",
           med * 1e3 / batch, iters, med * 1e3, best * 1e3 / batch);
    printf("cpu time:   %.2f ms per image (all threads, mean)\n", cpu * 1e3 / batch);
    printf("throughput: %.3f images/s\n", batch / med);
    printf("compute:    %.2f GFLOP per image, %.1f GFLOP/s achieved\n", flops / 1e9,
           flops * batch / med / 1e9);
    if (fathom_model_is_depthpro(m)) { /* activations are taken per stage, not reserved */
        struct rusage u;
        getrusage(RUSAGE_SELF, &u);
        printf("memory:     %.1f MiB peak RSS (process: weights + activations)\n", u.ru_maxrss / 1024.0);
    } else {
        printf("memory:     %.1f MiB of activations reserved\n", fathom_engine_reserved_bytes(e) / 1048576.0);
    }
    if (load_rss_kib >= 0)
        printf("resident:   %.1f MiB RSS after load (weights as the engine holds them, before any pass)\n",
               load_rss_kib / 1024.0);
}

int cmd_bench(int argc, char **argv) {
    bench_args a;
    int rc = parse_bench_args(argc, argv, &a);
    if (rc >= 0) return rc;
    int H, W;
    fathom_network_size(a.h0, a.w0, a.input_size, &H, &W);
    rc = 2;
    fathom_model *m = NULL;
    fathom_engine *e = NULL;
    float *x = NULL, *depth = NULL;   /* owned */
    double *times = NULL;             /* owned */
    char path[4096];
    if (!cli_model(a.model, a.offline, path, sizeof path)) goto done;
    if (fathom_model_load(path, NULL, &m) != FATHOM_OK) {
        cli_error("cannot load model '%s': %s", path, fathom_last_error());
        goto done;
    }
    if (fathom_model_is_depthpro(m)) { /* Depth Pro: every image is stretched to its fixed input */
        fathom_model_info in;
        fathom_model_get_info(m, &in);
        H = W = in.input_size;
    }
    a.ep.release_fp32 = 1; /* one engine: packed weights replace the fp32 ones */
    /* a quantized file brings its format: the header names what runs */
    if (fathom_engine_params_resolve(m, &a.ep) != FATHOM_OK ||
        fathom_engine_create(m, &a.ep, &e) != FATHOM_OK ||
        fathom_engine_reserve(e, a.batch, H, W) != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        goto done;
    }
    load_rss_kib = rss_kib();
    size_t nx = (size_t)a.batch * 3 * H * W, nd = (size_t)a.batch * H * W;
    x = malloc(nx * sizeof(float));
    depth = malloc(nd * sizeof(float));
    times = malloc(sizeof(double) * a.iters);
    if (!x || !depth || !times) {
        cli_error("out of memory for %d x %d x %d", a.batch, H, W);
        goto done;
    }
    uint64_t r = 0x9E3779B97F4A7C15ull; /* normalized-image-like values in [-2, 2] */
    for (size_t i = 0; i < nx; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    double cpu = 0;
    rc = 1;
    if (!bench_passes(e, &a, H, W, x, depth, times, &cpu)) goto done;
    bench_print(m, e, &a, H, W, times, cpu);
    rc = 0;
done:
    free(times), free(depth), free(x);
    fathom_engine_free(&e);
    fathom_model_free(&m);
    return rc;
}
