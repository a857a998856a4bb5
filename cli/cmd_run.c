/* cmd_run.c - `fathom run`: depth maps for images, folders, lists, stdin and URLs.
 *
 * Exit codes: 0 every input done (or skipped by --resume), 1 some items failed, 2 usage or
 * setup error (bad flags, model missing, an input named here missing or unreadable, output
 * folder not writable, disk full), 130 interrupted. See docs/pipeline.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "cluster/chunk_job.h"
#include "cluster/report_merge.h"
#include "cluster/shard.h"
#ifdef FATHOM_HAVE_MPI
#include "cluster/mpi_driver.h"
#endif
#include "core/log.h"
#include "commands.h"
#include "fathom.h"
#include "net/hub.h"
#include "pipeline/input_guard.h"
#include "pipeline/video_job.h"
#include "progress_tty.h"
#include "signals.h"

static void usage(FILE *f) {
    fprintf(f,
"usage: fathom run [options] -o OUTDIR INPUT...\n"
"INPUT: image files, folders, .txt lists (one path or URL per line), '-' (list on stdin),\n"
"       http(s) URLs.\n"
"  -o, --output DIR        output folder (created); OUTDIR/<relative path>/<stem>.<ext>\n"
"  -m, --model NAME|PATH   model folder/file or name (default: small, from the cache)\n"
"      --offline           never download a model\n"
"      --metric            treat the weights as a metric-depth model (sigmoid x max depth; for\n"
"                          official metric .pth files, which carry no config.json)\n"
"      --max-depth M       metric depth range in meters (default: config.json, else 20)\n"
"  -r, --recursive         walk sub-folders (hidden files and folders are skipped)\n"
"  -f, --format LIST       npy,npz,png16,png8,color,exr (default npy)\n"
"      --colormap NAME     spectral_r (default), inferno, turbo, gray\n"
"      --invert            near = dark in png/color outputs\n"
"      --input-size N      network lower bound (default 518)\n"
"      --max-pixels N      refuse larger images (default 178956970; 0 = no limit)\n"
"      --device LIST       cpu, cuda, cuda:N, auto, or a comma list (one engine each)\n"
"      --precision P       fp32, fp16 or bf16: CUDA GEMM inputs (default bf16 on CUDA; the CPU\n"
"                          engine is fp32 only and refuses fp16/bf16) (docs/cuda.md)\n"
"      --threads T         CPU threads per CPU engine (default: all cores)\n"
"      --batch N           largest inference batch (default 4)\n"
"      --batch-timeout S   longest wait for a full batch, seconds (default 0.05)\n"
"      --workers N         threads in the decode pool and in the write pool (default 2)\n"
"      --queue N           capacity of each queue between stages (default 4)\n"
"      --resume            skip inputs whose outputs all exist (as recorded in OUTDIR/.fathom-manifest)\n"
"      --overwrite         replace existing outputs fathom wrote for the same input (default: an\n"
"                          existing output fails its item; inputs and other files are never replaced)\n"
"      --fail-fast         stop taking input after the first failed item\n"
"      --mpi               under mpirun/srun: rank 0 hands out image batches and video chunks\n"
"                          to the other ranks, merges outputs and reports (docs/scale-out.md)\n"
"      --shard K/N         only the K-th of N deterministic shares of the inputs (job arrays;\n"
"                          merge the reports with `fathom report merge`) (docs/scale-out.md)\n"
"      --report FILE.json  per-item and per-stage report\n"
"      --progress MODE     auto (bar on a terminal), bar, ndjson (stderr), none\n"
"      --max-download-bytes N  per URL (e.g. 100M)   --timeout S  per attempt   --retries N\n"
"governor: --target-util P --max-util P --batch-min N --batch-max N --nice N\n"
"          --gpu-mem-limit BYTES --gpu-mem-fraction F --gpu-power-limit W\n"
"          --governor-hz HZ  sampler rate, 0.5..1000 (default 10)   (docs/governor.md)\n"
"video inputs (.mp4 .mkv .mov ..., stream URLs) run frame by frame, in order:\n"
"          --video FILE --video-codec C --crf N --pix-fmt F --video-color --start S --end S\n"
"          --max-frames N --max-res N --normalize ema|frame --ema-decay D --lookahead N\n"
"          --scene-cut T   --video-npz (all frames' raw depth in OUTDIR/<stem>.npz)\n"
"          --chunks N      split each video into N chunks by frame index, run them on the\n"
"                          --device engines at once (one worker each), merge into one output;\n"
"                          --resume redoes only unfinished chunks (docs/scale-out.md)\n"
"          --overlap K     frames recomputed before each chunk to align it (default 16)\n"
"          (docs/video.md)\n"
"exit codes: 0 done, 1 some items failed, 2 usage/setup error, 130 interrupted\n");
}

enum {
    OPT_COLORMAP = 1000, OPT_INVERT, OPT_INPUT_SIZE, OPT_MAX_PIXELS, OPT_DEVICE, OPT_THREADS,
    OPT_BATCH, OPT_BATCH_TIMEOUT, OPT_WORKERS, OPT_QUEUE, OPT_RESUME, OPT_OVERWRITE,
    OPT_FAIL_FAST, OPT_REPORT, OPT_PROGRESS, OPT_MAX_DL, OPT_TIMEOUT, OPT_RETRIES, OPT_OFFLINE,
    OPT_TARGET_UTIL, OPT_MAX_UTIL, OPT_BATCH_MIN, OPT_BATCH_MAX, OPT_NICE, OPT_GPU_MEM_LIMIT,
    OPT_GPU_MEM_FRACTION, OPT_GPU_POWER_LIMIT, OPT_GOVERNOR_HZ, OPT_VIDEO, OPT_PRECISION, OPT_METRIC, OPT_MAX_DEPTH,
    OPT_SHARD, OPT_CHUNKS, OPT_OVERLAP, OPT_MPI
};

static const struct option k_opts[] = {
    {"output", required_argument, 0, 'o'}, {"model", required_argument, 0, 'm'},
    {"recursive", no_argument, 0, 'r'}, {"format", required_argument, 0, 'f'},
    {"help", no_argument, 0, 'h'}, {"colormap", required_argument, 0, OPT_COLORMAP},
    {"invert", no_argument, 0, OPT_INVERT}, {"input-size", required_argument, 0, OPT_INPUT_SIZE},
    {"max-pixels", required_argument, 0, OPT_MAX_PIXELS},
    {"device", required_argument, 0, OPT_DEVICE}, {"precision", required_argument, 0, OPT_PRECISION},
    {"threads", required_argument, 0, OPT_THREADS},
    {"batch", required_argument, 0, OPT_BATCH},
    {"batch-timeout", required_argument, 0, OPT_BATCH_TIMEOUT},
    {"workers", required_argument, 0, OPT_WORKERS}, {"queue", required_argument, 0, OPT_QUEUE},
    {"resume", no_argument, 0, OPT_RESUME}, {"overwrite", no_argument, 0, OPT_OVERWRITE},
    {"fail-fast", no_argument, 0, OPT_FAIL_FAST}, {"shard", required_argument, 0, OPT_SHARD},
    {"chunks", required_argument, 0, OPT_CHUNKS}, {"overlap", required_argument, 0, OPT_OVERLAP},
    {"mpi", no_argument, 0, OPT_MPI}, {"report", required_argument, 0, OPT_REPORT},
    {"progress", required_argument, 0, OPT_PROGRESS},
    {"max-download-bytes", required_argument, 0, OPT_MAX_DL},
    {"timeout", required_argument, 0, OPT_TIMEOUT}, {"retries", required_argument, 0, OPT_RETRIES},
    {"offline", no_argument, 0, OPT_OFFLINE},
    {"metric", no_argument, 0, OPT_METRIC}, {"max-depth", required_argument, 0, OPT_MAX_DEPTH},
    {"target-util", required_argument, 0, OPT_TARGET_UTIL},
    {"max-util", required_argument, 0, OPT_MAX_UTIL},
    {"batch-min", required_argument, 0, OPT_BATCH_MIN},
    {"batch-max", required_argument, 0, OPT_BATCH_MAX}, {"nice", required_argument, 0, OPT_NICE},
    {"gpu-mem-limit", required_argument, 0, OPT_GPU_MEM_LIMIT},
    {"gpu-mem-fraction", required_argument, 0, OPT_GPU_MEM_FRACTION},
    {"gpu-power-limit", required_argument, 0, OPT_GPU_POWER_LIMIT},
    {"governor-hz", required_argument, 0, OPT_GOVERNOR_HZ},
    /* video flags: parsed by fathom_video_parse_flag (src/pipeline/video_opts.c) */
    {"video", required_argument, 0, OPT_VIDEO}, {"video-codec", required_argument, 0, OPT_VIDEO},
    {"crf", required_argument, 0, OPT_VIDEO}, {"pix-fmt", required_argument, 0, OPT_VIDEO},
    {"video-color", no_argument, 0, OPT_VIDEO}, {"start", required_argument, 0, OPT_VIDEO},
    {"end", required_argument, 0, OPT_VIDEO}, {"max-frames", required_argument, 0, OPT_VIDEO},
    {"max-res", required_argument, 0, OPT_VIDEO}, {"normalize", required_argument, 0, OPT_VIDEO},
    {"ema-decay", required_argument, 0, OPT_VIDEO}, {"lookahead", required_argument, 0, OPT_VIDEO},
    {"scene-cut", required_argument, 0, OPT_VIDEO}, {"video-npz", no_argument, 0, OPT_VIDEO},
    {0, 0, 0, 0}};

static int bad(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "fathom run: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 2;
}

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "fathom run: %s: '%s' is not an integer in %ld..%ld\n", flag, s, lo, hi);
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "fathom run: %s: '%s' is not a number in %g..%g\n", flag, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

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
            fprintf(stderr, "fathom run: --format: unknown format '%.*s' (npy, npz, png16, png8, "
                            "color, exr)\n", (int)n, p);
            return 0;
        }
        *out |= bit;
        p += n;
        if (*p) p++;
    }
    if (!*out) {
        fprintf(stderr, "fathom run: --format: empty list\n");
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
    fprintf(stderr, "fathom run: --colormap: unknown colormap '%s' (spectral_r, inferno, turbo, gray)\n", s);
    return 0;
}

static int parse_precision(const char *s, fathom_precision *out) {
    if (!strcasecmp(s, "fp32")) *out = FATHOM_PRECISION_FP32;
    else if (!strcasecmp(s, "fp16")) *out = FATHOM_PRECISION_FP16;
    else if (!strcasecmp(s, "bf16")) *out = FATHOM_PRECISION_BF16;
    else {
        fprintf(stderr, "fathom run: --precision: '%s' is not fp32, fp16 or bf16\n", s);
        return 0;
    }
    return 1;
}

/* "cpu", "cuda", "cuda:N", "auto", comma lists; every engine gets `precision`, which a CPU
 * engine (fp32 only) refuses unless it is fp32 or the default. */
static int parse_devices(const char *s, fathom_run_params *rp, int threads,
                         fathom_precision precision) {
    rp->n_devices = 0;
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[32];
        if (n == 0 || n >= sizeof one) goto bad;
        memcpy(one, p, n);
        one[n] = '\0';
        if (rp->n_devices == FATHOM_MAX_DEVICES) {
            fprintf(stderr, "fathom run: --device: more than %d devices\n", FATHOM_MAX_DEVICES);
            return 0;
        }
        fathom_engine_params ep = fathom_engine_default_params();
        ep.threads = threads;
        if (!strcasecmp(one, "cpu")) {
            ep.device = FATHOM_DEVICE_CPU;
        } else if (!strcasecmp(one, "auto")) {
            fathom_backend *be = NULL;
            if (fathom_backend_cuda_create(0, FATHOM_PRECISION_DEFAULT, 0, &be) == FATHOM_OK) {
                fathom_backend_free(&be);
                ep.device = FATHOM_DEVICE_CUDA;
            } else {
                fprintf(stderr, "fathom run: --device auto: no usable CUDA device (%s); using the CPU\n",
                        fathom_last_error());
                ep.device = FATHOM_DEVICE_CPU;
            }
        } else if (!strncasecmp(one, "cuda", 4) && (one[4] == '\0' || one[4] == ':')) {
            ep.device = FATHOM_DEVICE_CUDA;
            ep.device_index = 0;
            if (one[4] == ':' && !parse_int("--device", one + 5, 0, 255, &ep.device_index)) return 0;
        } else {
            goto bad;
        }
        ep.precision = precision;
        if (ep.device == FATHOM_DEVICE_CPU && precision != FATHOM_PRECISION_DEFAULT &&
            precision != FATHOM_PRECISION_FP32) {
            fprintf(stderr, "fathom run: --precision %s: the CPU engine computes in fp32 only "
                            "(use --precision fp32 or a CUDA device)\n",
                    precision == FATHOM_PRECISION_FP16 ? "fp16" : "bf16");
            return 0;
        }
        rp->devices[rp->n_devices++] = ep;
        p += n;
        if (*p) p++;
    }
    if (rp->n_devices > 0) return 1;
bad:
    fprintf(stderr, "fathom run: --device: '%s' is not cpu, cuda, cuda:N, auto or a comma list\n", s);
    return 0;
}

static void on_download(void *user, const char *file, int64_t done, int64_t total) {
    (void)user;
    if (total > 0)
        fprintf(stderr, "\rdownloading %s: %.1f / %.1f MB", file, done / 1e6, total / 1e6);
    else
        fprintf(stderr, "\rdownloading %s: %.1f MB", file, done / 1e6);
    if (total > 0 && done >= total) fputc('\n', stderr);
}

/* Library warnings (stale temporaries removed, streams dropped) reach the user on stderr. */
static void log_to_stderr(void *user, fathom_log_level level, const char *msg) {
    if (level < FATHOM_LOG_WARN) return;
    if (user && *(const progress_mode *)user == PROGRESS_NDJSON) { /* every line stays JSON */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", "warning");
        cJSON_AddStringToObject(o, "message", msg);
        char *j = cJSON_PrintUnformatted(o);
        if (j) fprintf(stderr, "%s\n", j);
        free(j);
        cJSON_Delete(o);
        return;
    }
    fprintf(stderr, "fathom run: %s\n", msg);
}

/* Run a created pipeline with Ctrl-C wired to it; returns the exit code. */
static int run_pipeline(fathom_pipeline *pl, progress_out *po, fathom_run_stats *stats) {
    if (signals_cancelled()) return 130;
    signals_set_pipeline(pl);
    fathom_status st = fathom_pipeline_run(pl, stats);
    signals_set_pipeline(NULL);
    progress_finish(po, stats);
    const int64_t *ig = stats->ignored; /* folder entries not taken: say so (not in ndjson) */
    if (po->mode != PROGRESS_NDJSON && ig[0] + ig[1] + ig[2] > 0)
        fprintf(stderr, "fathom run: not taken from input folders: %lld not images, %lld special "
                "files (FIFO, socket, device), %lld sub-folders (-r walks them; symlinks never)\n",
                (long long)ig[0], (long long)ig[1], (long long)ig[2]);
    if (stats->fatal != FATHOM_OK) {
        fprintf(stderr, "fathom run: %s\n", stats->fatal_msg);
        return 2;
    }
    if (st == FATHOM_ERR_INTERRUPTED || stats->cancelled) {
        fprintf(stderr, "fathom run: interrupted: %lld of %lld taken inputs finished, input not "
                        "read further\n", (long long)stats->finished, (long long)stats->taken);
        return 130;
    }
    if (st != FATHOM_OK) {
        fprintf(stderr, "fathom run: %s\n", fathom_last_error());
        return 2;
    }
    return stats->failed ? 1 : 0;
}

static int run_images(const fathom_model *model, const fathom_run_params *rp, progress_out *po) {
    fathom_pipeline *pl = NULL;
    if (fathom_pipeline_create(model, rp, &pl) != FATHOM_OK) {
        fprintf(stderr, "fathom run: %s\n", fathom_last_error());
        return 2;
    }
    fathom_run_stats stats;
    int rc = run_pipeline(pl, po, &stats);
    fathom_pipeline_free(&pl);
    return rc;
}

/* --chunks: one video as chunks on the --device engines, merged (cluster/chunk_job.h). */
static int run_video_chunked(const fathom_model *model, const fathom_run_params *rp,
                             const char *input, const fathom_video_run_opts *vo, int chunks,
                             int overlap, int resume) {
    if (signals_cancelled()) return 130;
    fathom_chunk_run_opts co = {chunks, overlap, resume, signals_cancel_flag()};
    fathom_chunk_run_result res;
    fathom_status st = fathom_chunked_video_run(model, rp, input, vo, &co, &res);
    if (st != FATHOM_OK) {
        fprintf(stderr, "fathom run: %s\n", fathom_last_error());
        return st == FATHOM_ERR_INTERRUPTED ? 130 : res.chunks > 0 ? 1 : 2;
    }
    fprintf(stderr, "%s: %lld frames in %d chunks (%d run now, %d from an earlier run, %d retried)\n",
            input, (long long)res.frames, res.chunks, res.ran, res.reused, res.retried);
    for (int i = 0; i < 3; i++)
        if (res.outputs[i][0]) fprintf(stderr, "  %s\n", res.outputs[i]);
    return 0;
}

/* --mpi with several ranks: rank 0 plans, hands out the chunks and merges (mpi_driver.h). */
static int run_video_mpi(const fathom_model *model, const fathom_run_params *rp, const char *input,
                         const fathom_video_run_opts *vo, int chunks, int overlap, int resume,
                         int rank) {
#ifdef FATHOM_HAVE_MPI
    fathom_chunk_run_opts co = {chunks, overlap, resume, signals_cancel_flag()};
    fathom_chunk_run_result res;
    fathom_status st = fathom_mpi_run_video(model, rp, input, vo, &co, &res);
    int rc = 0;
    if (rank == 0 && st != FATHOM_OK) {
        fprintf(stderr, "fathom run: %s\n", fathom_last_error());
        rc = st == FATHOM_ERR_INTERRUPTED ? 130 : res.chunks > 0 ? 1 : 2;
    } else if (rank == 0) {
        fprintf(stderr, "%s: %lld frames in %d chunks over the ranks (%d run now, %d from an "
                "earlier run, %d retried)\n", input, (long long)res.frames, res.chunks, res.ran,
                res.reused, res.retried);
        for (int i = 0; i < 3; i++)
            if (res.outputs[i][0]) fprintf(stderr, "  %s\n", res.outputs[i]);
    }
    fathom_mpi_share_int(&rc); /* rank 0 knows how the video ended: every rank goes on alike */
    return rc;
#else
    (void)model, (void)rp, (void)input, (void)vo, (void)chunks, (void)overlap, (void)resume, (void)rank;
    return 2;
#endif
}

static int run_video(const fathom_model *model, const fathom_run_params *rp, progress_out *po,
                     const char *input, const fathom_video_run_opts *vo) {
    fathom_video_job *job = NULL;
    fathom_pipeline *pl = NULL;
    if (fathom_video_job_create(model, rp, input, vo, &job, &pl) != FATHOM_OK) {
        fprintf(stderr, "fathom run: %s\n", fathom_last_error());
        return 2;
    }
    fathom_run_stats stats;
    int rc = run_pipeline(pl, po, &stats);
    fathom_pipeline_free(&pl); /* finishes the job's outputs */
    char summary[1024];
    fathom_video_job_summary(job, summary, sizeof summary);
    fprintf(stderr, "%s", summary);
    if (summary[0] && summary[strlen(summary) - 1] != '\n') fputc('\n', stderr);
    fathom_video_job_release(&job);
    return rc;
}

int cmd_run(int argc, char **argv) {
    fathom_run_params rp = fathom_run_default_params();
    fathom_model_params mp = fathom_model_default_params(); /* --metric / --max-depth */
    fathom_governor_params gp = fathom_governor_default_params();
    int use_governor = 0, threads = 0, resume = 0, overwrite = 0, offline = 0;
    int chunks = 0, overlap = 16; /* --chunks: videos in chunks (src/cluster) */
    int use_mpi = 0, mpi_rank = 0, mpi_size = 1; /* --mpi */
#ifdef FATHOM_HAVE_MPI
    int mpi_started = 0;
#endif
    const char *model_arg = NULL, *device_arg = "cpu";
    fathom_precision precision = FATHOM_PRECISION_DEFAULT;
    progress_mode pmode = PROGRESS_AUTO;
    double d;
    int v;
    fathom_video_run_opts vo;
    fathom_video_run_default_opts(&vo);
    optind = 1;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, "o:m:rf:h", k_opts, &li)) != -1) {
        switch (c) {
        case OPT_VIDEO:
            if (fathom_video_parse_flag(&vo, k_opts[li].name, optarg) != 1)
                return bad("%s%s", fathom_last_error(), ""); /* names the flag */
            break;
        case 'o': rp.outdir = optarg; break;
        case 'm': model_arg = optarg; break;
        case 'r': rp.recursive = 1; break;
        case 'f': /* for videos: frame sequences, only when asked (docs/video.md) */
            if (!parse_formats(optarg, &rp.formats)) return 2;
            vo.seq_formats = rp.formats;
            break;
        case 'h': usage(stdout); return 0;
        case OPT_COLORMAP: if (!parse_colormap(optarg, &rp.write.colormap)) return 2; break;
        case OPT_INVERT: rp.write.invert = 1; break;
        case OPT_INPUT_SIZE:
            if (!parse_int("--input-size", optarg, 14, 8192, &rp.input_size)) return 2;
            break;
        case OPT_MAX_PIXELS:
            if (!parse_double("--max-pixels", optarg, 0, 1e15, &d)) return 2;
            rp.max_pixels = (uint64_t)d;
            break;
        case OPT_DEVICE: device_arg = optarg; break;
        case OPT_PRECISION: if (!parse_precision(optarg, &precision)) return 2; break;
        case OPT_THREADS: if (!parse_int("--threads", optarg, 1, 4096, &threads)) return 2; break;
        case OPT_BATCH: if (!parse_int("--batch", optarg, 1, 256, &rp.batch)) return 2; break;
        case OPT_BATCH_TIMEOUT:
            if (!parse_double("--batch-timeout", optarg, 0, 60, &rp.batch_timeout_s)) return 2;
            break;
        case OPT_WORKERS: if (!parse_int("--workers", optarg, 1, 256, &rp.workers)) return 2; break;
        case OPT_QUEUE: if (!parse_int("--queue", optarg, 1, 4096, &rp.queue)) return 2; break;
        case OPT_RESUME: resume = 1; break;
        case OPT_OVERWRITE: overwrite = 1; break;
        case OPT_FAIL_FAST: rp.fail_fast = 1; break;
        case OPT_MPI: use_mpi = 1; break;
        case OPT_CHUNKS: if (!parse_int("--chunks", optarg, 1, 100000, &chunks)) return 2; break;
        case OPT_OVERLAP: if (!parse_int("--overlap", optarg, 0, 100000, &overlap)) return 2; break;
        case OPT_SHARD:
            if (fathom_shard_parse(optarg, &rp.shard_index, &rp.shard_count) != FATHOM_OK)
                return bad("%s%s", fathom_last_error(), "");
            break;
        case OPT_REPORT: rp.report_path = optarg; break;
        case OPT_PROGRESS:
            if (!strcmp(optarg, "auto")) pmode = PROGRESS_AUTO;
            else if (!strcmp(optarg, "bar")) pmode = PROGRESS_BAR;
            else if (!strcmp(optarg, "ndjson")) pmode = PROGRESS_NDJSON;
            else if (!strcmp(optarg, "none")) pmode = PROGRESS_NONE;
            else return bad("--progress: '%s' is not auto, bar, ndjson or none%s", optarg, "");
            break;
        case OPT_MAX_DL:
            if (fathom_parse_bytes(optarg, &rp.max_download_bytes) != FATHOM_OK)
                return bad("--max-download-bytes: %s%s", fathom_last_error(), "");
            break;
        case OPT_TIMEOUT:
            if (!parse_double("--timeout", optarg, 0.001, 86400, &rp.download_timeout_s)) return 2;
            break;
        case OPT_RETRIES: if (!parse_int("--retries", optarg, 0, 100, &rp.download_retries)) return 2; break;
        case OPT_OFFLINE: offline = 1; break;
        case OPT_METRIC: mp.metric = 1; break;
        case OPT_MAX_DEPTH: {
            double d;
            if (!parse_double("--max-depth", optarg, 1e-6, 1e9, &d)) return 2;
            mp.max_depth = (float)d;
            break;
        }
        case OPT_TARGET_UTIL:
            if (!parse_double("--target-util", optarg, 1, 99.999, &gp.target_util)) return 2;
            use_governor = 1;
            break;
        case OPT_MAX_UTIL:
            if (!parse_double("--max-util", optarg, 1, 100, &gp.max_util)) return 2;
            use_governor = 1;
            break;
        case OPT_BATCH_MIN:
            if (!parse_int("--batch-min", optarg, 1, 256, &gp.batch_min)) return 2;
            use_governor = 1;
            break;
        case OPT_BATCH_MAX:
            if (!parse_int("--batch-max", optarg, 1, 256, &gp.batch_max)) return 2;
            use_governor = 1;
            break;
        case OPT_NICE:
            if (!parse_int("--nice", optarg, -20, 19, &v)) return 2;
            gp.nice = v;
            use_governor = 1;
            break;
        case OPT_GPU_MEM_LIMIT:
            if (fathom_parse_bytes(optarg, &gp.gpu_mem_limit) != FATHOM_OK)
                return bad("--gpu-mem-limit: %s%s", fathom_last_error(), "");
            use_governor = 1;
            break;
        case OPT_GPU_MEM_FRACTION:
            if (!parse_double("--gpu-mem-fraction", optarg, 0.001, 1, &gp.gpu_mem_fraction)) return 2;
            use_governor = 1;
            break;
        case OPT_GPU_POWER_LIMIT:
            if (!parse_double("--gpu-power-limit", optarg, 1, 10000, &gp.gpu_power_limit_w)) return 2;
            use_governor = 1;
            break;
        case OPT_GOVERNOR_HZ: /* the same range the governor validates */
            if (!parse_double("--governor-hz", optarg, 0.5, 1000, &gp.hz)) return 2;
            use_governor = 1;
            break;
        default: usage(stderr); return 2;
        }
    }
    if (resume && overwrite) return bad("--resume and --overwrite exclude each other%s%s", "", "");
    rp.existing = resume ? FATHOM_EXISTING_RESUME : overwrite ? FATHOM_EXISTING_OVERWRITE
                                                           : FATHOM_EXISTING_ERROR;
    if (!rp.outdir) {
        fprintf(stderr, "fathom run: no output folder (-o OUTDIR)\n");
        usage(stderr);
        return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "fathom run: no inputs\n");
        usage(stderr);
        return 2;
    }
    if (!parse_devices(device_arg, &rp, threads, precision)) return 2;
    if (use_mpi) {
#ifdef FATHOM_HAVE_MPI
        if (fathom_mpi_init(NULL, NULL, &mpi_rank, &mpi_size) != FATHOM_OK)
            return bad("%s%s", fathom_last_error(), "");
        if (mpi_size > 1 && chunks == 0) chunks = 2 * (mpi_size - 1); /* videos: chunks to share */
#else
        return bad("--mpi: this fathom was built without MPI (CMake FATHOM_MPI; Open MPI: "
                   "scripts/install-deps.sh)%s%s", "", "");
#endif
    }
    /* videos run one by one as ordered jobs; everything else goes through one image run */
    int n_in = argc - optind, n_img = 0, n_vid = 0;
    const char **imgs = calloc((size_t)n_in, sizeof *imgs);
    const char **vids = calloc((size_t)n_in, sizeof *vids);
    if (!imgs || !vids) {
        free(imgs);
        free(vids);
        fprintf(stderr, "fathom run: out of memory\n");
        return 2;
    }
    for (int i = optind, vpos = 0; i < argc; i++) {
        if (!fathom_video_is_input(argv[i])) imgs[n_img++] = argv[i];
        else if (fathom_shard_takes((uint64_t)vpos++, rp.shard_index, rp.shard_count))
            vids[n_vid++] = argv[i]; /* --shard: videos by their position among the videos */
    }
    rp.inputs = imgs;
    rp.n_inputs = n_img;
    rp.stdin_list = stdin;

    signals_install();
    fathom_log_set_sink(log_to_stderr, &pmode);
    int rc = 2;
    fathom_model *model = NULL;
    fathom_governor *gov = NULL;
    char model_path[4096];
    fathom_resolve_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.offline = offline;
    ro.cancel = signals_cancel_flag();
    if (isatty(2)) ro.progress = on_download;
    if (fathom_model_resolve(model_arg, &ro, model_path, sizeof model_path) != FATHOM_OK) {
        fprintf(stderr, "fathom run: model: %s\n", fathom_last_error());
        goto out;
    }
    if (fathom_model_load(model_path, &mp, &model) != FATHOM_OK) {
        fprintf(stderr, "fathom run: model: %s\n", fathom_last_error());
        goto out;
    }
    rp.argc = argc, rp.argv = (const char *const *)argv, rp.model_path = model_path; /* report */
    if (use_governor) {
        gp.slots = rp.n_devices;
        for (int i = 0; i < rp.n_devices; i++) {
            gp.device[i] = rp.devices[i].device;
            gp.device_index[i] = rp.devices[i].device_index;
        }
        if (fathom_governor_create(&gp, &gov) != FATHOM_OK) {
            fprintf(stderr, "fathom run: governor: %s\n", fathom_last_error());
            goto out;
        }
        for (int i = 0; i < rp.n_devices; i++)
            if (rp.devices[i].device == FATHOM_DEVICE_CUDA)
                rp.devices[i].gpu_mem_limit = fathom_governor_gpu_mem_limit(gov, i);
        rp.governor = gov;
    }
    progress_out po;
    progress_init(&po, pmode);
    progress_attach(&po, &rp);
    if (po.mode == PROGRESS_NDJSON) rp.stats_interval_s = 1.0; /* a line a second is plenty */
    if (vo.video_path) { /* --video FILE never replaces an input (as given or under OUTDIR) */
        char under[4096];
        snprintf(under, sizeof under, "%s/%s", rp.outdir, vo.video_path);
        const char *const *all = (const char *const *)argv + optind;
        if (fathom_path_is_input(vo.video_path, all, argc - optind) ||
            (vo.video_path[0] != '/' && fathom_path_is_input(under, all, argc - optind))) {
            fprintf(stderr, "fathom run: --video %s is an input of this run; choose another "
                            "output name\n", vo.video_path);
            goto out; /* rc is 2 */
        }
    }
    rc = 0;
#ifdef FATHOM_HAVE_MPI
    mpi_started = 1;
    char rank_report[4200];
    fathom_mpi_images mst;
    if (mpi_size > 1 && n_img > 0) { /* rank 0 hands out batches, the others run them */
        if (mpi_rank == 0) {
            rc = fathom_mpi_images_serve(mpi_size);
            if (rp.report_path) { /* one report from the workers' */
                char(*paths)[4200] = calloc((size_t)mpi_size, sizeof *paths);
                const char **pp = calloc((size_t)mpi_size, sizeof *pp);
                for (int r = 1; paths && pp && r < mpi_size; r++) {
                    snprintf(paths[r], sizeof paths[r], "%s.rank%d.json", rp.report_path, r);
                    pp[r - 1] = paths[r];
                }
                if (!paths || !pp || fathom_report_merge(pp, mpi_size - 1, rp.report_path, NULL) !=
                                         FATHOM_OK) {
                    fprintf(stderr, "fathom run: %s\n", paths && pp ? fathom_last_error()
                                                                  : "out of memory");
                    if (rc < 2) rc = 2;
                }
                free(pp);
                free(paths);
            }
        } else {
            fathom_run_params wp = rp;
            fathom_mpi_images_worker_init(&mst, rp.batch);
            wp.take = fathom_mpi_images_take, wp.take_user = &mst;
            if (rp.report_path) {
                snprintf(rank_report, sizeof rank_report, "%s.rank%d.json", rp.report_path, mpi_rank);
                wp.report_path = rank_report;
            }
            rc = run_images(model, &wp, &po);
            fathom_mpi_images_worker_done(rc);
        }
        n_img = 0;
        fathom_mpi_share_int(&rc); /* every rank goes on to the videos, or none does */
    }
#endif
    if (n_img > 0) rc = run_images(model, &rp, &po);
    for (int i = 0; i < n_vid && rc != 2 && rc != 130; i++) {
        /* one report per run: with several runs, video k's is FILE.<video stem>.json */
        char rpath[4096];
        fathom_run_params vp = rp;
        if (rp.report_path && n_img + n_vid > 1) {
            const char *b = strrchr(vids[i], '/');
            b = b ? b + 1 : vids[i];
            size_t stem = strcspn(b, ".");
            size_t base = strlen(rp.report_path);
            if (base > 5 && !strcmp(rp.report_path + base - 5, ".json")) base -= 5;
            snprintf(rpath, sizeof rpath, "%.*s.%.*s.json", (int)base, rp.report_path, (int)stem, b);
            vp.report_path = rpath;
        }
        int r = mpi_size > 1 ? run_video_mpi(model, &vp, vids[i], &vo, chunks, overlap, resume, mpi_rank)
                : chunks > 0 ? run_video_chunked(model, &vp, vids[i], &vo, chunks, overlap, resume)
                             : run_video(model, &vp, &po, vids[i], &vo);
        if (r > rc) rc = r; /* 130 > 2 > 1 > 0: the worst outcome decides */
    }
out:
#ifdef FATHOM_HAVE_MPI
    /* a rank that stops before the shared part would leave the others waiting: end them all */
    if (mpi_size > 1 && rc == 2 && !mpi_started) fathom_mpi_abort(2);
    if (use_mpi) fathom_mpi_finalize();
#endif
    fathom_log_set_sink(NULL, NULL); /* it points at pmode */
    if (rc == 2 && signals_cancelled()) rc = 130;
    fathom_governor_free(&gov);
    fathom_model_free(&model);
    free(imgs);
    free(vids);
    return rc;
}
