/* report.c - streaming JSON report (see report.h). */
#include <math.h>
#include "pipeline/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "pipeline/governor_json.h"

struct fathom_report {
    FILE *f;         /* owned: the temporary file */
    char *path;      /* owned: final path */
    char *tmp;       /* owned: path + ".tmp" */
    int n_items;     /* items written (for the commas) */
    fathom_status err; /* first write error (reported by finish) */
};

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
        r->err = fathom_fail(fathom_status_from_errno(e), "%s: cannot write the report: %s",
                             r->tmp, strerror(e));
    return r->err;
}

fathom_status fathom_report_open(const char *path, fathom_report **out) {
    *out = NULL;
    fathom_report *r = calloc(1, sizeof *r);
    if (!r) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    size_t n = strlen(path);
    r->path = strdup(path);
    r->tmp = malloc(n + 5);
    if (!r->path || !r->tmp) {
        fathom_report_free(&r);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    }
    memcpy(r->tmp, path, n);
    memcpy(r->tmp + n, ".tmp", 5);
    r->f = fopen(r->tmp, "w");
    if (!r->f) {
        int e = errno;
        fathom_status s = fathom_fail(fathom_status_from_errno(e), "%s: cannot write the report: %s",
                                      path, strerror(e));
        fathom_report_free(&r);
        return s;
    }
    cJSON *vs = cJSON_CreateString(fathom_version());
    char *ver = vs ? cJSON_PrintUnformatted(vs) : NULL; /* quoted and escaped */
    cJSON_Delete(vs);
    fprintf(r->f, "{\"fathom\": %s,\n\"items\": [", ver ? ver : "\"\"");
    free(ver);
    *out = r;
    return FATHOM_OK;
}

fathom_status fathom_report_item(fathom_report *r, const fathom_item *it) {
    if (r->err != FATHOM_OK) return r->err;
    cJSON *o = cJSON_CreateObject();
    if (!o) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the report");
    cJSON_AddNumberToObject(o, "index", (double)it->index);
    cJSON_AddStringToObject(o, "source", it->source.s ? it->source.s : "");
    cJSON_AddStringToObject(o, "state", state_name(it->state));
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    if (outs && it->outputs.s) {
        const char *p = it->outputs.s;
        while (*p) {
            size_t n = strcspn(p, "\n");
            char buf[4096];
            snprintf(buf, sizeof buf, "%.*s", (int)n, p);
            cJSON_AddItemToArray(outs, cJSON_CreateString(buf));
            p += n;
            if (*p) p++;
        }
    }
    if (it->state == FATHOM_ITEM_FAILED) {
        cJSON_AddStringToObject(o, "status", fathom_strerror(it->status));
        cJSON_AddStringToObject(o, "error", it->error);
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
