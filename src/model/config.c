/* config.c - read the architecture out of a Hugging Face config.json with cJSON. */
#include "model/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define CONFIG_MAX_INT 1000000

/* Integer key in [lo, CONFIG_MAX_INT]; absent or null leaves *has = 0. */
static fathom_status cfg_int(const cJSON *obj, const char *key, const char *path, int lo,
                             int *has, int *v) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j || cJSON_IsNull(j)) return FATHOM_OK;
    if (!cJSON_IsNumber(j) || j->valuedouble != (double)(long long)j->valuedouble ||
        j->valuedouble < lo || j->valuedouble > CONFIG_MAX_INT)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"%s\" must be an integer in [%d, %d]", path, key,
                           lo, CONFIG_MAX_INT);
    *v = (int)j->valuedouble;
    *has = 1;
    return FATHOM_OK;
}

static fathom_status cfg_num(const cJSON *obj, const char *key, const char *path, int *has,
                             double *v) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j || cJSON_IsNull(j)) return FATHOM_OK;
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0) || j->valuedouble > 1e9)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"%s\" must be a positive number", path, key);
    *v = j->valuedouble;
    *has = 1;
    return FATHOM_OK;
}

/* Array of exactly 4 integers, each in [lo, CONFIG_MAX_INT], minus `shift`. */
static fathom_status cfg_int4(const cJSON *obj, const char *key, const char *path, int lo,
                              int shift, int *has, int v[4]) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j || cJSON_IsNull(j)) return FATHOM_OK;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 4)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"%s\" must be a list of 4 integers", path, key);
    for (int i = 0; i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(j, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != (double)(long long)e->valuedouble ||
            e->valuedouble < lo || e->valuedouble > CONFIG_MAX_INT)
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"%s\"[%d] must be an integer >= %d", path,
                               key, i, lo);
        v[i] = (int)e->valuedouble - shift;
    }
    *has = 1;
    return FATHOM_OK;
}

static fathom_status cfg_read(const cJSON *root, const char *path, fathom_config *c) {
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(root, "backbone_config");
    if (bb && !cJSON_IsNull(bb) && !cJSON_IsObject(bb))
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"backbone_config\" is not an object", path);
    if (bb && cJSON_IsObject(bb)) {
        FATHOM_TRY(cfg_int(bb, "hidden_size", path, 1, &c->has_hidden_size, &c->hidden_size));
        FATHOM_TRY(cfg_int(bb, "num_hidden_layers", path, 1, &c->has_layers, &c->layers));
        FATHOM_TRY(cfg_int(bb, "num_attention_heads", path, 1, &c->has_heads, &c->heads));
        FATHOM_TRY(cfg_num(bb, "mlp_ratio", path, &c->has_mlp_ratio, &c->mlp_ratio));
        FATHOM_TRY(cfg_int4(bb, "out_indices", path, 1, 1, &c->has_out_indices, c->out_indices));
        FATHOM_TRY(cfg_int(bb, "patch_size", path, 1, &c->has_patch, &c->patch));
        FATHOM_TRY(cfg_int(bb, "image_size", path, 1, &c->has_image_size, &c->image_size));
        FATHOM_TRY(cfg_num(bb, "layer_norm_eps", path, &c->has_ln_eps, &c->ln_eps));
        const cJSON *sw = cJSON_GetObjectItemCaseSensitive(bb, "use_swiglu_ffn");
        if (cJSON_IsBool(sw)) {
            c->has_swiglu = 1;
            c->swiglu = cJSON_IsTrue(sw);
        }
    }
    if (!c->has_patch) FATHOM_TRY(cfg_int(root, "patch_size", path, 1, &c->has_patch, &c->patch));
    FATHOM_TRY(cfg_int(root, "fusion_hidden_size", path, 1, &c->has_features, &c->features));
    FATHOM_TRY(cfg_int4(root, "neck_hidden_sizes", path, 1, 0, &c->has_neck, c->neck));
    FATHOM_TRY(cfg_int(root, "head_hidden_size", path, 1, &c->has_head_hidden, &c->head_hidden));
    FATHOM_TRY(cfg_num(root, "max_depth", path, &c->has_max_depth, &c->max_depth));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "depth_estimation_type");
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsString(t) ||
            (strcmp(t->valuestring, "metric") != 0 && strcmp(t->valuestring, "relative") != 0))
            return fathom_fail(FATHOM_ERR_FORMAT,
                               "%s: \"depth_estimation_type\" must be \"relative\" or \"metric\"", path);
        c->has_metric = 1;
        c->metric = strcmp(t->valuestring, "metric") == 0;
    }
    return FATHOM_OK;
}

fathom_status fathom_config_parse(const char *text, size_t n, const char *path, fathom_config *out) {
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, n); /* owned */
    fathom_status s = FATHOM_OK;
    if (!root || !cJSON_IsObject(root)) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    s = cfg_read(root, path, out);
done:
    cJSON_Delete(root);
    return s;
}

fathom_status fathom_config_load(const char *path, fathom_config *out) {
    FILE *f = fopen(path, "rb"); /* owned */
    char *text = NULL;           /* owned */
    fathom_status s = FATHOM_OK;
    struct stat sb;
    if (!f) {
        s = fathom_fail(fathom_status_from_errno(errno), "%s: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: not a regular file", path);
        goto done;
    }
    if (sb.st_size > CONFIG_MAX_BYTES) {
        s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %lld bytes (a config.json is at most %d)", path,
                        (long long)sb.st_size, CONFIG_MAX_BYTES);
        goto done;
    }
    text = malloc((size_t)sb.st_size + 1);
    if (!text) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t got = fread(text, 1, (size_t)sb.st_size, f);
    if (got != (size_t)sb.st_size) {
        s = fathom_fail(FATHOM_ERR_IO, "%s: short read", path);
        goto done;
    }
    s = fathom_config_parse(text, got, path, out);
done:
    free(text);
    if (f) fclose(f);
    return s;
}
