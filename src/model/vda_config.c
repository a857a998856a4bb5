/* vda_config.c - the optional config.json next to a VDA .pth ("model_type":
 * "video_depth_anything", the layout of ../shared/golden-vda cases): its encoder_config
 * gives what the tensors cannot say for non-standard sizes (heads, the blocks feeding the
 * head, LayerNorm eps). Released checkpoints need no config. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/vda.h"

fathom_status fathom_vda_config_near(const char *pth, fathom_config *cfg, int *found) {
    *found = 0;
    memset(cfg, 0, sizeof *cfg);
    char path[4096];
    const char *slash = strrchr(pth, '/');
    int dn = slash ? (int)(slash - pth) : 1;
    if ((size_t)snprintf(path, sizeof path, "%.*s/config.json", dn, slash ? pth : ".") >= sizeof path)
        return FATHOM_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return FATHOM_OK;
    char *text = malloc(1 << 20); /* owned */
    size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!text) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    cJSON *root = cJSON_ParseWithLength(text, n); /* owned */
    free(text);
    fathom_status st = FATHOM_OK;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(root, "encoder_config");
    if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "video_depth_anything") != 0 || !cJSON_IsObject(ec))
        goto done; /* someone else's config: not ours to read */
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(ec, "num_heads");
    const cJSON *li = cJSON_GetObjectItemCaseSensitive(ec, "intermediate_layer_idx");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(ec, "layer_norm_eps");
    if (cJSON_IsNumber(h)) {
        if (h->valueint < 1 || h->valueint > 4096) {
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: encoder_config.num_heads must be in [1, 4096]", path);
            goto done;
        }
        cfg->has_heads = 1, cfg->heads = h->valueint;
    }
    if (cJSON_IsArray(li)) {
        if (cJSON_GetArraySize(li) != 4) {
            st = fathom_fail(FATHOM_ERR_FORMAT, "%s: encoder_config.intermediate_layer_idx must list 4 blocks", path);
            goto done;
        }
        for (int k = 0; k < 4; k++) {
            const cJSON *e = cJSON_GetArrayItem(li, k);
            if (!cJSON_IsNumber(e) || e->valueint < 0 || e->valueint > 4096) {
                st = fathom_fail(FATHOM_ERR_FORMAT, "%s: encoder_config.intermediate_layer_idx[%d] is not a block index", path, k);
                goto done;
            }
            cfg->out_indices[k] = e->valueint;
        }
        cfg->has_out_indices = 1;
    }
    const cJSON *met = cJSON_GetObjectItemCaseSensitive(root, "metric");
    if (cJSON_IsBool(met)) cfg->has_metric = 1, cfg->metric = cJSON_IsTrue(met);
    if (cJSON_IsNumber(eps) && eps->valuedouble > 0) cfg->has_ln_eps = 1, cfg->ln_eps = eps->valuedouble;
    *found = 1;
done:
    cJSON_Delete(root);
    return st;
}
