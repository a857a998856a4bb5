/* cmd_serve.c - `fathom serve`: the live depth worker (docs/serve.md).
 *
 * Settings come from, in order: built-in defaults, the YAML config file (written with defaults
 * and comments when missing), then the command-line flags; SIGHUP reloads the file and puts the
 * flags back on top. Exit codes: 0 clean stop (SIGINT/SIGTERM), 2 usage or setup error. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "commands.h"
#include "fathom.h"

static void usage(FILE *f) {
    fprintf(f,
"usage: fathom serve [options]\n"
"A long-running depth worker: live video in, depth out over HTTP/WebSocket (docs/serve.md).\n"
"  -m, --model NAME|PATH   model folder/file or name (default: small, from the cache)\n"
"      --offline           never download a model\n"
"      --metric --max-depth M  as fathom run\n"
"      --source SRC        file, URL (udp://, rtsp://, rtmp://, http://, srt://) or /dev/videoN;\n"
"                          without it only POST /v1/depth is served\n"
"      --realtime          play files at their own frame rate (default: as fast as possible)\n"
"      --loop              start files again at their end\n"
"      --listen HOST:PORT  default 127.0.0.1:8080; port 0 picks a free port. The first stdout\n"
"                          line is 'listening on http://HOST:PORT/'\n"
"      --token T           required on every request (Authorization: Bearer T or ?token=T);\n"
"                          mandatory off loopback: generated and printed when not given\n"
"      --config FILE       YAML settings (default $XDG_CONFIG_HOME/fathom/serve.yaml, written\n"
"                          with defaults and comments when missing; reloaded on SIGHUP)\n"
"      --no-config         use no config file\n"
"      --colormap NAME     spectral_r (default), inferno, turbo, gray\n"
"      --invert            near = dark in MJPEG and color outputs\n"
"      --input-size N      network lower bound (default 518)\n"
"      --max-res N         longest side of source frames (default 640)\n"
"      --max-clients N     streaming clients at once (default 64)\n"
"      --max-body BYTES    largest POST body (default 32M)\n"
"      --client-queue N    frames queued per streaming client (default 2)\n"
"      --record FILE       record the depth to a video: .mkv lossless FFV1 16-bit grey, .mp4\n"
"                          H.264; finalized on SIGINT/SIGTERM or when switched off live\n"
"      --output-url URL    publish the colorized depth live (udp://, srt:// as MPEG-TS,\n"
"                          rtmp:// as FLV, or a file) with libx264\n"
"      --device D          cpu, cuda, cuda:N or auto   --precision fp32|fp16|bf16\n"
"      --threads T         CPU threads of the engine (default: all cores)\n"
"governor: --target-util P --max-util P --nice N --gpu-mem-limit BYTES --gpu-mem-fraction F\n"
"          --gpu-power-limit W --governor-hz HZ   (as fathom run; docs/governor.md)\n"
"endpoints: GET / (viewer), GET /v1/stream (WebSocket), GET /v1/mjpeg, POST /v1/depth,\n"
"           GET|PATCH /v1/config, GET /v1/status, GET /metrics\n"
"exit codes: 0 stopped by SIGINT/SIGTERM, 2 usage/setup error\n");
}

enum {
    O_SOURCE = 1000, O_LISTEN, O_TOKEN, O_CONFIG, O_NO_CONFIG, O_REALTIME, O_LOOP, O_SET,
    O_DEVICE, O_PRECISION, O_THREADS, O_OFFLINE, O_METRIC, O_MAX_DEPTH, O_TARGET_UTIL,
    O_MAX_UTIL, O_NICE, O_GPU_MEM_LIMIT, O_GPU_MEM_FRACTION, O_GPU_POWER_LIMIT, O_GOVERNOR_HZ,
    O_BATCH_IGNORED
};

/* Flags that are plain settings: their config key. */
static const struct { const char *flag, *key; } k_setting_flags[] = {
    {"colormap", "colormap"}, {"input-size", "input_size"}, {"max-res", "max_res"},
    {"max-clients", "max_clients"}, {"max-body", "max_body"}, {"client-queue", "client_queue"},
    {"jpeg-quality", "jpeg_quality"}, {"record", "record"}, {"output-url", "output_url"}};

static const struct option k_opts[] = {
    {"model", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'},
    {"source", required_argument, 0, O_SOURCE}, {"listen", required_argument, 0, O_LISTEN},
    {"token", required_argument, 0, O_TOKEN}, {"config", required_argument, 0, O_CONFIG},
    {"no-config", no_argument, 0, O_NO_CONFIG}, {"realtime", no_argument, 0, O_REALTIME},
    {"loop", no_argument, 0, O_LOOP}, {"invert", no_argument, 0, O_SET},
    {"colormap", required_argument, 0, O_SET}, {"input-size", required_argument, 0, O_SET},
    {"max-res", required_argument, 0, O_SET}, {"max-clients", required_argument, 0, O_SET},
    {"max-body", required_argument, 0, O_SET}, {"client-queue", required_argument, 0, O_SET},
    {"jpeg-quality", required_argument, 0, O_SET}, {"record", required_argument, 0, O_SET},
    {"output-url", required_argument, 0, O_SET},
    {"device", required_argument, 0, O_DEVICE}, {"precision", required_argument, 0, O_PRECISION},
    {"threads", required_argument, 0, O_THREADS}, {"offline", no_argument, 0, O_OFFLINE},
    {"metric", no_argument, 0, O_METRIC}, {"max-depth", required_argument, 0, O_MAX_DEPTH},
    {"target-util", required_argument, 0, O_TARGET_UTIL},
    {"max-util", required_argument, 0, O_MAX_UTIL}, {"nice", required_argument, 0, O_NICE},
    {"gpu-mem-limit", required_argument, 0, O_GPU_MEM_LIMIT},
    {"gpu-mem-fraction", required_argument, 0, O_GPU_MEM_FRACTION},
    {"gpu-power-limit", required_argument, 0, O_GPU_POWER_LIMIT},
    {"governor-hz", required_argument, 0, O_GOVERNOR_HZ},
    {"batch-min", required_argument, 0, O_BATCH_IGNORED},
    {"batch-max", required_argument, 0, O_BATCH_IGNORED},
    {0, 0, 0, 0}};

static volatile sig_atomic_t g_stop, g_hup;

static void on_signal(int sig) {
    if (sig == SIGHUP) {
        g_hup = 1;
        return;
    }
    if (g_stop) _exit(130); /* second Ctrl-C: at once */
    g_stop = 1;
}

/* Structured log lines on stderr: one JSON object each. */
static void log_json(void *user, fathom_log_level level, const char *msg) {
    (void)user;
    cJSON *o = cJSON_CreateObject();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cJSON_AddNumberToObject(o, "ts", (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    cJSON_AddStringToObject(o, "level", level == FATHOM_LOG_WARN ? "warn" : level == FATHOM_LOG_INFO ? "info" : "debug");
    cJSON_AddStringToObject(o, "msg", msg);
    char *j = cJSON_PrintUnformatted(o);
    if (j) fprintf(stderr, "%s\n", j);
    free(j);
    cJSON_Delete(o);
}

/* The CLI's own log lines, in the same JSON form as the library's. */
static void note(fathom_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(fathom_log_level level, const char *fmt, ...) {
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_json(NULL, level, msg);
}

static int num(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "fathom serve: %s: '%s' is not a number in %g..%g\n", flag, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

typedef struct override {
    const char *key, *value;
} override;

/* defaults + file (when path) + flags. Returns the settings (the caller frees them with
 * fathom_serve_config_free), or NULL with a message printed. */
static fathom_serve_config *build_config(const char *path, const override *ov, int n_ov) {
    fathom_serve_config *c = NULL; /* returned */
    if (fathom_serve_config_new(&c) != FATHOM_OK) {
        fprintf(stderr, "fathom serve: %s\n", fathom_last_error());
        return NULL;
    }
    if (path) {
        FILE *f = fopen(path, "rb");
        if (f) {
            char *text = NULL;
            size_t n = 0, cap = 0;
            for (;;) {
                if (n + 4096 > cap) {
                    char *g = realloc(text, cap = cap * 2 + 4096);
                    if (!g) break;
                    text = g;
                }
                size_t k = fread(text + n, 1, cap - n, f);
                n += k;
                if (k == 0) break;
            }
            fclose(f);
            fathom_status st = text ? fathom_serve_config_load_yaml(c, text, n) : FATHOM_ERR_NOMEM;
            free(text);
            if (st != FATHOM_OK) {
                fprintf(stderr, "fathom serve: config %s: %s\n", path, text ? fathom_last_error() : "out of memory");
                fathom_serve_config_free(&c);
                return NULL;
            }
        } else if (errno == ENOENT) { /* first run: write the defaults with comments */
            char dir[4096];
            snprintf(dir, sizeof dir, "%s", path);
            for (char *p = dir + 1; *p; p++)
                if (*p == '/') {
                    *p = '\0';
                    mkdir(dir, 0755);
                    *p = '/';
                }
            char *y = fathom_serve_config_yaml(c);
            FILE *w = y ? fopen(path, "wx") : NULL;
            if (w) {
                fputs(y, w);
                if (fclose(w) == 0) fprintf(stderr, "fathom serve: wrote default settings to %s\n", path);
            } else {
                fprintf(stderr, "fathom serve: config %s: cannot write: %s\n", path, strerror(errno));
            }
            free(y);
        } else {
            fprintf(stderr, "fathom serve: config %s: %s\n", path, strerror(errno));
            fathom_serve_config_free(&c);
            return NULL;
        }
    }
    for (int i = 0; i < n_ov; i++)
        if (fathom_serve_config_set(c, ov[i].key, ov[i].value) != FATHOM_OK) {
            fprintf(stderr, "fathom serve: %s\n", fathom_last_error());
            fathom_serve_config_free(&c);
            return NULL;
        }
    return c;
}

static int parse_listen(const char *s, fathom_serve_params *p) {
    const char *colon = strrchr(s, ':');
    if (!colon) goto bad;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') h = s + 1, hl -= 2; /* [::1]:8080 */
    if (hl == 0 || hl >= sizeof p->host) goto bad;
    memcpy(p->host, h, hl);
    p->host[hl] = '\0';
    double port;
    char *end;
    port = strtod(colon + 1, &end);
    if (end == colon + 1 || *end || port < 0 || port > 65535 || port != (int)port) goto bad;
    p->port = (int)port;
    return 1;
bad:
    fprintf(stderr, "fathom serve: --listen: '%s' is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:0)\n", s);
    return 0;
}

int cmd_serve(int argc, char **argv) {
    fathom_serve_params p = fathom_serve_default_params();
    fathom_model_params mp = fathom_model_default_params();
    const char *model_arg = NULL, *config_path = NULL, *device = "cpu", *prec = NULL;
    int no_config = 0, offline = 0;
    override ov[64];
    int n_ov = 0;
    double d;
    int c, li = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", k_opts, &li)) != -1) {
        if (n_ov >= 60) {
            fprintf(stderr, "fathom serve: too many flags\n");
            return 2;
        }
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 'h': usage(stdout); return 0;
        case O_SOURCE: ov[n_ov++] = (override){"source", optarg}; break;
        case O_LISTEN: if (!parse_listen(optarg, &p)) return 2; break;
        case O_TOKEN:
            if (!*optarg || strlen(optarg) >= sizeof p.token) {
                fprintf(stderr, "fathom serve: --token: 1..%zu characters\n", sizeof p.token - 1);
                return 2;
            }
            snprintf(p.token, sizeof p.token, "%s", optarg);
            break;
        case O_CONFIG: config_path = optarg; break;
        case O_NO_CONFIG: no_config = 1; break;
        case O_REALTIME: ov[n_ov++] = (override){"realtime", "true"}; break;
        case O_LOOP: ov[n_ov++] = (override){"loop", "true"}; break;
        case O_SET:
            if (!strcmp(k_opts[li].name, "invert")) {
                ov[n_ov++] = (override){"invert", "true"};
                break;
            }
            for (size_t i = 0; i < sizeof k_setting_flags / sizeof k_setting_flags[0]; i++)
                if (!strcmp(k_opts[li].name, k_setting_flags[i].flag))
                    ov[n_ov++] = (override){k_setting_flags[i].key, optarg};
            break;
        case O_DEVICE: device = optarg; break;
        case O_PRECISION: prec = optarg; break;
        case O_THREADS:
            if (!num("--threads", optarg, 1, 4096, &d)) return 2;
            p.engine.threads = (int)d;
            break;
        case O_OFFLINE: offline = 1; break;
        case O_METRIC: mp.metric = 1; break;
        case O_MAX_DEPTH:
            if (!num("--max-depth", optarg, 1e-6, 1e9, &d)) return 2;
            mp.max_depth = (float)d;
            break;
        case O_TARGET_UTIL: ov[n_ov++] = (override){"target_util", optarg}; break;
        case O_MAX_UTIL:
            if (!num("--max-util", optarg, 1, 100, &p.governor.max_util)) return 2;
            p.use_governor = 1;
            break;
        case O_NICE:
            if (!num("--nice", optarg, -20, 19, &d)) return 2;
            p.governor.nice = (int)d;
            p.use_governor = 1;
            break;
        case O_GPU_MEM_LIMIT:
            if (fathom_parse_bytes(optarg, &p.governor.gpu_mem_limit) != FATHOM_OK) {
                fprintf(stderr, "fathom serve: --gpu-mem-limit: %s\n", fathom_last_error());
                return 2;
            }
            p.use_governor = 1;
            break;
        case O_GPU_MEM_FRACTION:
            if (!num("--gpu-mem-fraction", optarg, 0.001, 1, &p.governor.gpu_mem_fraction)) return 2;
            p.use_governor = 1;
            break;
        case O_GPU_POWER_LIMIT:
            if (!num("--gpu-power-limit", optarg, 1, 10000, &p.governor.gpu_power_limit_w)) return 2;
            p.use_governor = 1;
            break;
        case O_GOVERNOR_HZ:
            if (!num("--governor-hz", optarg, 0.5, 1000, &p.governor.hz)) return 2;
            p.use_governor = 1;
            break;
        case O_BATCH_IGNORED: break; /* serve runs one frame at a time (latency first) */
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fathom serve: unexpected argument '%s' (the source is --source SRC)\n", argv[optind]);
        return 2;
    }
    /* device and precision, as fathom run (one engine) */
    if (!strcasecmp(device, "cpu")) {
        p.engine.device = FATHOM_DEVICE_CPU;
    } else if (!strcasecmp(device, "auto")) {
        fathom_engine_params a = fathom_device_auto(NULL);
        p.engine.device = a.device;
        p.engine.device_index = a.device_index;
    } else if (!strncasecmp(device, "cuda", 4) && (device[4] == '\0' || device[4] == ':')) {
        p.engine.device = FATHOM_DEVICE_CUDA;
        if (device[4] == ':') {
            if (!num("--device", device + 5, 0, 255, &d)) return 2;
            p.engine.device_index = (int)d;
        }
    } else {
        fprintf(stderr, "fathom serve: --device: '%s' is not cpu, cuda, cuda:N or auto\n", device);
        return 2;
    }
    if (prec) {
        if (!strcasecmp(prec, "fp32")) p.engine.precision = FATHOM_PRECISION_FP32;
        else if (!strcasecmp(prec, "fp16")) p.engine.precision = FATHOM_PRECISION_FP16;
        else if (!strcasecmp(prec, "bf16")) p.engine.precision = FATHOM_PRECISION_BF16;
        else {
            fprintf(stderr, "fathom serve: --precision: '%s' is not fp32, fp16 or bf16\n", prec);
            return 2;
        }
        if (p.engine.device == FATHOM_DEVICE_CPU && p.engine.precision != FATHOM_PRECISION_FP32) {
            fprintf(stderr, "fathom serve: --precision %s: the CPU engine computes in fp32 only\n", prec);
            return 2;
        }
    }
    /* config file */
    char cfg_default[4096];
    if (!config_path && !no_config) {
        const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        if (x && *x) snprintf(cfg_default, sizeof cfg_default, "%s/fathom/serve.yaml", x);
        else if (home && *home) snprintf(cfg_default, sizeof cfg_default, "%s/.config/fathom/serve.yaml", home);
        else cfg_default[0] = '\0';
        if (cfg_default[0]) config_path = cfg_default;
    }
    if (no_config) config_path = NULL;
    fathom_serve_config *cfg = build_config(config_path, ov, n_ov); /* owned here */
    if (!cfg) return 2;
    p.config = cfg;
    /* token: mandatory off loopback */
    int generated = 0;
    if (fathom_serve_host_needs_token(p.host) && !p.token[0]) {
        unsigned char r[16];
        if (RAND_bytes(r, sizeof r) != 1) {
            fprintf(stderr, "fathom serve: cannot generate a token\n");
            fathom_serve_config_free(&cfg);
            return 2;
        }
        for (int i = 0; i < 16; i++) snprintf(p.token + 2 * i, 3, "%02x", r[i]);
        generated = 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fathom_log_set_callback(log_json, NULL);

    int rc = 2;
    fathom_model *model = NULL;
    fathom_server *srv = NULL;
    char model_path[4096];
    fathom_resolve_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.offline = offline;
    if (fathom_model_resolve(model_arg, &ro, model_path, sizeof model_path) != FATHOM_OK ||
        fathom_model_load(model_path, &mp, &model) != FATHOM_OK) {
        fprintf(stderr, "fathom serve: model: %s\n", fathom_last_error());
        goto out;
    }
    p.model = model;
    p.model_params = mp;
    p.offline = offline;
    if (fathom_serve_start(&p, &srv) != FATHOM_OK) {
        fprintf(stderr, "fathom serve: %s\n", fathom_last_error());
        goto out;
    }
    int v6 = strchr(p.host, ':') != NULL;
    printf("listening on http://%s%s%s:%d/\n", v6 ? "[" : "", p.host, v6 ? "]" : "", fathom_serve_port(srv));
    if (generated) printf("token: %s\n", p.token);
    fflush(stdout);
    while (!g_stop) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (g_hup) {
            g_hup = 0;
            fathom_serve_config *nc = NULL;
            if (!config_path) {
                note(FATHOM_LOG_WARN, "SIGHUP: no config file to reload (--no-config)");
            } else if (!(nc = build_config(config_path, ov, n_ov))) {
                note(FATHOM_LOG_WARN, "SIGHUP: %s not reloaded; settings unchanged", config_path);
            } else if (fathom_serve_set_config(srv, nc) != FATHOM_OK) {
                note(FATHOM_LOG_WARN, "SIGHUP: %s not applied (%s); settings unchanged", config_path,
                     fathom_last_error());
            } else {
                note(FATHOM_LOG_INFO, "SIGHUP: reloaded %s", config_path);
            }
            fathom_serve_config_free(&nc);
        }
    }
    note(FATHOM_LOG_INFO, "stopping");
    fathom_serve_stop(&srv);
    rc = 0;
out:
    fathom_log_set_callback(NULL, NULL);
    fathom_model_free(&model);
    fathom_serve_config_free(&cfg);
    return rc;
}
