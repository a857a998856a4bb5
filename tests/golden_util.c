/* golden_util.c - the golden reference data for the C tests (golden_util.h). */
#include "golden_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model/safetensors.h"
#include "test_util.h"

float tu_half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        float f = ldexpf((float)m, -24);
        return s ? -f : f;
    }
    if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* t's values as float into out (t->numel floats). */
static int read_as_float(fathom_tensor_set *set, const fathom_raw_tensor *t, float *out) {
    size_t n = (size_t)t->numel, es = fathom_dtype_size(t->dtype);
    if (t->dtype != FATHOM_DT_F16 && t->dtype != FATHOM_DT_F32) {
        printf("%s: dtype %d is neither float16 nor float32\n", t->name, (int)t->dtype);
        return 0;
    }
    uint8_t *raw = malloc(n * es + 1);
    if (!raw) return 0;
    int ok = 1;
    if (t->data) memcpy(raw, t->data, n * es);
    else if (set->read(set, t, raw) != FATHOM_OK) {
        printf("%s: %s\n", t->name, fathom_last_error());
        ok = 0;
    }
    for (size_t k = 0; ok && k < n; k++) {
        if (t->dtype == FATHOM_DT_F16) {
            uint16_t h;
            memcpy(&h, raw + 2 * k, 2);
            out[k] = tu_half_to_float(h);
        } else {
            memcpy(&out[k], raw + 4 * k, 4);
        }
    }
    free(raw);
    return ok;
}

tu_ref *tu_load_refs(const char *path, int *count) {
    fathom_tensor_set set = {0};
    *count = 0;
    if (fathom_st_open_file(path, &set) != FATHOM_OK) {
        printf("%s\n", fathom_last_error());
        return NULL;
    }
    tu_ref *r = calloc(set.n + 1, sizeof *r);
    int ok = r != NULL;
    for (size_t i = 0; ok && i < set.n; i++) {
        const fathom_raw_tensor *t = &set.t[i];
        snprintf(r[i].name, sizeof r[i].name, "%s", t->name);
        r[i].n = (size_t)t->numel;
        r[i].ndim = t->ndim;
        r[i].tol = t->dtype == FATHOM_DT_F16 ? 1e-3 : 1e-4;
        memcpy(r[i].shape, t->shape, sizeof t->shape);
        r[i].data = malloc(r[i].n * sizeof(float) + 1);
        ok = r[i].data && read_as_float(&set, t, r[i].data);
    }
    int n = (int)set.n;
    fathom_tensor_set_close(&set);
    if (!ok) {
        tu_free_refs(r, n);
        return NULL;
    }
    *count = n;
    return r;
}

void tu_free_refs(tu_ref *r, int n) {
    for (int i = 0; r && i < n; i++) free(r[i].data);
    free(r);
}

static int by_name(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

int tu_golden_cases(const char *golden, char (*names)[256], int cap) {
    DIR *d = opendir(golden);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *de; n < cap && (de = readdir(d));) {
        char cj[4096];
        snprintf(cj, sizeof cj, "%s/%s/case.json", golden, de->d_name);
        if (de->d_name[0] == '.' || access(cj, R_OK) != 0) continue;
        snprintf(names[n++], 256, "%s", de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 256, by_name);
    return n;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (s = malloc((size_t)n + 1))) {
        size_t got = fread(s, 1, (size_t)n, f);
        s[got] = '\0';
    }
    fclose(f);
    return s;
}

fathom_model *tu_load_case_model(const char *dir, int *input_size) {
    char path[4200];
    snprintf(path, sizeof path, "%s/case.json", dir);
    char *text = read_text(path);
    cJSON *cj = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cj) {
        printf("%s: missing or not JSON\n", path);
        return NULL;
    }
    fathom_model_params mp = fathom_model_default_params();
    const cJSON *metric = cJSON_GetObjectItem(cj, "metric");
    const cJSON *maxd = cJSON_GetObjectItem(cj, "max_depth");
    const cJSON *isz = cJSON_GetObjectItem(cj, "input_size");
    if (cJSON_IsBool(metric)) mp.metric = cJSON_IsTrue(metric);
    if (cJSON_IsNumber(maxd)) mp.max_depth = (float)maxd->valuedouble;
    if (input_size) *input_size = cJSON_IsNumber(isz) ? isz->valueint : 518;
    cJSON_Delete(cj);
    struct stat sb;
    snprintf(path, sizeof path, "%s/model", dir);
    if (stat(path, &sb) != 0) snprintf(path, sizeof path, "%s/model.pth", dir);
    fathom_model *m = NULL;
    if (fathom_model_load(path, &mp, &m) != FATHOM_OK) {
        printf("%s: %s\n", path, fathom_last_error());
        return NULL;
    }
    return m;
}

int tu_load_net_case(const char *dir, tu_net_case *c) {
    memset(c, 0, sizeof *c);
    int64_t shape[8];
    int ndim;
    c->x = tu_load_npy(tu_path(dir, "pixel_values.npy"), shape, &ndim, &c->n);
    if (c->x && ndim == 4) c->H = (int)shape[2], c->W = (int)shape[3];
    if (c->x) c->ref = tu_load_npy(tu_path(dir, "depth_net.npy"), shape, &ndim, &c->nd);
    if (!c->x || !c->ref || c->H < 1 || c->nd != (size_t)c->H * c->W) {
        printf("%s: pixel_values.npy / depth_net.npy missing or of other sizes\n", dir);
        tu_free_net_case(c);
        return 0;
    }
    return 1;
}

void tu_free_net_case(tu_net_case *c) {
    free(c->x);
    free(c->ref);
    memset(c, 0, sizeof *c);
}
