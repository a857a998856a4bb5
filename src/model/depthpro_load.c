/* depthpro_load.c - Depth Pro files: what a tensor set is (Depth Pro, DA-V2) and the loader
 * entry (official .pt(h), .safetensors, HF folder + its config.json); the mapping itself is
 * depthpro_weights.c. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "model/depthpro.h"
#include "model/depthpro_config.h"
#include "model/pth.h"
#include "model/safetensors.h"

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

int fathom_dp_is_depthpro_set(const fathom_tensor_set *set) {
    size_t hits = 0;
    for (size_t i = 0; i < set->n; i++) {
        const char *s = set->t[i].name;
        if (has_prefix(s, "encoder.patch_encoder.") || has_prefix(s, "depth_pro.encoder.patch_encoder.") ||
            has_prefix(s, "fov.encoder.") || has_prefix(s, "fov_model.") || has_prefix(s, "decoder.fusions.") ||
            has_prefix(s, "fusion_stage."))
            hits++;
    }
    return hits > 0 && hits * 4 >= set->n;
}

int fathom_dp_is_dav2_set(const fathom_tensor_set *set) {
    size_t hits = 0;
    for (size_t i = 0; i < set->n; i++) {
        const char *s = set->t[i].name;
        if (has_prefix(s, "pretrained.") || has_prefix(s, "depth_head.") || has_prefix(s, "backbone.") ||
            has_prefix(s, "neck.reassemble_stage."))
            hits++;
    }
    return hits > 0 && hits * 2 >= set->n;
}

/* ---------------------------------------------------------------- files */

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The config that describes an official .pth: config.json or hf/config.json beside it. */
static fathom_status sibling_config(const char *path, fathom_dp_config *cfg) {
    char dir[4096], cand[4200];
    memset(cfg, 0, sizeof *cfg);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    static const char *const rel[2] = {"hf/config.json", "config.json"};
    for (int k = 0; k < 2; k++) {
        snprintf(cand, sizeof cand, "%s/%s", dir, rel[k]);
        if (is_file(cand)) return fathom_dp_config_load(cand, cfg);
    }
    return FATHOM_OK;
}

fathom_status fathom_dp_load(const char *path, fathom_dp_weights **out) {
    if (!out || !path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_dp_load: NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: no such file or folder", path);
    fathom_dp_config cfg;
    fathom_tensor_set set;
    const char *format;
    if (S_ISDIR(sb.st_mode)) {
        char model[4200], config[4200];
        snprintf(model, sizeof model, "%s/model.safetensors", path);
        snprintf(config, sizeof config, "%s/config.json", path);
        if (!is_file(model))
            return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: folder without model.safetensors (expected the apple/DepthPro-hf layout)", path);
        memset(&cfg, 0, sizeof cfg);
        if (is_file(config)) FATHOM_TRY(fathom_dp_config_load(config, &cfg));
        FATHOM_TRY(fathom_st_open_file(model, &set));
        format = "hf-folder";
    } else {
        uint8_t head[16] = {0};
        FILE *f = fopen(path, "rb");
        if (!f) return fathom_fail(FATHOM_ERR_IO, "%s: cannot open", path);
        size_t got = fread(head, 1, sizeof head, f);
        fclose(f);
        if (fathom_pth_sniff(head, got)) {
            FATHOM_TRY(fathom_pth_open_file(path, &set));
            format = "pth";
        } else if (fathom_st_sniff(head, got)) {
            FATHOM_TRY(fathom_st_open_file(path, &set));
            format = "safetensors";
        } else {
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: neither a PyTorch checkpoint (zip) nor a safetensors file", path);
        }
        fathom_status st = sibling_config(path, &cfg);
        if (st != FATHOM_OK) {
            fathom_tensor_set_close(&set);
            return st;
        }
    }
    fathom_status st = fathom_dp_map_set(&set, &cfg, out);
    fathom_tensor_set_close(&set);
    if (st == FATHOM_OK) snprintf((*out)->format, sizeof (*out)->format, "%s", format);
    return st;
}
