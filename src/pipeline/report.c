/* report.c - streaming JSON report (see report.h). */
#include <math.h>
#include "pipeline/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file_hash.h"
#include "core/status.h"
#include "model/model.h"
#include "pipeline/governor_json.h"

struct fathom_report {
    FILE *f;         /* owned: the temporary file */
    char *path;      /* owned: final path */
    char *tmp;       /* owned: path + ".tmp" */
    int n_items;     /* items written (for the commas) */
    fathom_status err; /* first write error (reported by finish) */
};

/* Weight memory once the engines are made (the report opens after them, before any pass):
 * the fp32 arena, what of it went back to the OS for packed engines (release_fp32), and the
 * process's resident set then. */
static void add_memory(cJSON *mo, const fathom_model *m) {
    cJSON *o = cJSON_AddObjectToObject(mo, "memory");
    if (!o || !m->w) return;
    size_t gone = fathom_weights_released(m->w);
    cJSON_AddNumberToObject(o, "fp32_weight_bytes", (double)m->w->arena_bytes);
    cJSON_AddNumberToObject(o, "fp32_released_bytes", (double)gone);
    long pages = -1, rss = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &rss) == 2 && rss >= 0)
        cJSON_AddNumberToObject(o, "rss_after_load_bytes", (double)rss * (double)sysconf(_SC_PAGESIZE));
    if (f) fclose(f);
}

static const char *state_name(fathom_item_state s) {
    switch (s) {
    case FATHOM_ITEM_DONE: return "done";
    case FATHOM_ITEM_SKIPPED: return "skipped";
    case FATHOM_ITEM_FAILED: return "failed";
    default: return "pending";
    }
}

static fathom_status io_fail(fathom_report *r) {
    int e = errno ? errno : EIO;
    if (r->err == FATHOM_OK)
        r->err = fathom_fail(fathom_status_from_errno(e), "%s: cannot write the report (outputs "
                             "are kept): %s", r->path, strerror(e));
    return r->err;
}

/* JSON string for arbitrary bytes: valid UTF-8 passes through, control characters are
 * escaped, and each byte that is not part of valid UTF-8 becomes "\udcXX" (Python's
 * surrogateescape: os.fsencode() of the decoded string gives the original bytes back).
 * Returns an owned, quoted string or NULL. */
static char *json_bytes(const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    char *out = malloc(n * 6 + 3); /* worst case: every byte as \udcXX */
    if (!out) return NULL;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int valid = len > 0 && i + len <= n;
        for (size_t k = 1; valid && k < len; k++) valid = (s[i + k] & 0xC0) == 0x80;
        if (valid && len > 1) { /* no overlong forms, surrogates or values past U+10FFFF */
            unsigned cp = c & (0x7F >> len);
            for (size_t k = 1; k < len; k++) cp = (cp << 6) | (s[i + k] & 0x3F);
            static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
            valid = cp >= min_cp[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (!valid) {
            o += (size_t)sprintf(out + o, "\\udc%02x", c);
            i++;
        } else if (len > 1) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            if (c == '"' || c == '\\') {
                out[o++] = '\\';
                out[o++] = (char)c;
            } else if (c == '\n') {
                o += (size_t)sprintf(out + o, "\\n");
            } else if (c == '\t') {
                o += (size_t)sprintf(out + o, "\\t");
            } else if (c < 0x20 || c == 0x7F) {
                o += (size_t)sprintf(out + o, "\\u%04x", c);
            } else {
                out[o++] = (char)c;
            }
            i++;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static void add_bytes(cJSON *obj, const char *key, const char *value) {
    char *j = json_bytes(value);
    if (j) cJSON_AddRawToObject(obj, key, j);
    free(j);
}

static const char *format_name(unsigned bit) {
    switch (bit) {
    case FATHOM_OUT_NPY: return "npy";
    case FATHOM_OUT_NPZ: return "npz";
    case FATHOM_OUT_PNG16: return "png16";
    case FATHOM_OUT_PNG8: return "png8";
    case FATHOM_OUT_COLOR: return "color";
    case FATHOM_OUT_EXR: return "exr";
    }
    return "?";
}

static const char *precision_name(fathom_device_kind d, fathom_precision p) {
    switch (p) {
    case FATHOM_PRECISION_FP32: return "fp32";
    case FATHOM_PRECISION_FP16: return "fp16";
    case FATHOM_PRECISION_BF16: return "bf16";
    default: return d == FATHOM_DEVICE_CPU ? "fp32" : "default (bf16, or fp16 without bf16)";
    }
}

/* The "run" object: what produced these outputs. */
static cJSON *run_info(const fathom_run_params *p, const fathom_model *m) {
    cJSON *run = cJSON_CreateObject();
    if (!run) return NULL;
    /* the command as a shell would take it back: words with other bytes in single quotes */
    size_t cap = 16, len;
    for (int i = 0; p->argv && i < p->argc; i++) cap += strlen(p->argv[i]) * 4 + 3;
    char *cmd = malloc(cap); /* owned */
    if (cmd) {
        len = (size_t)sprintf(cmd, "fathom");
        for (int i = 0; p->argv && i < p->argc; i++) {
            const char *a = p->argv[i];
            int plain = *a != '\0' && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "0123456789-_./=:,+@%") == strlen(a);
            cmd[len++] = ' ';
            if (!plain) cmd[len++] = '\'';
            for (; *a; a++) {
                if (!plain && *a == '\'') {
                    memcpy(cmd + len, "'\\''", 4);
                    len += 4;
                } else {
                    cmd[len++] = *a;
                }
            }
            if (!plain) cmd[len++] = '\'';
        }
        cmd[len] = '\0';
        add_bytes(run, "command", cmd);
        free(cmd);
    }
    cJSON *mo = cJSON_AddObjectToObject(run, "model");
    if (mo && m) {
        fathom_model_info info;
        fathom_model_get_info(m, &info);
        add_bytes(mo, "path", p->model_path ? p->model_path : "");
        cJSON_AddStringToObject(mo, "arch", info.arch);
        cJSON_AddStringToObject(mo, "format", info.format);
        cJSON_AddStringToObject(mo, "dtype", info.dtype);
        cJSON_AddBoolToObject(mo, "metric", info.metric != 0);
        char hex[65] = "";
        if (p->model_path) fathom_file_sha256(p->model_path, hex);
        if (hex[0]) cJSON_AddStringToObject(mo, "sha256", hex);
        else cJSON_AddNullToObject(mo, "sha256");
        add_memory(mo, m);
    }
    cJSON *devs = cJSON_AddArrayToObject(run, "devices");
    for (int i = 0; devs && i < p->n_devices; i++) {
        cJSON *d = cJSON_CreateObject();
        if (!d) break;
        fathom_engine_params r = p->devices[i];
        const fathom_engine_params *e = &r;
        if (m) fathom_engine_params_resolve(m, &r); /* what runs: a quantized file's format */
        cJSON_AddStringToObject(d, "device", e->device == FATHOM_DEVICE_CUDA ? "cuda" : "cpu");
        if (e->device == FATHOM_DEVICE_CUDA) cJSON_AddNumberToObject(d, "index", e->device_index);
        cJSON_AddStringToObject(d, "precision", precision_name(e->device, e->precision));
        cJSON_AddStringToObject(d, "weights", e->weights == FATHOM_WEIGHTS_INT8 ? "int8"
                                              : e->weights == FATHOM_WEIGHTS_Q4 ? "q4" : "default");
        cJSON_AddItemToArray(devs, d);
    }
    cJSON *fm = cJSON_AddArrayToObject(run, "formats");
    unsigned formats = p->formats ? p->formats : FATHOM_OUT_NPY;
    for (unsigned b = 1; fm && b <= FATHOM_OUT_EXR; b <<= 1)
        if (formats & b) cJSON_AddItemToArray(fm, cJSON_CreateString(format_name(b)));
    if (p->outdir) add_bytes(run, "outdir", p->outdir);
    cJSON_AddNumberToObject(run, "input_size", p->input_size);
    return run;
}

fathom_status fathom_report_check(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "report %s: %s", path,
                           S_ISDIR(st.st_mode) ? "is a folder, not a file" : "is not a regular file");
    const char *slash = strrchr(path, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    if (access(dir, W_OK | X_OK) != 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "report %s: cannot write in %s: %s",
                           path, dir, strerror(e));
    }
    return FATHOM_OK;
}

fathom_status fathom_report_open(const char *path, const fathom_run_params *p,
                                 const fathom_model *m, fathom_report **out) {
    *out = NULL;
    FATHOM_TRY(fathom_report_check(path));
    fathom_report *r = calloc(1, sizeof *r);
    if (!r) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    size_t n = strlen(path);
    r->path = strdup(path);
    r->tmp = malloc(n + 64);
    if (!r->path || !r->tmp) {
        fathom_report_free(&r);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    }
    /* unique per process (two runs with one --report never share it); the same pattern as
     * media/atomic_file.h, so a later run removes it when its process died */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(r->tmp, n + 64, "%.*s.%.200s.fathom-tmp-%ld-report", (int)(base - path), path, base,
             (long)getpid());
    int fd = open(r->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    r->f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!r->f) {
        int e = errno;
        if (fd >= 0) close(fd);
        fathom_status s = fathom_fail(fathom_status_from_errno(e), "%s: cannot write the report: %s",
                                      path, strerror(e));
        if (fd < 0) { /* not ours: keep whatever is there */
            free(r->tmp);
            r->tmp = NULL;
        }
        fathom_report_free(&r);
        return s;
    }
    cJSON *vs = cJSON_CreateString(fathom_version());
    char *ver = vs ? cJSON_PrintUnformatted(vs) : NULL; /* quoted and escaped */
    cJSON_Delete(vs);
    cJSON *run = p ? run_info(p, m) : NULL;
    char *runs = run ? cJSON_PrintUnformatted(run) : NULL;
    cJSON_Delete(run);
    fprintf(r->f, "{\"fathom\": %s,\n\"run\": %s,\n\"items\": [", ver ? ver : "\"\"",
            runs ? runs : "null");
    free(ver);
    free(runs);
    *out = r;
    return FATHOM_OK;
}

fathom_status fathom_report_item(fathom_report *r, const fathom_item *it) {
    if (r->err != FATHOM_OK) return r->err;
    cJSON *o = cJSON_CreateObject();
    if (!o) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    cJSON_AddNumberToObject(o, "index", (double)it->index);
    add_bytes(o, "source", it->source.s ? it->source.s : "");
    cJSON_AddStringToObject(o, "state", state_name(it->state));
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    if (outs && it->outputs.s) {
        const char *p = it->outputs.s;
        while (*p) {
            size_t n = strcspn(p, "\n");
            char buf[4096];
            snprintf(buf, sizeof buf, "%.*s", (int)n, p);
            char *j = json_bytes(buf);
            if (j) cJSON_AddItemToArray(outs, cJSON_CreateRaw(j));
            free(j);
            p += n;
            if (*p) p++;
        }
    }
    if (it->dup_of >= 0) cJSON_AddNumberToObject(o, "duplicate_of", (double)it->dup_of);
    if (it->state == FATHOM_ITEM_FAILED) {
        cJSON_AddStringToObject(o, "status", fathom_strerror(it->status));
        add_bytes(o, "error", it->error);
    }
    cJSON_AddNumberToObject(o, "width", it->width);
    cJSON_AddNumberToObject(o, "height", it->height);
    if (it->focal_px != 0 && it->state == FATHOM_ITEM_DONE) { /* Depth Pro */
        cJSON_AddNumberToObject(o, "focal_px", it->focal_px);
        /* the FOV head's output when it gave the focal length, else the given focal's FOV */
        cJSON_AddNumberToObject(o, "fov_deg", (double)it->fov_deg);
        cJSON_AddStringToObject(o, "focal_source", it->focal_source == 2 ? "given" : it->focal_source == 1 ? "exif" : "estimated");
    }
    if (it->batch_size > 0) {
        cJSON_AddNumberToObject(o, "batch", it->batch_size);
        cJSON_AddNumberToObject(o, "device", it->device_slot);
    }
    cJSON *t = cJSON_AddObjectToObject(o, "seconds");
    if (t) {
        cJSON_AddNumberToObject(t, "decode", it->t_stage[FATHOM_STAGE_DECODE]);
        cJSON_AddNumberToObject(t, "infer", it->t_stage[FATHOM_STAGE_INFER]);
        cJSON_AddNumberToObject(t, "write", it->t_stage[FATHOM_STAGE_WRITE]);
        cJSON_AddNumberToObject(t, "total", it->t_end - it->t_start);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    errno = 0;
    int rc = fprintf(r->f, "%s\n  %s", r->n_items ? "," : "", s);
    free(s);
    if (rc < 0) return io_fail(r);
    r->n_items++;
    return FATHOM_OK;
}

static void add_stage(cJSON *stages, const char *name, double busy, int64_t items) {
    cJSON *o = cJSON_AddObjectToObject(stages, name);
    if (!o) return;
    cJSON_AddNumberToObject(o, "busy_s", busy);
    cJSON_AddNumberToObject(o, "items", (double)items);
    cJSON_AddNumberToObject(o, "items_per_busy_s", busy > 0 ? (double)items / busy : 0.0);
}

fathom_status fathom_report_finish(fathom_report *r, const fathom_run_stats *st,
                                   fathom_governor *g, int n_slots, int stage_batch) {
    if (r->err != FATHOM_OK) return r->err;
    cJSON *root = cJSON_CreateObject();
    if (!root) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    cJSON *stages = cJSON_AddObjectToObject(root, "stages");
    if (stages) {
        add_stage(stages, "source", st->busy_s[0], st->taken);
        add_stage(stages, "decode", st->busy_s[1], st->finished);
        add_stage(stages, "infer", st->busy_s[2], st->done);
        add_stage(stages, "write", st->busy_s[3], st->finished);
    }
    cJSON *t = cJSON_AddObjectToObject(root, "totals");
    if (t) {
        cJSON_AddNumberToObject(t, "taken", (double)st->taken);
        cJSON_AddNumberToObject(t, "done", (double)st->done);
        cJSON_AddNumberToObject(t, "skipped", (double)st->skipped);
        cJSON_AddNumberToObject(t, "failed", (double)st->failed);
        cJSON_AddNumberToObject(t, "finished", (double)st->finished);
        cJSON_AddNumberToObject(t, "batches", (double)st->batches);
        cJSON_AddNumberToObject(t, "elapsed_s", st->elapsed_s);
        cJSON_AddNumberToObject(t, "items_per_s",
                                st->elapsed_s > 0 ? (double)st->done / st->elapsed_s : 0.0);
        cJSON_AddBoolToObject(t, "cancelled", st->cancelled != 0);
        cJSON *ig = cJSON_AddObjectToObject(t, "ignored"); /* folder entries not taken */
        if (ig) {
            cJSON_AddNumberToObject(ig, "not_image", (double)st->ignored[FATHOM_IGNORED_NOT_IMAGE]);
            cJSON_AddNumberToObject(ig, "special", (double)st->ignored[FATHOM_IGNORED_SPECIAL]);
            cJSON_AddNumberToObject(ig, "folder", (double)st->ignored[FATHOM_IGNORED_FOLDER]);
        }
        if (st->fatal != FATHOM_OK) cJSON_AddStringToObject(t, "fatal", st->fatal_msg);
        else cJSON_AddNullToObject(t, "fatal");
    }
    fathom_governor_json_add(root, g, n_slots, stage_batch, 1);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    /* the tail object's members continue the top-level object: drop its braces */
    size_t n = strlen(s);
    errno = 0;
    int rc = fprintf(r->f, "\n],\n%.*s\n", (int)(n > 2 ? n - 2 : 0), n > 2 ? s + 1 : "");
    free(s);
    if (rc < 0) return io_fail(r);
    fputs("}\n", r->f);
    FILE *f = r->f;
    r->f = NULL;
    errno = 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return io_fail(r);
    }
    if (fclose(f) != 0) return io_fail(r);
    if (rename(r->tmp, r->path) != 0) {
        int e = errno;
        return r->err = fathom_fail(fathom_status_from_errno(e), "%s: cannot rename the report: %s",
                                    r->path, strerror(e));
    }
    free(r->tmp);
    r->tmp = NULL; /* nothing left to remove */
    return FATHOM_OK;
}

void fathom_report_free(fathom_report **rp) {
    if (!rp || !*rp) return;
    fathom_report *r = *rp;
    if (r->f) fclose(r->f);
    if (r->tmp) unlink(r->tmp);
    free(r->tmp);
    free(r->path);
    free(r);
    *rp = NULL;
}
