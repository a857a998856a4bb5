/* metrics.c - GET /v1/status (JSON) and GET /metrics (Prometheus text format 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "serve/priv.h"

typedef struct snap {
    double uptime, fps_source, fps_analyser, fps_sent, infer_s, infer_total, starved, lat_sum;
    double stage_busy[SV_STAGES];
    uint64_t lat_hist[SV_LAT_BUCKETS], lat_count;
    char source_state[160];
    char output_state[2][300];
} snap;

static void take(sv_server *s, snap *o) {
    double now = sv_mono();
    pthread_mutex_lock(&s->stats_mu);
    o->uptime = now - s->t_start;
    o->fps_source = sv_rate_fps(&s->rate_source, now);
    o->fps_analyser = sv_rate_fps(&s->rate_analyser, now);
    o->fps_sent = sv_rate_fps(&s->rate_sent, now);
    o->infer_s = s->infer_s_last;
    o->infer_total = s->infer_s_total;
    o->starved = s->starved_s_total;
    memcpy(o->stage_busy, s->stage_busy, sizeof o->stage_busy);
    memcpy(o->lat_hist, s->lat_hist, sizeof o->lat_hist);
    o->lat_count = s->lat_count;
    o->lat_sum = s->lat_sum;
    memcpy(o->source_state, s->source_state, sizeof o->source_state);
    memcpy(o->output_state, s->output_state, sizeof o->output_state);
    pthread_mutex_unlock(&s->stats_mu);
}

/* Upper bound of the bucket holding quantile q (seconds); 0 without samples. */
static double quantile(const snap *o, double q) {
    if (!o->lat_count) return 0;
    uint64_t want = (uint64_t)(q * (double)o->lat_count + 0.5), acc = 0;
    if (want < 1) want = 1;
    for (int i = 0; i < SV_LAT_BUCKETS; i++) {
        acc += o->lat_hist[i];
        if (acc >= want) return i == SV_LAT_BUCKETS - 1 ? sv_lat_bounds[i - 1] : sv_lat_bounds[i];
    }
    return sv_lat_bounds[SV_LAT_BUCKETS - 2];
}

#define U(x) ((double)atomic_load(&s->x))

char *sv_status_json(sv_server *s) {
    snap o;
    take(s, &o);
    sv_config cfg;
    sv_get_config(s, &cfg);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "version", fathom_version());
    cJSON_AddNumberToObject(r, "uptime_s", o.uptime);
    cJSON *src = cJSON_AddObjectToObject(r, "source");
    cJSON_AddStringToObject(src, "url", cfg.source);
    cJSON_AddStringToObject(src, "state", o.source_state);
    cJSON_AddNumberToObject(src, "frames", U(n_source));
    cJSON_AddNumberToObject(src, "fps", o.fps_source);
    cJSON_AddNumberToObject(src, "errors", U(n_source_errors));
    cJSON_AddNumberToObject(src, "opens", U(n_source_opens));
    cJSON *an = cJSON_AddObjectToObject(r, "analyser");
    cJSON_AddNumberToObject(an, "frames", U(n_analysed));
    cJSON_AddNumberToObject(an, "fps", o.fps_analyser);
    cJSON_AddNumberToObject(an, "dropped", U(in.drops) + U(prep.drops));
    cJSON_AddNumberToObject(an, "post_dropped", U(post.drops));
    cJSON_AddNumberToObject(an, "infer_ms", o.infer_s * 1e3);
    cJSON_AddNumberToObject(an, "busy_s", o.infer_total);
    cJSON_AddNumberToObject(an, "starved_s", o.starved);
    cJSON_AddNumberToObject(an, "depth_posts", U(n_depth_posts));
    /* seconds each stage worked (waits left out): where the time per frame goes */
    cJSON *sb = cJSON_AddObjectToObject(r, "stage_busy_s");
    static const char *const stage_names[SV_STAGES] = {"decode", "prepare", "engine", "post"};
    for (int i = 0; i < SV_STAGES; i++) cJSON_AddNumberToObject(sb, stage_names[i], o.stage_busy[i]);
    cJSON *sk = cJSON_AddObjectToObject(r, "sinks");
    cJSON_AddNumberToObject(sk, "ws_clients", atomic_load(&s->n_ws));
    cJSON_AddNumberToObject(sk, "mjpeg_clients", atomic_load(&s->n_mjpeg));
    cJSON_AddNumberToObject(sk, "ws_sent", U(n_sent_ws));
    cJSON_AddNumberToObject(sk, "ws_dropped", U(n_drop_ws));
    cJSON_AddNumberToObject(sk, "mjpeg_sent", U(n_sent_mjpeg));
    cJSON_AddNumberToObject(sk, "mjpeg_dropped", U(n_drop_mjpeg));
    cJSON_AddNumberToObject(sk, "fps", o.fps_sent);
    cJSON_AddNumberToObject(sk, "rejected_clients", U(n_rejected_clients));
    cJSON_AddStringToObject(sk, "record", o.output_state[0]);
    cJSON_AddNumberToObject(sk, "recorded", U(n_recorded));
    cJSON_AddStringToObject(sk, "output_url", o.output_state[1]);
    cJSON_AddNumberToObject(sk, "streamed", U(n_streamed));
    cJSON_AddNumberToObject(sk, "outputs_dropped", U(n_drop_outputs));
    cJSON *lat = cJSON_AddObjectToObject(r, "latency");
    cJSON_AddNumberToObject(lat, "count", (double)o.lat_count);
    cJSON_AddNumberToObject(lat, "mean_ms", o.lat_count ? o.lat_sum / o.lat_count * 1e3 : 0);
    cJSON_AddNumberToObject(lat, "p50_ms_le", quantile(&o, 0.5) * 1e3);
    cJSON_AddNumberToObject(lat, "p99_ms_le", quantile(&o, 0.99) * 1e3);
    cJSON *http = cJSON_AddObjectToObject(r, "http");
    cJSON_AddNumberToObject(http, "requests", U(n_requests));
    cJSON_AddNumberToObject(http, "bad_requests", U(n_bad_requests));
    cJSON_AddNumberToObject(http, "unauthorized", U(n_unauth));
    char gov[256] = "off";
    pthread_mutex_lock(&s->gov_mu);
    if (s->gov) fathom_governor_describe(s->gov, 0, gov, sizeof gov);
    pthread_mutex_unlock(&s->gov_mu);
    cJSON_AddStringToObject(r, "governor", gov);
    char *cj = sv_config_to_json(&cfg);
    cJSON_AddItemToObject(r, "config", cJSON_Parse(cj ? cj : "{}"));
    free(cj);
    char *out = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return out;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    if (!b->p) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        char *g = realloc(b->p, b->cap * 2 + (size_t)k);
        if (!g) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = g;
        b->cap = b->cap * 2 + (size_t)k;
    }
}

char *sv_metrics_text(sv_server *s) {
    snap o;
    take(s, &o);
    buf b = {malloc(4096), 0, 4096}; /* returned to the caller */
    put(&b, "# HELP fathom_serve_frames_total Frames through each stage.\n"
            "# TYPE fathom_serve_frames_total counter\n");
    put(&b, "fathom_serve_frames_total{stage=\"source\"} %.0f\n", U(n_source));
    put(&b, "fathom_serve_frames_total{stage=\"analyser\"} %.0f\n", U(n_analysed));
    put(&b, "fathom_serve_frames_total{stage=\"ws\"} %.0f\n", U(n_sent_ws));
    put(&b, "fathom_serve_frames_total{stage=\"mjpeg\"} %.0f\n", U(n_sent_mjpeg));
    put(&b, "# HELP fathom_serve_dropped_total Frames dropped by latest-frame-wins slots and slow clients.\n"
            "# TYPE fathom_serve_dropped_total counter\n");
    put(&b, "fathom_serve_dropped_total{stage=\"analyser\"} %.0f\n", U(in.drops) + U(prep.drops));
    put(&b, "fathom_serve_dropped_total{stage=\"post\"} %.0f\n", U(post.drops));
    put(&b, "fathom_serve_dropped_total{stage=\"ws\"} %.0f\n", U(n_drop_ws));
    put(&b, "fathom_serve_dropped_total{stage=\"mjpeg\"} %.0f\n", U(n_drop_mjpeg));
    put(&b, "fathom_serve_dropped_total{stage=\"outputs\"} %.0f\n", U(n_drop_outputs));
    put(&b, "# HELP fathom_serve_fps Recent frames per second of each stage.\n# TYPE fathom_serve_fps gauge\n");
    put(&b, "fathom_serve_fps{stage=\"source\"} %g\n", o.fps_source);
    put(&b, "fathom_serve_fps{stage=\"analyser\"} %g\n", o.fps_analyser);
    put(&b, "fathom_serve_fps{stage=\"sinks\"} %g\n", o.fps_sent);
    put(&b, "# HELP fathom_serve_clients Connected streaming clients.\n# TYPE fathom_serve_clients gauge\n");
    put(&b, "fathom_serve_clients{sink=\"ws\"} %d\n", atomic_load(&s->n_ws));
    put(&b, "fathom_serve_clients{sink=\"mjpeg\"} %d\n", atomic_load(&s->n_mjpeg));
    put(&b, "# HELP fathom_serve_latency_seconds Capture to send time of streamed frames.\n"
            "# TYPE fathom_serve_latency_seconds histogram\n");
    uint64_t acc = 0;
    for (int i = 0; i < SV_LAT_BUCKETS; i++) {
        acc += o.lat_hist[i];
        if (i == SV_LAT_BUCKETS - 1)
            put(&b, "fathom_serve_latency_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)acc);
        else
            put(&b, "fathom_serve_latency_seconds_bucket{le=\"%g\"} %llu\n", sv_lat_bounds[i],
                (unsigned long long)acc);
    }
    put(&b, "fathom_serve_latency_seconds_sum %g\nfathom_serve_latency_seconds_count %llu\n",
        o.lat_sum, (unsigned long long)o.lat_count);
    put(&b, "# HELP fathom_serve_infer_seconds Engine time of the last frame.\n"
            "# TYPE fathom_serve_infer_seconds gauge\nfathom_serve_infer_seconds %g\n", o.infer_s);
    put(&b, "# TYPE fathom_serve_source_errors_total counter\nfathom_serve_source_errors_total %.0f\n",
        U(n_source_errors));
    put(&b, "# TYPE fathom_serve_source_opens_total counter\nfathom_serve_source_opens_total %.0f\n",
        U(n_source_opens));
    put(&b, "# TYPE fathom_serve_http_requests_total counter\nfathom_serve_http_requests_total %.0f\n",
        U(n_requests));
    put(&b, "# TYPE fathom_serve_http_errors_total counter\n"
            "fathom_serve_http_errors_total{kind=\"bad_request\"} %.0f\n"
            "fathom_serve_http_errors_total{kind=\"unauthorized\"} %.0f\n"
            "fathom_serve_http_errors_total{kind=\"rejected_client\"} %.0f\n",
        U(n_bad_requests), U(n_unauth), U(n_rejected_clients));
    fathom_governor_stats gs;
    int have = 0;
    pthread_mutex_lock(&s->gov_mu);
    if (s->gov) fathom_governor_get_stats(s->gov, 0, &gs), have = 1;
    pthread_mutex_unlock(&s->gov_mu);
    if (have) {
        put(&b, "# TYPE fathom_serve_governor_util gauge\nfathom_serve_governor_util %g\n", gs.util);
        put(&b, "# TYPE fathom_serve_governor_target gauge\nfathom_serve_governor_target %g\n", gs.target_util);
        put(&b, "# TYPE fathom_serve_governor_pause_seconds gauge\nfathom_serve_governor_pause_seconds %g\n", gs.pause_s);
        put(&b, "# TYPE fathom_serve_governor_emergency gauge\nfathom_serve_governor_emergency %d\n", gs.emergency);
    }
    return b.p;
}
