/* depthpro_config.c - the fields of a transformers DepthProConfig (config.json) that shapes
 * cannot give: per-ViT heads and LayerNorm eps, the two hook blocks. Every other field that
 * describes an architecture the official code does not have is refused (golden-depthpro
 * README, "Which config a loader uses"). */
#include "model/depthpro_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define DPC_MAX_BYTES (1 << 20)

static const char *const vit_keys[3] = {"patch_model_config", "image_model_config", "fov_model_config"};

static int is_int(const cJSON *j, int lo, int hi) {
    return cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) && j->valuedouble >= lo &&
           j->valuedouble <= hi;
}

/* A key that must equal `want` when present. */
static fathom_status want_num(const cJSON *o, const char *key, double want, const char *path, const char *where) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return FATHOM_OK;
    if (!cJSON_IsNumber(j) || fabs(j->valuedouble - want) > 1e-9)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: %s\"%s\" must be %g (the Depth Pro architecture)", path,
                           where, key, want);
    return FATHOM_OK;
}

static fathom_status want_bool(const cJSON *o, const char *key, int want, const char *path, const char *where) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return FATHOM_OK;
    if (!cJSON_IsBool(j) || cJSON_IsTrue(j) != want)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: %s\"%s\" must be %s (the Depth Pro architecture)", path,
                           where, key, want ? "true" : "false");
    return FATHOM_OK;
}

static fathom_status want_list(const cJSON *o, const char *key, const double *want, int n, const char *path) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return FATHOM_OK;
    int ok = cJSON_IsArray(j) && cJSON_GetArraySize(j) == n;
    for (int i = 0; ok && i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(j, i);
        ok = cJSON_IsNumber(e) && fabs(e->valuedouble - want[i]) < 1e-9;
    }
    if (!ok) return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: \"%s\" is not the Depth Pro pyramid", path, key);
    return FATHOM_OK;
}

static fathom_status read_vit(const cJSON *root, int v, const char *path, fathom_dp_config *c) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, vit_keys[v]);
    if (!o || cJSON_IsNull(o)) return FATHOM_OK;
    char where[48];
    snprintf(where, sizeof where, "%s.", vit_keys[v]);
    if (!cJSON_IsObject(o)) return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"%s\" must be an object", path, vit_keys[v]);
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "num_attention_heads");
    if (j && !cJSON_IsNull(j)) {
        if (!is_int(j, 1, 4096))
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: %snum_attention_heads must be a positive integer", path, where);
        c->heads[v] = (int)j->valuedouble;
    }
    j = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_eps");
    if (j && !cJSON_IsNull(j)) {
        if (!cJSON_IsNumber(j) || !(j->valuedouble > 0) || j->valuedouble > 1)
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: %slayer_norm_eps must be in (0, 1]", path, where);
        c->eps[v] = j->valuedouble;
    }
    j = cJSON_GetObjectItemCaseSensitive(o, "hidden_size");
    if (j && !cJSON_IsNull(j)) {
        if (!is_int(j, 1, 1 << 16)) return fathom_fail(FATHOM_ERR_FORMAT, "%s: %shidden_size must be a positive integer", path, where);
        c->hidden[v] = (int)j->valuedouble;
    }
    j = cJSON_GetObjectItemCaseSensitive(o, "num_hidden_layers");
    if (j && !cJSON_IsNull(j)) {
        if (!is_int(j, 1, 4096)) return fathom_fail(FATHOM_ERR_FORMAT, "%s: %snum_hidden_layers must be a positive integer", path, where);
        c->layers[v] = (int)j->valuedouble;
    }
    j = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    if (j && !cJSON_IsNull(j) && (!cJSON_IsString(j) || strcmp(j->valuestring, "gelu") != 0))
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: %shidden_act must be \"gelu\" (the Depth Pro architecture)", path, where);
    FATHOM_TRY(want_bool(o, "use_swiglu_ffn", 0, path, where));
    FATHOM_TRY(want_num(o, "patch_size", 16, path, where));
    FATHOM_TRY(want_num(o, "image_size", FATHOM_DP_SIZE, path, where));
    return FATHOM_OK;
}

static fathom_status read_root(const cJSON *root, const char *path, fathom_dp_config *c) {
    if (!cJSON_IsObject(root)) return fathom_fail(FATHOM_ERR_FORMAT, "%s: not a JSON object", path);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (mt && cJSON_IsString(mt) && strcmp(mt->valuestring, "depth_anything") == 0)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: this is a Depth Anything V2 model (model_type \"depth_anything\"), not Depth Pro",
                           path);
    if (mt && cJSON_IsString(mt) && strcmp(mt->valuestring, "depth_pro") != 0)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a Depth Pro config (\"depth_pro\")",
                           path, mt->valuestring);
    for (int v = 0; v < 3; v++) FATHOM_TRY(read_vit(root, v, path, c));
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "intermediate_hook_ids");
    if (h && !cJSON_IsNull(h)) {
        if (!cJSON_IsArray(h) || cJSON_GetArraySize(h) != 2 || !is_int(cJSON_GetArrayItem(h, 0), 0, 4095) ||
            !is_int(cJSON_GetArrayItem(h, 1), 0, 4095))
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"intermediate_hook_ids\" must be 2 block indices", path);
        /* HF lists the deeper hook first: official [5, 11] is HF [11, 5] */
        c->hooks[0] = (int)cJSON_GetArrayItem(h, 1)->valuedouble;
        c->hooks[1] = (int)cJSON_GetArrayItem(h, 0)->valuedouble;
        c->has_hooks = 1;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "fusion_hidden_size");
    if (f && !cJSON_IsNull(f)) {
        if (!is_int(f, 1, 1 << 16)) return fathom_fail(FATHOM_ERR_FORMAT, "%s: \"fusion_hidden_size\" must be a positive integer", path);
        c->fusion = (int)f->valuedouble;
    }
    static const double ratios[3] = {0.25, 0.5, 1}, overlaps[3] = {0.0, 0.5, 0.25};
    FATHOM_TRY(want_list(root, "scaled_images_ratios", ratios, 3, path));
    FATHOM_TRY(want_list(root, "scaled_images_overlap_ratios", overlaps, 3, path));
    FATHOM_TRY(want_num(root, "merge_padding_value", 3, path, ""));
    FATHOM_TRY(want_num(root, "patch_size", FATHOM_DP_SIZE, path, ""));
    FATHOM_TRY(want_num(root, "num_fov_head_layers", 2, path, ""));
    FATHOM_TRY(want_bool(root, "use_batch_norm_in_fusion_residual", 0, path, ""));
    FATHOM_TRY(want_bool(root, "use_bias_in_fusion_residual", 1, path, ""));
    FATHOM_TRY(want_bool(root, "use_fov_model", 1, path, ""));
    return FATHOM_OK;
}

fathom_status fathom_dp_config_parse(const char *text, size_t n, const char *path, fathom_dp_config *out) {
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, n); /* owned */
    if (!root) return fathom_fail(FATHOM_ERR_FORMAT, "%s: not valid JSON", path);
    fathom_status st = read_root(root, path, out);
    cJSON_Delete(root);
    out->present = st == FATHOM_OK;
    return st;
}

fathom_status fathom_dp_config_load(const char *path, fathom_dp_config *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return fathom_fail(fathom_status_from_errno(errno), "%s: %s", path, strerror(errno));
    char *buf = malloc(DPC_MAX_BYTES + 1); /* owned */
    size_t n = buf ? fread(buf, 1, DPC_MAX_BYTES + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    fathom_status st;
    if (!buf) st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    else if (err) st = fathom_fail(FATHOM_ERR_IO, "%s: read error", path);
    else if (n > DPC_MAX_BYTES) st = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: config larger than 1 MiB", path);
    else st = fathom_dp_config_parse(buf, n, path, out);
    free(buf);
    return st;
}
