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

#include "cli_util.h"
#include "commands.h"
#include "engine_flags.h"
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
"      --source-options O  KEY=VALUE,... for opening the source, as ffmpeg's input options;\n"
"                          a camera: video_size=1280x720,framerate=30,input_format=mjpeg;\n"
"                          format=NAME forces the demuxer (v4l2, rawvideo, ...)\n"
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

enum { /* the engine and governor flags are engine_flags.h's, shared with fathom run */
    O_SOURCE = 1000, O_LISTEN, O_TOKEN, O_CONFIG, O_NO_CONFIG, O_REALTIME, O_LOOP, O_SET, O_DEVICE
};

/* Flags that are plain settings: their config key. */
static const struct { const char *flag, *key; } k_setting_flags[] = {
    {"colormap", "colormap"}, {"input-size", "input_size"}, {"max-res", "max_res"},
    {"max-clients", "max_clients"}, {"max-body", "max_body"}, {"client-queue", "client_queue"},
    {"jpeg-quality", "jpeg_quality"}, {"record", "record"}, {"output-url", "output_url"},
    {"source-options", "source_options"}};

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
    {"output-url", required_argument, 0, O_SET}, {"source-options", required_argument, 0, O_SET},
    {"device", required_argument, 0, O_DEVICE}, CLI_ENGINE_LONGOPTS, {0, 0, 0, 0}};

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

/* What the command line asked for. */
typedef struct serve_args {
    fathom_serve_params p;
    fathom_model_params mp;
    const char *model_arg, *config_path, *device;
    int no_config, offline;
    fathom_precision precision;
    override ov[64]; /* settings given as flags, put over the config file's */
    int n_ov;
} serve_args;

/* One flag (getopt's c, long-option index li); 1 ok, 0 after printing why. */
static int parse_flag(serve_args *a, int c, int li, const char *arg) {
    fathom_serve_params *p = &a->p;
    switch (c) {
    case 'm': a->model_arg = arg; return 1;
    case O_SOURCE: a->ov[a->n_ov++] = (override){"source", arg}; return 1;
    case O_LISTEN: return parse_listen(arg, p);
    case O_TOKEN:
        if (!*arg || strlen(arg) >= sizeof p->token) {
            fprintf(stderr, "fathom serve: --token: 1..%zu characters\n", sizeof p->token - 1);
            return 0;
        }
        snprintf(p->token, sizeof p->token, "%s", arg);
        return 1;
    case O_CONFIG: a->config_path = arg; return 1;
    case O_NO_CONFIG: a->no_config = 1; return 1;
    case O_REALTIME: a->ov[a->n_ov++] = (override){"realtime", "true"}; return 1;
    case O_LOOP: a->ov[a->n_ov++] = (override){"loop", "true"}; return 1;
    case O_SET:
        if (!strcmp(k_opts[li].name, "invert")) {
            a->ov[a->n_ov++] = (override){"invert", "true"};
            return 1;
        }
        for (size_t i = 0; i < sizeof k_setting_flags / sizeof k_setting_flags[0]; i++)
            if (!strcmp(k_opts[li].name, k_setting_flags[i].flag))
                a->ov[a->n_ov++] = (override){k_setting_flags[i].key, arg};
        return 1;
    case O_DEVICE: a->device = arg; return 1;
    case CLI_OPT_TARGET_UTIL: /* a live setting here (0: none) */
        a->ov[a->n_ov++] = (override){"target_util", arg};
        return 1;
    case CLI_OPT_BATCH_MIN:
    case CLI_OPT_BATCH_MAX: return 1; /* serve runs one frame at a time (latency first) */
    default: {
        const cli_engine_dest ed = {&a->precision, &p->engine.threads, &a->offline, &a->mp,
                                    &p->governor, &p->use_governor};
        int r = cli_engine_flag(c, arg, &ed);
        if (r < 0) usage(stderr);
        return r == 1;
    }
    }
}

/* --device and --precision, as fathom run (one engine); 1 ok, 0 after printing why. */
static int parse_engine(serve_args *a) {
    fathom_engine_params *ep = &a->p.engine;
    int threads = ep->threads;
    if (!cli_device(a->device, ep)) return 0;
    ep->threads = threads;
    if (a->precision != FATHOM_PRECISION_DEFAULT) ep->precision = a->precision;
    ep->release_fp32 = ep->device == FATHOM_DEVICE_CPU; /* engines share the model's packed set */
    return cli_check_cpu_precision(ep);
}

/* The command line into *a: -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, serve_args *a) {
    a->p = fathom_serve_default_params();
    a->mp = fathom_model_default_params();
    a->device = "cpu";
    int c, li = -1;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "m:h", k_opts, &li)) != -1) {
        if (c == '?') return 2; /* said why (with a suggestion) */
        if (a->n_ov >= 60) {
            fprintf(stderr, "fathom serve: too many flags\n");
            return 2;
        }
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (!parse_flag(a, c, li, optarg)) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "fathom serve: unexpected argument '%s' (the source is --source SRC)\n", argv[optind]);
        return 2;
    }
    return parse_engine(a) ? -1 : 2;
}

/* The config file: --config, else $XDG_CONFIG_HOME/fathom/serve.yaml or ~/.config/...; NULL
 * with --no-config. buf holds the default name. */
static const char *config_file(const serve_args *a, char *buf, size_t n) {
    if (a->no_config) return NULL;
    if (a->config_path) return a->config_path;
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (x && *x) snprintf(buf, n, "%s/fathom/serve.yaml", x);
    else if (home && *home) snprintf(buf, n, "%s/.config/fathom/serve.yaml", home);
    else return NULL;
    return buf;
}

/* A token is mandatory off loopback: one is made when none is given. 1 ok (*generated set),
 * 0 after printing why. */
static int ensure_token(fathom_serve_params *p, int *generated) {
    *generated = 0;
    if (!fathom_serve_host_needs_token(p->host) || p->token[0]) return 1;
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        fprintf(stderr, "fathom serve: cannot generate a token\n");
        return 0;
    }
    for (int i = 0; i < 16; i++) snprintf(p->token + 2 * i, 3, "%02x", r[i]);
    *generated = 1;
    return 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* SIGHUP: the config file again, with the flags on top; settings unchanged on any error. */
static void reload(fathom_server *srv, const serve_args *a, const char *config_path) {
    fathom_serve_config *nc = NULL; /* owned here */
    if (!config_path) {
        note(FATHOM_LOG_WARN, "SIGHUP: no config file to reload (--no-config)");
    } else if (!(nc = build_config(config_path, a->ov, a->n_ov))) {
        note(FATHOM_LOG_WARN, "SIGHUP: %s not reloaded; settings unchanged", config_path);
    } else if (fathom_serve_set_config(srv, nc) != FATHOM_OK) {
        note(FATHOM_LOG_WARN, "SIGHUP: %s not applied (%s); settings unchanged", config_path,
             fathom_last_error());
    } else {
        note(FATHOM_LOG_INFO, "SIGHUP: reloaded %s", config_path);
    }
    fathom_serve_config_free(&nc);
}

int cmd_serve(int argc, char **argv) {
    serve_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    char cfg_default[4096];
    const char *config_path = config_file(&a, cfg_default, sizeof cfg_default);
    fathom_serve_config *cfg = build_config(config_path, a.ov, a.n_ov); /* owned here */
    if (!cfg) return 2;
    a.p.config = cfg;
    int generated;
    if (!ensure_token(&a.p, &generated)) {
        fathom_serve_config_free(&cfg);
        return 2;
    }
    install_signals();
    fathom_log_set_callback(log_json, NULL);

    rc = 2;
    fathom_model *model = NULL; /* owned here */
    fathom_server *srv = NULL;  /* owned here */
    char model_path[4096];
    fathom_resolve_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.offline = a.offline;
    if (fathom_model_resolve(a.model_arg, &ro, model_path, sizeof model_path) != FATHOM_OK ||
        fathom_model_load(model_path, &a.mp, &model) != FATHOM_OK) {
        fprintf(stderr, "fathom serve: model: %s\n", fathom_last_error());
        goto done;
    }
    a.p.model = model;
    a.p.model_params = a.mp;
    a.p.offline = a.offline;
    if (fathom_serve_start(&a.p, &srv) != FATHOM_OK) {
        fprintf(stderr, "fathom serve: %s\n", fathom_last_error());
        goto done;
    }
    int v6 = strchr(a.p.host, ':') != NULL;
    printf("listening on http://%s%s%s:%d/\n", v6 ? "[" : "", a.p.host, v6 ? "]" : "",
           fathom_serve_port(srv));
    if (generated) printf("token: %s\n", a.p.token);
    fflush(stdout);
    while (!g_stop) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (g_hup) {
            g_hup = 0;
            reload(srv, &a, config_path);
        }
    }
    note(FATHOM_LOG_INFO, "stopping");
    fathom_serve_stop(&srv);
    rc = 0;
done:
    fathom_log_set_callback(NULL, NULL);
    fathom_model_free(&model);
    fathom_serve_config_free(&cfg);
    return rc;
}
