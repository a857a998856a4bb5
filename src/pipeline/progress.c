/* progress.c - progress bar and NDJSON event text (see progress.h). */
#include "pipeline/progress.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/governor_json.h"

static double rate_of(const fathom_run_stats *s) {
    return s->elapsed_s > 0 ? (double)s->finished / s->elapsed_s : 0.0;
}

static void fmt_eta(double sec, char *out, size_t cap) {
    if (sec < 0) {
        snprintf(out, cap, "--:--");
        return;
    }
    long t = (long)(sec + 0.5);
    if (t >= 3600) snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

void fathom_progress_bar(const fathom_run_stats *s, int width, char *out, size_t cap) {
    fathom_progress_bar_extra(s, NULL, width, out, cap);
}

void fathom_progress_bar_extra(const fathom_run_stats *s, const char *extra, int width, char *out,
                               size_t cap) {
    double rate = rate_of(s);
    char eta[32], count[64], bar[64];
    if (s->total > 0) {
        double frac = (double)s->finished / (double)s->total;
        if (frac > 1) frac = 1;
        int n = 20, fill = (int)(frac * n + 0.5);
        bar[0] = '[';
        for (int i = 0; i < n; i++) bar[1 + i] = i < fill ? '#' : '.';
        bar[n + 1] = ']';
        bar[n + 2] = ' ';
        bar[n + 3] = '\0';
        snprintf(count, sizeof count, "%lld/%lld", (long long)s->finished, (long long)s->total);
        fmt_eta(rate > 0 ? (double)(s->total - s->finished) / rate : -1, eta, sizeof eta);
    } else {
        bar[0] = '\0';
        snprintf(count, sizeof count, "%lld done", (long long)s->finished);
        snprintf(eta, sizeof eta, "?");
    }
    char fails[48] = "", queues[96];
    if (s->failed) snprintf(fails, sizeof fails, "  %lld failed", (long long)s->failed);
    snprintf(queues, sizeof queues, "  q %d/%d %d/%d %d/%d", s->queue_fill[0], s->queue_cap[0],
             s->queue_fill[1], s->queue_cap[1], s->queue_fill[2], s->queue_cap[2]);
    const char *sep = extra && *extra ? "  " : "";
    if (!extra) extra = "";
    /* the extra fragment matters more than the queue fill and the bar graphic: drop those
     * first when the whole line does not fit the width */
    for (int drop = 0; drop < 3; drop++) {
        int n = snprintf(out, cap, "%s%s  %.1f img/s  ETA %s%s%s%s%s", drop >= 2 ? "" : bar, count,
                         rate, eta, sep, extra, drop >= 1 ? "" : queues, fails);
        if (!*sep || width <= 0 || n <= width) break;
    }
    if (width > 0 && (size_t)width < cap) out[width] = '\0';
}

static void print_json(cJSON *o, char *out, size_t cap) {
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    snprintf(out, cap, "%s\n", txt ? txt : "{}");
    free(txt);
    cJSON_Delete(o);
}

void fathom_progress_json_stats(const fathom_run_stats *s, int summary, fathom_governor *g,
                                int n_slots, char *out, size_t cap) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
        double rate = rate_of(s);
        cJSON_AddStringToObject(o, "event", summary ? "summary" : "progress");
        cJSON_AddNumberToObject(o, "taken", (double)s->taken);
        cJSON_AddNumberToObject(o, "done", (double)s->done);
        cJSON_AddNumberToObject(o, "skipped", (double)s->skipped);
        cJSON_AddNumberToObject(o, "failed", (double)s->failed);
        cJSON_AddNumberToObject(o, "finished", (double)s->finished);
        if (s->total >= 0) cJSON_AddNumberToObject(o, "total", (double)s->total);
        else cJSON_AddNullToObject(o, "total");
        cJSON_AddNumberToObject(o, "elapsed_s", s->elapsed_s);
        cJSON_AddNumberToObject(o, "items_per_s", rate);
        if (s->total >= 0 && rate > 0)
            cJSON_AddNumberToObject(o, "eta_s", (double)(s->total - s->finished) / rate);
        else cJSON_AddNullToObject(o, "eta_s");
        cJSON *q = cJSON_AddObjectToObject(o, "queues");
        const char *names[3] = {"decode", "infer", "write"};
        for (int i = 0; q && i < 3; i++) {
            int v[2] = {s->queue_fill[i], s->queue_cap[i]};
            cJSON_AddItemToObject(q, names[i], cJSON_CreateIntArray(v, 2));
        }
        if (summary) {
            cJSON_AddBoolToObject(o, "cancelled", s->cancelled != 0);
            if (s->fatal != FATHOM_OK) cJSON_AddStringToObject(o, "fatal", s->fatal_msg);
            else cJSON_AddNullToObject(o, "fatal");
        }
        fathom_governor_json_add(o, g, n_slots, 0, 0);
    }
    print_json(o, out, cap);
}

void fathom_progress_json_item(const fathom_item_event *ev, char *out, size_t cap) {
    static const char *const states[] = {"pending", "done", "skipped", "failed"};
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "event", "item");
        cJSON_AddNumberToObject(o, "index", (double)ev->index);
        cJSON_AddStringToObject(o, "source", ev->source);
        cJSON_AddStringToObject(o, "state", states[ev->state >= 0 && ev->state < 4 ? ev->state : 0]);
        cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
        for (const char *p = ev->outputs; outs && *p;) {
            size_t n = strcspn(p, "\n");
            char *one = strndup(p, n);
            if (one) cJSON_AddItemToArray(outs, cJSON_CreateString(one));
            free(one);
            p += n;
            if (*p) p++;
        }
        if (ev->state == 3) cJSON_AddStringToObject(o, "error", ev->error);
        cJSON_AddNumberToObject(o, "seconds", ev->seconds);
    }
    print_json(o, out, cap);
}

void fathom_progress_json_message(const char *level, const char *text, char *out, size_t cap) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "event", "message");
        cJSON_AddStringToObject(o, "level", level ? level : "info");
        cJSON_AddStringToObject(o, "text", text ? text : "");
    }
    print_json(o, out, cap);
}
