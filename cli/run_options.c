/* run_options.c - `fathom run`'s command line: --help, the flags into run_args, the devices and
 * the governor they ask for (run_args.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "engine_flags.h"
#include "run_args.h"

static void usage(FILE *f) {
    fprintf(f,
"usage: fathom run [options] -o OUTDIR INPUT...\n"
"INPUT: image files, folders, .txt lists (one path or URL per line), '-' (list on stdin),\n"
"       http(s) URLs.\n"
"  -o, --output DIR        output folder (created); OUTDIR/<relative path>/<stem>.<ext>\n"
"  -m, --model NAME|PATH   model folder/file, name (small, base, large = vits, vitb, vitl;\n"
"                          metric-indoor-small, ...) or Hugging Face repo id (default: small;\n"
"                          fathom's cache, then the Hugging Face cache, then a download;\n"
"                          docs/models.md)\n"
"      --offline           never download a model (default: off; also $HF_HUB_OFFLINE=1;\n"
"                          $HF_ENDPOINT: a mirror)\n"
"      --metric            treat the weights as a metric-depth model (sigmoid x max depth; for\n"
"                          official metric .pth files, which carry no config.json; default:\n"
"                          from config.json, else relative)\n"
"      --max-depth M       metric depth range in meters (default: config.json, else 20)\n"
"      --focal-px F        Depth Pro: focal length in pixels for every image (default: the\n"
"                          EXIF 35 mm focal length when present, else the model's estimate)\n"
"  -r, --recursive         walk sub-folders, hidden ones skipped (default: top level only)\n"
"  -f, --format LIST       npy,npz,png16,png8,color,exr (default npy)\n"
"      --colormap NAME     spectral_r (default), inferno, turbo, gray\n"
"      --invert            near = dark/cool in png8/png16/color and video outputs (default:\n"
"                          near = bright/warm, for relative and metric models alike)\n"
"      --input-size N      network lower bound (default 518)\n"
"      --max-pixels N      refuse larger images and video frames (default 178956970 for\n"
"                          images, 35389440 = 8192x4320 for video frames; 0 = no limit)\n"
"      --max-network-pixels N  cap the network input of extreme shapes, with a warning\n"
"                          (default 1M = 1048576, ~3.9x 518x518; 0 = no cap; K/M = 1024s)\n"
"      --device LIST       cpu, cuda, cuda:N, auto or a comma list (default auto: CUDA device\n"
"                          0 when usable, else the CPU, saying which); one engine each;\n"
"                          local[:K]: this rank's share of its machine's GPUs (K each)\n"
"      --precision P       fp32, fp16 or bf16: GEMM inputs (default bf16 on CUDA, fp32 on the\n"
"                          CPU, which takes fp32 or bf16) (docs/cuda.md, docs/precision.md)\n"
"      --weights W         fp32 (default), int8 or q4: weights quantized at load: GEMMs and\n"
"                          head convs on the CPU, the encoder's GEMMs on CUDA; not Depth Pro\n"
"                          (docs/precision.md); a `fathom quantize` file (-m) is already\n"
"                          quantized: its format is used (docs/models.md)\n"
"      --threads T         CPU threads per CPU engine (default: all cores)\n"
"      --batch N           largest inference batch (default 4)\n"
"      --batch-timeout S   longest wait for a full batch, seconds (default 0.05)\n"
"      --workers N         threads in the decode pool and in the write pool (default 2)\n"
"      --queue N           capacity of each queue between stages (default 4)\n"
"      --resume            skip inputs whose outputs all exist, as recorded in\n"
"                          OUTDIR/.fathom-manifest (default: off)\n"
"      --overwrite         replace existing outputs fathom wrote for the same input (default: an\n"
"                          existing output fails its item; inputs and other files are never replaced)\n"
"      --fail-fast         stop taking input after the first failed item (default: off)\n"
"      --report FILE.json  per-item and per-stage report (default: none)\n"
"      --shard K/N         only the K-th of N deterministic shares of the inputs (job arrays;\n"
"                          merge the reports with `fathom report merge`; default: all)\n"
"      --mpi               under mpirun/srun: rank 0 hands out image batches and video chunks,\n"
"                          every rank (rank 0 too) runs them, rank 0 merges outputs and\n"
"                          reports (default: off; docs/scale-out.md)\n"
"      --progress MODE     auto (default: bar on a terminal, else none), bar, ndjson (every\n"
"                          stderr line one JSON event), none; the summary line is always shown\n"
"  -q, --quiet             errors only   -v, --verbose  more notes (twice: debug)\n"
"                          (default: errors, warnings, notes and the summary line)\n"
"URL inputs: --max-download-bytes N per URL (e.g. 100M; default 0 = the fetcher's limit)\n"
"          --timeout S per attempt (default: the fetcher's)  --retries N (default: fetcher's)\n"
"          (videos: --timeout bounds each open/read, default 30 s)\n"
"governor (off unless one of these is given; their defaults in docs/governor.md):\n"
"          --target-util P --max-util P --batch-min N --batch-max N --nice N\n"
"          --gpu-mem-limit BYTES --gpu-mem-fraction F --gpu-power-limit W\n"
"          --governor-hz HZ  sampler rate, 0.5..1000 (default 10)\n"
"video inputs (.mp4 .mkv .mov ..., stream URLs, videos in input folders) run frame by frame,\n"
"in order (docs/video.md):\n"
"      --video FILE        depth video path, one video only; relative to the current folder,\n"
"                          not OUTDIR (default: OUTDIR/<stem>_depth.mkv when no -f)\n"
"      --video-codec C     ffv1 (default, lossless), h264 or h265\n"
"      --crf N             quality of lossy codecs, 0..63 (default: the codec's)\n"
"      --pix-fmt F         pixel format of the depth video (default: the codec's)\n"
"      --video-color       colormapped depth video (default: grayscale)\n"
"      --start T --end T   time range, seconds or HH:MM:SS[.ms] or MM:SS[.ms] (default: all)\n"
"      --max-frames N      at most N frames (default: all)\n"
"      --max-res N         downscale so the long side is at most N (default: none)\n"
"      --normalize M       ema (default: smoothed range, no flicker) or frame\n"
"      --ema-decay D       weight of the previous range, 0..1 (default 0.9)\n"
"      --lookahead N       frames read ahead for the range, 0..1024 (default 8)\n"
"      --scene-cut T       scene-cut sensitivity, 0..1, 0 = off (default 0.3)\n"
"      --video-npz         all frames' raw depth in OUTDIR/<stem>.npz (default: off)\n"
"      --chunks N          split each video into N chunks by frame index, run them on the\n"
"                          --device engines at once (one worker each), merge into one output;\n"
"                          --resume redoes only unfinished chunks (default: automatic with\n"
"                          several devices or --mpi ranks: 3 per engine, each chunk at least\n"
"                          32 + 8 x overlap frames; else one pass; 1: one pass)\n"
"                          (docs/scale-out.md)\n"
"      --overlap K         frames recomputed before each chunk to align it, where the output\n"
"                          is normalized (depth video, png/color) or the model is Video Depth\n"
"                          Anything (default 16; VDA: 32, one whole window)\n"
"      --streaming         a Video Depth Anything model (video_depth_anything_*.pth) runs the\n"
"                          official 32-frame windows by default; this runs its cached-state\n"
"                          streaming mode instead: one frame in, one depth out (docs/vda.md)\n"
"exit codes: 0 done, 1 some items failed, 2 usage/setup error, 130 interrupted\n");
}

enum { /* the engine and governor flags are engine_flags.h's */
    OPT_COLORMAP = 1000, OPT_INVERT, OPT_INPUT_SIZE, OPT_MAX_PIXELS, OPT_DEVICE,
    OPT_BATCH, OPT_BATCH_TIMEOUT, OPT_WORKERS, OPT_QUEUE, OPT_RESUME, OPT_OVERWRITE,
    OPT_FAIL_FAST, OPT_REPORT, OPT_PROGRESS, OPT_MAX_DL, OPT_TIMEOUT, OPT_RETRIES,
    OPT_VIDEO, OPT_MAX_NET_PIXELS, OPT_WEIGHTS, OPT_FOCAL_PX, OPT_STREAMING, OPT_SHARD, OPT_CHUNKS, OPT_OVERLAP, OPT_MPI
};

static const struct option k_opts[] = {
    {"output", required_argument, 0, 'o'}, {"model", required_argument, 0, 'm'},
    {"recursive", no_argument, 0, 'r'}, {"format", required_argument, 0, 'f'},
    {"help", no_argument, 0, 'h'}, {"colormap", required_argument, 0, OPT_COLORMAP},
    {"invert", no_argument, 0, OPT_INVERT}, {"input-size", required_argument, 0, OPT_INPUT_SIZE},
    {"max-pixels", required_argument, 0, OPT_MAX_PIXELS},
    {"max-network-pixels", required_argument, 0, OPT_MAX_NET_PIXELS},
    {"device", required_argument, 0, OPT_DEVICE}, {"weights", required_argument, 0, OPT_WEIGHTS},
    CLI_ENGINE_LONGOPTS,
    {"batch", required_argument, 0, OPT_BATCH},
    {"batch-timeout", required_argument, 0, OPT_BATCH_TIMEOUT},
    {"workers", required_argument, 0, OPT_WORKERS}, {"queue", required_argument, 0, OPT_QUEUE},
    {"resume", no_argument, 0, OPT_RESUME}, {"overwrite", no_argument, 0, OPT_OVERWRITE},
    {"fail-fast", no_argument, 0, OPT_FAIL_FAST}, {"report", required_argument, 0, OPT_REPORT},
    {"shard", required_argument, 0, OPT_SHARD}, {"chunks", required_argument, 0, OPT_CHUNKS},
    {"overlap", required_argument, 0, OPT_OVERLAP}, {"mpi", no_argument, 0, OPT_MPI},
    {"progress", required_argument, 0, OPT_PROGRESS},
    {"max-download-bytes", required_argument, 0, OPT_MAX_DL},
    {"timeout", required_argument, 0, OPT_TIMEOUT}, {"retries", required_argument, 0, OPT_RETRIES},
    {"quiet", no_argument, 0, 'q'},
    {"verbose", no_argument, 0, 'v'},
    {"streaming", no_argument, 0, OPT_STREAMING},
    {"focal-px", required_argument, 0, OPT_FOCAL_PX},
    /* video flags: set by name with fathom_video_opts_set */
    {"video", required_argument, 0, OPT_VIDEO}, {"video-codec", required_argument, 0, OPT_VIDEO},
    {"crf", required_argument, 0, OPT_VIDEO}, {"pix-fmt", required_argument, 0, OPT_VIDEO},
    {"video-color", no_argument, 0, OPT_VIDEO}, {"start", required_argument, 0, OPT_VIDEO},
    {"end", required_argument, 0, OPT_VIDEO}, {"max-frames", required_argument, 0, OPT_VIDEO},
    {"max-res", required_argument, 0, OPT_VIDEO}, {"normalize", required_argument, 0, OPT_VIDEO},
    {"ema-decay", required_argument, 0, OPT_VIDEO}, {"lookahead", required_argument, 0, OPT_VIDEO},
    {"scene-cut", required_argument, 0, OPT_VIDEO}, {"video-npz", no_argument, 0, OPT_VIDEO},
    {0, 0, 0, 0}};

#define parse_int cli_int
#define parse_double cli_double

static int parse_formats(const char *s, unsigned *out) {
    static const struct { const char *name; unsigned bit; } k[] = {
        {"npy", FATHOM_OUT_NPY}, {"npz", FATHOM_OUT_NPZ}, {"png16", FATHOM_OUT_PNG16},
        {"png8", FATHOM_OUT_PNG8}, {"color", FATHOM_OUT_COLOR}, {"exr", FATHOM_OUT_EXR},
        {"png", FATHOM_OUT_PNG16}};
    *out = 0;
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
            if (strlen(k[i].name) == n && !strncasecmp(p, k[i].name, n)) bit = k[i].bit;
        if (!bit) {
            cli_error("--format: unknown format '%.*s' (npy, npz, png16, png8, color, exr)", (int)n, p);
            return 0;
        }
        *out |= bit;
        p += n;
        if (*p) p++;
    }
    if (!*out) {
        cli_error("--format: empty list");
        return 0;
    }
    return 1;
}

static int parse_colormap(const char *s, fathom_colormap *out) {
    static const struct { const char *name; fathom_colormap c; } k[] = {
        {"spectral_r", FATHOM_CMAP_SPECTRAL_R}, {"spectral", FATHOM_CMAP_SPECTRAL_R},
        {"inferno", FATHOM_CMAP_INFERNO}, {"turbo", FATHOM_CMAP_TURBO}, {"gray", FATHOM_CMAP_GRAY},
        {"grey", FATHOM_CMAP_GRAY}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcasecmp(s, k[i].name)) {
            *out = k[i].c;
            return 1;
        }
    cli_error("--colormap: unknown colormap '%s' (spectral_r, inferno, turbo, gray)", s);
    return 0;
}

/* "cpu", "cuda", "cuda:N", "auto", comma lists; every engine gets `precision`, which a CPU
 * engine (fp32 or bf16) refuses when it is fp16. */
static int parse_device_list(const char *s, fathom_run_params *rp, int threads,
                         fathom_precision precision) {
    rp->n_devices = 0;
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[32];
        if (n == 0 || n >= sizeof one) break; /* an empty or overlong item */
        memcpy(one, p, n);
        one[n] = '\0';
        if (rp->n_devices == FATHOM_MAX_DEVICES) {
            cli_error("--device: more than %d devices", FATHOM_MAX_DEVICES);
            return 0;
        }
        if (!strncasecmp(one, "local", 5) && (one[5] == '\0' || one[5] == ':')) {
            if (!cli_local_devices(one, rp, threads, precision)) return 0; /* cli_util.c */
            p += n;
            if (*p) p++;
            continue;
        }
        fathom_engine_params ep = fathom_engine_default_params();
        ep.threads = threads;
        if (!cli_device(one, &ep)) return 0;
        ep.precision = precision;
        if (!cli_check_cpu_precision(&ep)) return 0;
        rp->devices[rp->n_devices++] = ep;
        p += n;
        if (*p) p++;
    }
    if (!*p && rp->n_devices > 0) return 1;
    cli_error("--device: '%s' is not cpu, cuda, cuda:N, auto, local[:K] or a comma list", s);
    return 0;
}

/* One option other than the engine and governor flags: 1 ok, 0 bad value (reported). */
static int parse_run_opt(run_args *a, int c, const char *name, const char *arg) {
    fathom_run_params *rp = &a->rp;
    double d;
    switch (c) {
    case OPT_VIDEO:
        if (!strcmp(name, "video")) a->video_path = arg; /* checked against the inputs */
        if (fathom_video_opts_set(a->vo, name, arg) == 1) return 1;
        else {
            /* the library names the field ("start: ..."); the user typed the flag */
            const char *msg = fathom_last_error();
            size_t n = strlen(name);
            if (!strncmp(msg, "--", 2)) msg += 2;
            if (!strncmp(msg, name, n) && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
            cli_error("--%s: %s", name, msg);
        }
        return 0;
    case 'o': rp->outdir = arg; return 1;
    case 'm': a->model_arg = arg; return 1;
    case 'r': rp->recursive = 1; return 1;
    case 'q': a->verbosity = -1; return 1;
    case 'v': a->verbosity++; return 1;
    case 'f': /* for videos: frame sequences, only when asked (docs/video.md) */
        if (!parse_formats(arg, &rp->formats)) return 0;
        fathom_video_opts_set_formats(a->vo, rp->formats);
        return 1;
    case OPT_COLORMAP: return parse_colormap(arg, &rp->write.colormap);
    case OPT_INVERT: rp->write.invert = 1; return 1;
    case OPT_INPUT_SIZE: return parse_int("--input-size", arg, 14, 8192, &rp->input_size);
    case OPT_MAX_PIXELS:
        if (!parse_double("--max-pixels", arg, 0, 1e15, &d)) return 0;
        rp->max_pixels = (uint64_t)d;
        return 1;
    case OPT_MAX_NET_PIXELS: {
        size_t v;
        if (fathom_parse_bytes(arg, &v) != FATHOM_OK) {
            cli_error("--max-network-pixels: '%s' is not a pixel count (e.g. 4M, 2000000, 0)", arg);
            return 0;
        }
        rp->max_network_pixels = v;
        return 1;
    }
    case OPT_DEVICE: a->device_arg = arg; return 1;
    case OPT_FOCAL_PX: return parse_double("--focal-px", arg, 1e-3, 1e9, &rp->focal_px);
    case OPT_STREAMING: a->streaming = 1; return 1;
    case OPT_WEIGHTS:
        if (!strcasecmp(arg, "int8")) a->wformat = FATHOM_WEIGHTS_INT8;
        else if (!strcasecmp(arg, "q4")) a->wformat = FATHOM_WEIGHTS_Q4;
        else if (strcasecmp(arg, "fp32")) {
            cli_error("--weights: '%s' is not fp32, int8 or q4", arg);
            return 0;
        }
        return 1;
    case OPT_BATCH: return parse_int("--batch", arg, 1, 256, &rp->batch);
    case OPT_BATCH_TIMEOUT:
        return parse_double("--batch-timeout", arg, 0, 60, &rp->batch_timeout_s);
    case OPT_WORKERS: return parse_int("--workers", arg, 1, 256, &rp->workers);
    case OPT_QUEUE: return parse_int("--queue", arg, 1, 4096, &rp->queue);
    case OPT_RESUME: a->resume = 1; return 1;
    case OPT_OVERWRITE: a->overwrite = 1; return 1;
    case OPT_FAIL_FAST: rp->fail_fast = 1; return 1;
    case OPT_REPORT: rp->report_path = arg; return 1;
    case OPT_SHARD:
        if (fathom_shard_parse(arg, &rp->shard_index, &rp->shard_count) == FATHOM_OK) return 1;
        cli_error("%s", fathom_last_error());
        return 0;
    case OPT_CHUNKS: return parse_int("--chunks", arg, 1, 100000, &a->chunks);
    case OPT_OVERLAP: return parse_int("--overlap", arg, 0, 100000, &a->overlap);
    case OPT_MPI: a->use_mpi = 1; return 1;
    case OPT_PROGRESS:
        if (!strcmp(arg, "auto")) a->pmode = PROGRESS_AUTO;
        else if (!strcmp(arg, "bar")) a->pmode = PROGRESS_BAR;
        else if (!strcmp(arg, "ndjson")) a->pmode = PROGRESS_NDJSON;
        else if (!strcmp(arg, "none")) a->pmode = PROGRESS_NONE;
        else {
            cli_error("--progress: '%s' is not auto, bar, ndjson or none", arg);
            return 0;
        }
        return 1;
    case OPT_MAX_DL:
        if (fathom_parse_bytes(arg, &rp->max_download_bytes) == FATHOM_OK) return 1;
        cli_error("--max-download-bytes: %s", fathom_last_error());
        return 0;
    case OPT_TIMEOUT: return parse_double("--timeout", arg, 0.001, 86400, &rp->download_timeout_s);
    case OPT_RETRIES: return parse_int("--retries", arg, 0, 100, &rp->download_retries);
    }
    return 0;
}

/* Refuse a --report path that cannot be written before anything (the -o folder) is made:
 * its folder must exist and be writable, or be the output folder (created by the run). */
static int check_report_path(const char *report, const char *outdir) {
    struct stat sb;
    if (stat(report, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        cli_error("--report %s: is a folder, not a file", report);
        return 0;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", report);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    if (stat(dir, &sb) != 0) {
        /* the output folder, not yet created: the run makes it ("./out/" == "out") */
        const char *a = dir, *b = outdir;
        while (!strncmp(a, "./", 2)) a += 2;
        while (!strncmp(b, "./", 2)) b += 2;
        size_t na = strlen(a), nb = strlen(b);
        while (na > 1 && a[na - 1] == '/') na--;
        while (nb > 1 && b[nb - 1] == '/') nb--;
        if (na == nb && !strncmp(a, b, na)) return 1;
        cli_error("--report %s: folder %s does not exist", report, dir);
        return 0;
    }
    if (!S_ISDIR(sb.st_mode) || access(dir, W_OK | X_OK) != 0) {
        cli_error("--report %s: cannot write in %s: %s", report, dir,
                  S_ISDIR(sb.st_mode) ? strerror(errno) : "not a folder");
        return 0;
    }
    return 1;
}

int run_parse_args(int argc, char **argv, run_args *a) {
    a->rp = fathom_run_default_params();
    a->mp = fathom_model_default_params();
    a->gp = fathom_governor_default_params();
    a->device_arg = "auto";
    a->pmode = PROGRESS_AUTO;
    a->overlap = -1; /* the library's default for the model (16; VDA: 32) */
    a->mpi_size = 1;
    if (fathom_video_opts_create(&a->vo) != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        return 2;
    }
    optind = 1;
    int c, li = -1;
    while ((c = cli_getopt(argc, argv, "o:m:rf:qvh", k_opts, &li)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == '?') return 2;
        const cli_engine_dest ed = {&a->precision, &a->threads, &a->offline, &a->mp, &a->gp,
                                    &a->use_governor};
        int g = cli_engine_flag(c, optarg, &ed);
        if (g == 0) return 2;
        if (g < 0 && !parse_run_opt(a, c, li >= 0 ? k_opts[li].name : "", optarg)) return 2;
        li = -1;
    }
    if (a->pmode == PROGRESS_NDJSON) cli_set_ndjson(1);
    cli_log_install(a->verbosity);
    if (a->resume && a->overwrite) {
        cli_error("--resume and --overwrite exclude each other");
        return 2;
    }
    a->rp.existing = a->resume ? FATHOM_EXISTING_RESUME
                     : a->overwrite ? FATHOM_EXISTING_OVERWRITE : FATHOM_EXISTING_ERROR;
    if (!a->rp.outdir) {
        cli_error("no output folder (-o OUTDIR; see fathom run --help)");
        return 2;
    }
    if (optind >= argc) {
        cli_error("no inputs (see fathom run --help)");
        return 2;
    }
    if (a->rp.report_path && !check_report_path(a->rp.report_path, a->rp.outdir)) return 2;
    return -1;
}

/* The library names fathom_governor_params fields; the user typed flags. */
static void flagify_governor(const char *msg, char *out, size_t cap) {
    static const char *const k[][2] = {
        {"target_util", "--target-util"}, {"max_util", "--max-util"},
        {"batch_min", "--batch-min"}, {"batch_max", "--batch-max"}, {"hz", "--governor-hz"},
        {"nice", "--nice"}, {"gpu_mem_fraction", "--gpu-mem-fraction"},
        {"gpu_mem_limit", "--gpu-mem-limit"}, {"gpu_power_limit_w", "--gpu-power-limit"}};
    size_t o = 0;
    for (const char *p = msg; *p && o + 1 < cap;) {
        size_t word = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
        const char *with = NULL;
        int at_start = p == msg || !strchr("abcdefghijklmnopqrstuvwxyz_-", p[-1]);
        for (size_t i = 0; at_start && word && i < sizeof k / sizeof k[0]; i++)
            if (strlen(k[i][0]) == word && !strncmp(p, k[i][0], word)) with = k[i][1];
        if (with) {
            int w = snprintf(out + o, cap - o, "%s", with);
            o = w > 0 && o + (size_t)w < cap ? o + (size_t)w : cap - 1;
            p += word;
        } else {
            size_t n = word ? word : 1;
            if (o + n >= cap) n = cap - 1 - o;
            memcpy(out + o, p, n);
            o += n;
            p += word ? word : 1;
        }
    }
    out[o] = '\0';
}

int run_start_governor(run_args *a, fathom_governor **gov) {
    fathom_run_params *rp = &a->rp;
    a->gp.slots = rp->n_devices;
    for (int i = 0; i < rp->n_devices; i++) {
        a->gp.device[i] = rp->devices[i].device;
        a->gp.device_index[i] = rp->devices[i].device_index;
    }
    if (fathom_governor_create(&a->gp, gov) != FATHOM_OK) {
        char msg[1024];
        flagify_governor(fathom_last_error(), msg, sizeof msg);
        cli_error("governor: %s", msg);
        return 0;
    }
    for (int i = 0; i < rp->n_devices; i++)
        if (rp->devices[i].device == FATHOM_DEVICE_CUDA)
            rp->devices[i].gpu_mem_limit = fathom_governor_gpu_mem_limit(*gov, i);
    rp->governor = *gov;
    return 1;
}

int run_parse_devices(run_args *a) {
    fathom_run_params *rp = &a->rp;
    if (!parse_device_list(a->device_arg, rp, a->threads, a->precision)) return 0;
    for (int i = 0; i < rp->n_devices; i++) rp->devices[i].weights = a->wformat; /* cpu and cuda */
    /* every engine CPU: they share the model's packed set, so its fp32 copy goes back */
    int all_cpu = 1;
    for (int i = 0; i < rp->n_devices; i++) all_cpu &= rp->devices[i].device == FATHOM_DEVICE_CPU;
    for (int i = 0; i < rp->n_devices; i++) rp->devices[i].release_fp32 = all_cpu;
    return 1;
}
