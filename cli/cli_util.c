/* cli_util.c - shared pieces of the subcommands (see cli_util.h). */
#include "cli_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "signals.h"

static const char *g_cmd = "fathom"; /* borrowed string literal */
static int g_ndjson;
static int g_verbosity;

void cli_set_command(const char *name) { g_cmd = name; }
const char *cli_command(void) { return g_cmd; }
void cli_set_ndjson(int on) { g_ndjson = on; }
int cli_ndjson(void) { return g_ndjson; }

/* The library names options by their fields (fathom.h); the user typed flags. Each library
 * phrase that names a field is shown in the flag's words, here only. */
static const char *const k_flag_words[][2] = {
    {"(existing: overwrite or resume)", "(use --overwrite or --resume)"},
    {"(existing: overwrite)", "(use --overwrite)"},
    {": resume: ", ": --resume: "},
    {"(resume: ", "(--resume: "},
    {"(choose another outdir or video_path)", "(choose another -o or --video)"},
    {"choose another report_path", "choose another --report"},
    {"(precision fp32)", "(--precision fp32)"},
    {"(focal_px overrides it)", "(--focal-px overrides it)"},
    {"timeout_s sets the limit", "--timeout sets the limit"},
    {"mpi: ", "--mpi: "},
    {"shard '", "--shard '"},
    {"shard K/N ", "--shard "},
    {"n_chunks must be >= 1 and overlap >= 0", "--chunks must be >= 1 and --overlap >= 0"},
    {"run it without n_chunks", "run it without --chunks"},
    {"chunked runs take the whole video (start, end and max_frames are not supported with them)",
     "--chunks takes the whole video (--start/--end/--max-frames are not supported with it)"},
    {"chunked runs need outdir", "--chunks needs -o OUTDIR"},
    {"another overlap or other outputs", "another --overlap or other outputs"},
    {"another n_chunks", "another --chunks"},
    {"remove it and resume", "remove it and --resume"},
    {"(resume continues from", "(--resume continues from"},
};

void cli_flag_words(const char *msg, char *out, size_t cap) {
    size_t o = 0;
    const size_t n_words = sizeof k_flag_words / sizeof k_flag_words[0];
    for (const char *start = msg; *msg && o + 1 < cap;) {
        /* a phrase that starts with a letter starts a word ("xresume" is not "resume") */
        const int in_word = msg > start && (isalnum((unsigned char)msg[-1]) ||
                                            msg[-1] == '-' || msg[-1] == '_');
        size_t i = 0, len = 0;
        for (; i < n_words; i++) {
            const char *w = k_flag_words[i][0];
            len = strlen(w);
            if (!(in_word && isalnum((unsigned char)w[0])) && !strncmp(msg, w, len)) break;
        }
        if (i < n_words) {
            int w = snprintf(out + o, cap - o, "%s", k_flag_words[i][1]);
            o = w > 0 && o + (size_t)w < cap ? o + (size_t)w : cap - 1;
            msg += len;
        } else {
            out[o++] = *msg++;
        }
    }
    out[o] = '\0';
}

static void emit(const char *level, const char *fmt, va_list ap) {
    char raw[4096], msg[4096];
    vsnprintf(raw, sizeof raw, fmt, ap);
    cli_flag_words(raw, msg, sizeof msg);
    if (g_ndjson) {
        char line[8192];
        fathom_progress_json_message(level, msg, line, sizeof line);
        fputs(line, stderr);
    } else if (!strcmp(level, "warning")) {
        fprintf(stderr, "fathom %s: warning: %s\n", g_cmd, msg);
    } else {
        fprintf(stderr, "fathom %s: %s\n", g_cmd, msg);
    }
    fflush(stderr);
}

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit("error", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...) {
    if (g_verbosity < 0) return;
    va_list ap;
    va_start(ap, fmt);
    emit("warning", fmt, ap);
    va_end(ap);
}

void cli_note(const char *fmt, ...) {
    if (g_verbosity < 0) return;
    va_list ap;
    va_start(ap, fmt);
    emit("info", fmt, ap);
    va_end(ap);
}

static void on_download(void *user, const char *file, int64_t done, int64_t total) {
    (void)user;
    if (total > 0)
        fprintf(stderr, "\rdownloading %s: %.1f / %.1f MB", file, done / 1e6, total / 1e6);
    else
        fprintf(stderr, "\rdownloading %s: %.1f MB", file, done / 1e6);
    if (total > 0 && done >= total) fputc('\n', stderr);
}

int cli_model(const char *arg, int offline, char *out, size_t cap) {
    fathom_resolve_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.offline = offline;
    ro.cancel = signals_cancel_flag();
    if (isatty(2) && !g_ndjson) ro.progress = on_download;
    if (fathom_model_resolve(arg, &ro, out, cap) != FATHOM_OK) {
        cli_error("model: %s", fathom_last_error());
        return 0;
    }
    return 1;
}

/* Levenshtein distance of a and b (both short option names). */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            int m = sub < del ? sub : del;
            d[i][j] = m < ins ? m : ins;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1; /* transposition: --fromat */
        }
    return d[la][lb];
}

/* The closest long option to `name` ("formt"), or NULL when none is close. */
static const char *closest(const char *name, const struct option *longopts) {
    const char *best = NULL;
    int best_d = 99;
    size_t n = strlen(name);
    int limit = n <= 4 ? 1 : n <= 8 ? 2 : 3;
    for (const struct option *o = longopts; o && o->name; o++) {
        int d = edit_distance(name, o->name);
        if (d < best_d) best_d = d, best = o->name;
    }
    return best_d <= limit ? best : NULL;
}

/* Long options that start with `prefix` (an ambiguous abbreviation), comma-separated. */
static int prefixed(const char *prefix, const struct option *longopts, char *out, size_t cap) {
    size_t n = strlen(prefix), used = 0;
    int count = 0;
    out[0] = '\0';
    for (const struct option *o = longopts; o && o->name; o++)
        if (!strncmp(o->name, prefix, n)) {
            int w = snprintf(out + used, cap - used, "%s--%s", count ? ", " : "", o->name);
            if (w > 0 && used + (size_t)w < cap) used += (size_t)w;
            count++;
        }
    return count;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               int *longindex) {
    char opts[128];
    snprintf(opts, sizeof opts, ":%s", shortopts);
    opterr = 0;
    int before = optind;
    int c = getopt_long(argc, argv, opts, longopts, longindex);
    if (c != '?' && c != ':') return c;
    /* the offending word: getopt moved optind past it (or past its missing value) */
    const char *word = optind - 1 >= 1 && optind - 1 < argc ? argv[optind - 1] : "";
    if (optind == before && before < argc) word = argv[before];
    char shown[256];
    if (strncmp(word, "--", 2) == 0) {
        size_t n = strcspn(word, "=");
        snprintf(shown, sizeof shown, "%.*s", (int)n, word);
    } else if (optopt) {
        snprintf(shown, sizeof shown, "-%c", optopt);
    } else {
        snprintf(shown, sizeof shown, "%s", word);
    }
    if (c == ':') {
        cli_error("option '%s' needs a value (see fathom %s --help)", shown, g_cmd);
        return '?';
    }
    if (!strncmp(shown, "--", 2)) {
        for (const struct option *o = longopts; o && o->name; o++)
            if (!strcmp(o->name, shown + 2) && o->has_arg == no_argument) { /* --invert=1 */
                cli_error("option '%s' takes no value (see fathom %s --help)", shown, g_cmd);
                return '?';
            }
        char list[512];
        if (prefixed(shown + 2, longopts, list, sizeof list) > 1) {
            cli_error("option '%s' is ambiguous: %s (see fathom %s --help)", shown, list, g_cmd);
            return '?';
        }
        const char *near = closest(shown + 2, longopts);
        if (near) {
            cli_error("unknown option '%s'; did you mean --%s? (see fathom %s --help)", shown,
                      near, g_cmd);
            return '?';
        }
    }
    cli_error("unknown option '%s' (see fathom %s --help)", shown, g_cmd);
    return '?';
}

int cli_int(const char *flag, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s: '%s' is not an integer in %ld..%ld", flag, s, lo, hi);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_double(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_error("%s: '%s' is not a number in %g..%g", flag, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_device(const char *s, fathom_engine_params *ep) {
    if (!strcasecmp(s, "cpu")) {
        ep->device = FATHOM_DEVICE_CPU;
        return 1;
    }
    if (!strcasecmp(s, "auto")) {
        int cpu = 0;
        fathom_engine_params a = fathom_device_auto(&cpu);
        ep->device = a.device;
        ep->device_index = a.device_index;
        if (cpu && g_verbosity > 0)
            cli_note("--device auto: no usable CUDA device (%s); using the CPU",
                     fathom_last_error());
        else if (cpu) /* the probe's details (paths tried) with -v */
            cli_note("--device auto: no usable CUDA device; using the CPU");
        else cli_note("--device auto: using CUDA device 0");
        return 1;
    }
    if (!strncasecmp(s, "cuda", 4) && (s[4] == '\0' || s[4] == ':')) {
        ep->device = FATHOM_DEVICE_CUDA;
        ep->device_index = 0;
        return s[4] != ':' || cli_int("--device", s + 5, 0, 255, &ep->device_index);
    }
    cli_error("--device: '%s' is not cpu, cuda, cuda:N or auto", s);
    return 0;
}

int cli_local_devices(const char *s, fathom_run_params *rp, int threads, fathom_precision precision) {
    int per = 0, lr, ls, first, count, shared;
    if (s[5] == ':' && !cli_int("--device local", s + 6, 1, FATHOM_MAX_DEVICES, &per)) return 0;
    fathom_local_rank(&lr, &ls);
    const int visible = fathom_cuda_visible_count();
    if (fathom_local_devices(lr, ls, per, visible, &first, &count, &shared) != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        return 0;
    }
    char list[256] = "";
    for (int j = 0; j < count; j++) {
        if (rp->n_devices == FATHOM_MAX_DEVICES) {
            cli_error("--device: more than %d devices", FATHOM_MAX_DEVICES);
            return 0;
        }
        fathom_engine_params ep = fathom_engine_default_params();
        ep.threads = threads, ep.precision = precision;
        ep.device = FATHOM_DEVICE_CUDA, ep.device_index = (first + j) % visible;
        rp->devices[rp->n_devices++] = ep;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%scuda:%d", j ? "," : "", ep.device_index);
    }
    cli_note("--device %s: local rank %d of %d, %d visible: %s%s", s, lr, ls, visible, list,
             shared ? " (more ranks than devices on this machine: some devices run several)" : "");
    return 1;
}

static void on_log(void *user, fathom_log_level level, const char *raw) {
    (void)user;
    char msg[4096];
    cli_flag_words(raw, msg, sizeof msg);
    int need = level == FATHOM_LOG_WARN ? 0 : level == FATHOM_LOG_INFO ? 1 : 2;
    if (g_verbosity < need) return;
    static const char *const names[] = {"debug", "info", "warning"};
    const char *name = names[level <= FATHOM_LOG_WARN ? level : FATHOM_LOG_WARN];
    if (g_ndjson) {
        char line[8192];
        fathom_progress_json_message(name, msg, line, sizeof line);
        fputs(line, stderr);
    } else {
        fprintf(stderr, "fathom %s: %s: %s\n", g_cmd, name, msg);
    }
    fflush(stderr);
}

void cli_log_install(int verbosity) {
    g_verbosity = verbosity;
    fathom_log_set_callback(on_log, NULL);
}
