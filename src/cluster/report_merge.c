/* report_merge.c - merge shard reports (see report_merge.h). */
#include "cluster/report_merge.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "media/atomic_file.h"

/* Whole file as a NUL-terminated string (owned by the caller) or NULL with the error set. */
static char *slurp(const char *path, fathom_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        *st = fathom_fail(fathom_status_from_errno(e), "%s: cannot read: %s", path, strerror(e));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap); /* owned: grown below, returned */
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        *st = fathom_fail(buf ? FATHOM_ERR_IO : FATHOM_ERR_NOMEM, "%s: cannot read%s", path,
                          buf ? "" : ": out of memory");
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void add_num(cJSON *o, const char *key, double v) {
    cJSON *old = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(old)) cJSON_SetNumberValue(old, old->valuedouble + v);
    else cJSON_AddNumberToObject(o, key, v);
}

static int by_index(const void *a, const void *b) {
    double x = num(*(cJSON *const *)a, "index"), y = num(*(cJSON *const *)b, "index");
    return x < y ? -1 : x > y;
}

/* Fold one shard's stages and totals into the merged ones. */
static void fold(cJSON *stages, cJSON *totals, const cJSON *root) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stages"), *s;
    cJSON_ArrayForEach(s, st) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(stages, s->string);
        if (!m) m = cJSON_AddObjectToObject(stages, s->string);
        if (!m) continue;
        add_num(m, "busy_s", num(s, "busy_s"));
        add_num(m, "items", num(s, "items"));
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "totals");
    static const char *const sums[] = {"taken", "done", "skipped", "failed", "finished", "batches"};
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++) add_num(totals, sums[i], num(t, sums[i]));
    cJSON *el = cJSON_GetObjectItemCaseSensitive(totals, "elapsed_s");
    if (num(t, "elapsed_s") > el->valuedouble) cJSON_SetNumberValue(el, num(t, "elapsed_s"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "cancelled")))
        cJSON_ReplaceItemInObjectCaseSensitive(totals, "cancelled", cJSON_CreateTrue());
    const cJSON *ig = cJSON_GetObjectItemCaseSensitive(t, "ignored");
    cJSON *mig = cJSON_GetObjectItemCaseSensitive(totals, "ignored");
    cJSON_ArrayForEach(s, ig) { /* every shard walks the same folders: the largest count */
        cJSON *m = cJSON_GetObjectItemCaseSensitive(mig, s->string);
        if (!m) cJSON_AddNumberToObject(mig, s->string, num(ig, s->string));
        else if (num(ig, s->string) > m->valuedouble) cJSON_SetNumberValue(m, num(ig, s->string));
    }
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(t, "fatal");
    if (cJSON_IsString(fa) && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(totals, "fatal")))
        cJSON_ReplaceItemInObjectCaseSensitive(totals, "fatal", cJSON_CreateString(fa->valuestring));
}

/* Parse and check one report; returns the owned root or NULL with the error set. */
static cJSON *load(const char *path, fathom_status *st) {
    char *text = slurp(path, st);
    if (!text) return NULL;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const char *why = NULL;
    if (!root) why = "not complete JSON (truncated, or a run still writing it?)";
    else if (!cJSON_IsObject(root) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "fathom")))
        why = "not a fathom report (no \"fathom\" version)";
    else if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "items")))
        why = "no \"items\" array";
    else if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "totals")))
        why = "no \"totals\" object (the run did not finish)";
    if (why) {
        cJSON_Delete(root);
        *st = fathom_fail(FATHOM_ERR_FORMAT, "%s: %s", path, why);
        return NULL;
    }
    return root;
}

fathom_status fathom_report_merge(const char *const *paths, int n, const char *out_path,
                                  long long *n_items) {
    return fathom_report_merge_job(paths, n, out_path, n_items, 0);
}

fathom_status fathom_report_merge_job(const char *const *paths, int n, const char *out_path,
                                      long long *n_items, double job_s) {
    if (n_items) *n_items = 0;
    if (n < 1 || !out_path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "report merge: no reports");
    struct stat so, si;
    int out_exists = stat(out_path, &so) == 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(paths[i], out_path) || (out_exists && stat(paths[i], &si) == 0 &&
                                            si.st_dev == so.st_dev && si.st_ino == so.st_ino))
            return fathom_fail(FATHOM_ERR_INVALID_ARG, "report merge: the output %s is one of the "
                               "inputs; choose another name", out_path);
    fathom_status st = FATHOM_OK;
    cJSON *merged = cJSON_CreateObject(); /* owned */
    cJSON **roots = calloc((size_t)n, sizeof *roots); /* owned, and each root */
    cJSON **items = NULL;                              /* owned array; items borrowed */
    char *text = NULL;                                 /* owned */
    size_t n_it = 0, cap = 0;
    if (!merged || !roots) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "report merge: out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (!(roots[i] = load(paths[i], &st))) goto out;
    cJSON_AddItemToObject(merged, "fathom",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(roots[0], "fathom"), 1));
    const cJSON *run0 = cJSON_GetObjectItemCaseSensitive(roots[0], "run");
    cJSON *run = run0 && cJSON_IsObject(run0) ? cJSON_Duplicate(run0, 1) : cJSON_CreateObject();
    cJSON_AddItemToObject(merged, "run", run);
    cJSON *from = cJSON_AddArrayToObject(run, "merged_from");
    cJSON *all = cJSON_AddArrayToObject(merged, "items");
    cJSON *stages = cJSON_AddObjectToObject(merged, "stages");
    cJSON *totals = cJSON_AddObjectToObject(merged, "totals");
    if (!from || !all || !stages || !totals) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "report merge: out of memory");
        goto out;
    }
    cJSON_AddNumberToObject(totals, "elapsed_s", 0);
    cJSON_AddFalseToObject(totals, "cancelled");
    cJSON_AddObjectToObject(totals, "ignored");
    cJSON_AddNullToObject(totals, "fatal");
    for (int i = 0; i < n; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "report", paths[i]);
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(roots[i], "run");
        const cJSON *c = r ? cJSON_GetObjectItemCaseSensitive(r, "command") : NULL;
        if (cJSON_IsString(c)) cJSON_AddStringToObject(f, "command", c->valuestring);
        cJSON_AddItemToArray(from, f);
        fold(stages, totals, roots[i]);
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(roots[i], "items"), *it;
        cJSON_ArrayForEach(it, arr) {
            if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "index"))) {
                st = fathom_fail(FATHOM_ERR_FORMAT, "%s: an item without an index", paths[i]);
                goto out;
            }
            if (n_it == cap) {
                cap = cap ? cap * 2 : 1024;
                cJSON **ni = realloc(items, cap * sizeof *ni);
                if (!ni) {
                    st = fathom_fail(FATHOM_ERR_NOMEM, "report merge: out of memory");
                    goto out;
                }
                items = ni;
            }
            cJSON_AddNumberToObject(it, "shard_report", i); /* which input report it came from */
            items[n_it++] = it;
        }
    }
    qsort(items, n_it, sizeof *items, by_index);
    for (size_t k = 1; k < n_it; k++)
        if (num(items[k], "index") == num(items[k - 1], "index")) {
            int a = (int)num(items[k - 1], "shard_report"), b = (int)num(items[k], "shard_report");
            st = fathom_fail(FATHOM_ERR_INVALID_ARG, "report merge: item %.0f is in both %s and %s "
                             "(the same shard twice, or reports of different runs?)",
                             num(items[k], "index"), paths[a], paths[b]);
            goto out;
        }
    for (size_t k = 0; k < n_it; k++) /* move each item from its report into the merged one */
        cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(
            cJSON_GetObjectItemCaseSensitive(roots[(int)num(items[k], "shard_report")], "items"),
            items[k]));
    cJSON *s;
    cJSON_ArrayForEach(s, stages) {
        double busy = num(s, "busy_s");
        cJSON_AddNumberToObject(s, "items_per_busy_s", busy > 0 ? num(s, "items") / busy : 0.0);
    }
    if (job_s > 0) { /* one job: its time on the coordinator's clock; the longest rank's kept */
        cJSON_AddNumberToObject(totals, "longest_rank_s", num(totals, "elapsed_s"));
        cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(totals, "elapsed_s"), job_s);
    }
    double el = num(totals, "elapsed_s");
    cJSON_AddNumberToObject(totals, "items_per_s", el > 0 ? num(totals, "done") / el : 0.0);
    cJSON_AddNumberToObject(totals, "shards", n);
    text = cJSON_Print(merged);
    if (!text) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "report merge: out of memory");
        goto out;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: written by length */
    st = fathom_atomic_write_file(out_path, text, len + 1);
    if (st == FATHOM_OK && n_items) *n_items = (long long)n_it;
out:
    free(text);
    free(items);
    for (int i = 0; roots && i < n; i++) cJSON_Delete(roots[i]);
    free(roots);
    cJSON_Delete(merged);
    return st;
}
