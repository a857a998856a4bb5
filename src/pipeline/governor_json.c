/* governor_json.c - the governor's params and per-slot stats as JSON (see governor_json.h). */
#include "pipeline/governor_json.h"

#include <stdint.h>

/* A value, or null when the setting is off. */
static void add_num_or_null(cJSON *o, const char *name, int on, double v) {
    if (on) cJSON_AddNumberToObject(o, name, v);
    else cJSON_AddNullToObject(o, name);
}

static void add_params(cJSON *gov, const fathom_governor_params *p, int stage_batch) {
    cJSON *o = cJSON_AddObjectToObject(gov, "params");
    if (!o) return;
    add_num_or_null(o, "target_util", p->target_util > 0, p->target_util);
    add_num_or_null(o, "max_util", p->max_util < 100, p->max_util);
    int bmax = p->batch_max > 0 && p->batch_max < stage_batch ? p->batch_max : stage_batch;
    cJSON_AddNumberToObject(o, "batch_min", p->batch_min < bmax ? p->batch_min : bmax);
    cJSON_AddNumberToObject(o, "batch_max", bmax);
    cJSON_AddNumberToObject(o, "hz", p->hz);
    cJSON *l = cJSON_AddObjectToObject(o, "limits");
    if (!l) return;
    add_num_or_null(l, "nice", p->nice != FATHOM_GOVERNOR_NICE_KEEP, p->nice);
    add_num_or_null(l, "gpu_mem_limit", p->gpu_mem_limit > 0, (double)p->gpu_mem_limit);
    add_num_or_null(l, "gpu_mem_fraction", p->gpu_mem_fraction > 0, p->gpu_mem_fraction);
    add_num_or_null(l, "gpu_power_limit_w", p->gpu_power_limit_w > 0, p->gpu_power_limit_w);
    add_num_or_null(l, "host_mem_limit", p->host_mem_limit > 0, (double)p->host_mem_limit);
}

static void add_slot(cJSON *arr, fathom_governor *g, int slot, int full) {
    fathom_governor_stats st;
    fathom_governor_get_stats(g, slot, &st);
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddNumberToObject(o, "slot", slot);
    cJSON_AddNumberToObject(o, "util", st.util);
    cJSON_AddNumberToObject(o, "duty", st.duty);
    cJSON_AddNumberToObject(o, "batch", st.batch);
    cJSON_AddNumberToObject(o, "pause_s", st.pause_s);
    cJSON_AddBoolToObject(o, "emergency", st.emergency != 0);
    cJSON_AddNumberToObject(o, "util_limit_hits", (double)st.util_limit_hits);
    cJSON_AddNumberToObject(o, "mem_limit_hits", (double)st.mem_limit_hits);
    if (full) {
        cJSON_AddNumberToObject(o, "batches", (double)st.batches);
        cJSON_AddNumberToObject(o, "items", (double)st.items);
        cJSON_AddNumberToObject(o, "busy_s", st.busy_s);
        cJSON_AddNumberToObject(o, "paused_s", st.paused_s);
        cJSON_AddNumberToObject(o, "wall_s", st.wall_s);
        cJSON_AddNumberToObject(o, "samples", (double)st.samples);
        add_num_or_null(o, "gpu_mem_limit", st.gpu_mem_limit > 0, (double)st.gpu_mem_limit);
        add_num_or_null(o, "power_limit_w", st.power_limit_w > 0, st.power_limit_w);
        add_num_or_null(o, "cpu_load", st.cpu_load >= 0, st.cpu_load);
        cJSON_AddNumberToObject(o, "rss_bytes", (double)st.rss_bytes);
    }
    if (st.gpu_valid) {
        cJSON *gpu = cJSON_AddObjectToObject(o, "gpu");
        if (gpu) {
            cJSON_AddNumberToObject(gpu, "util", st.gpu_util);
            cJSON_AddNumberToObject(gpu, "mem_used", (double)st.gpu_mem_used);
            cJSON_AddNumberToObject(gpu, "mem_total", (double)st.gpu_mem_total);
            cJSON_AddNumberToObject(gpu, "power_w", st.gpu_power_w);
            cJSON_AddNumberToObject(gpu, "temp_c", st.gpu_temp_c);
        }
    }
    cJSON_AddItemToArray(arr, o);
}

void fathom_governor_json_add(cJSON *parent, fathom_governor *g, int n_slots, int stage_batch,
                              int with_params) {
    if (!parent || !g) return;
    cJSON *gov = cJSON_AddObjectToObject(parent, "governor");
    if (!gov) return;
    fathom_governor_params p;
    fathom_governor_get_params(g, &p);
    if (with_params) add_params(gov, &p, stage_batch > 0 ? stage_batch : 1);
    else add_num_or_null(gov, "target_util", p.target_util > 0, p.target_util);
    if (n_slots > p.slots) n_slots = p.slots;
    cJSON *arr = cJSON_AddArrayToObject(gov, "slots");
    for (int i = 0; arr && i < n_slots; i++) add_slot(arr, g, i, with_params);
}
