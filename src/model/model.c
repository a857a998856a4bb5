/* model.c - the public fathom_model handle around fathom_weights. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/depthpro.h"

fathom_model_params fathom_model_default_params(void) {
    fathom_model_params p = {.metric = -1, .max_depth = 0.0f};
    return p;
}

fathom_status fathom_model_load(const char *path, const fathom_model_params *params, fathom_model **out) {
    if (!out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_model_load: NULL out");
    *out = NULL;
    if (!path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_model_load: NULL path");
    if (strlen(path) >= sizeof ((fathom_model *)0)->path)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_model_load: path longer than %zu bytes",
                           sizeof ((fathom_model *)0)->path - 1);
    fathom_model *m = calloc(1, sizeof *m); /* owned until handed to *out */
    if (!m) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    fathom_status st;
    if (fathom_dp_detect(path)) {
        st = fathom_dp_load(path, &m->dp);
    } else if (fathom_vda_file_is_vda(path)) {
        /* VDA's head ends in ReLU for metric models too: metric only changes the stitching */
        fathom_model_params bp = params ? *params : fathom_model_default_params();
        const char *base = strrchr(path, '/');
        m->vda_metric = bp.metric >= 0 ? bp.metric != 0 : strstr(base ? base + 1 : path, "metric") != NULL;
        bp.metric = 0;
        fathom_config cfg;
        int have_cfg = 0;
        st = fathom_vda_config_near(path, &cfg, &have_cfg);
        if (have_cfg && cfg.has_metric) { /* the file says; --metric still wins */
            if (!params || params->metric < 0) m->vda_metric = cfg.metric;
            cfg.has_metric = 0; /* the DA-V2 head stays ReLU: metric is VDA's stitching only */
        }
        if (st == FATHOM_OK) st = fathom_vda_weights_load(path, have_cfg ? &cfg : NULL, &bp, &m->w, &m->vda);
    } else {
        st = fathom_weights_load(path, params, &m->w);
    }
    if (st != FATHOM_OK) {
        free(m);
        return st;
    }
    snprintf(m->path, sizeof m->path, "%s", path);
    *out = m;
    return FATHOM_OK;
}

void fathom_model_free(fathom_model **m) {
    if (!m || !*m) return;
    fathom_weights_free(&(*m)->w);
    fathom_dp_free(&(*m)->dp);
    fathom_vda_weights_free(&(*m)->vda);
    free(*m);
    *m = NULL;
}

void fathom_model_get_info(const fathom_model *m, fathom_model_info *info) {
    memset(info, 0, sizeof *info);
    if (m && m->dp) {
        fathom_dp_get_info(m->dp, info);
        return;
    }
    if (!m || !m->w) return;
    snprintf(info->family, sizeof info->family, "depth-anything-v2");
    const fathom_weights *w = m->w;
    const fathom_arch *a = &w->arch;
    snprintf(info->format, sizeof info->format, "%s", w->format);
    snprintf(info->arch, sizeof info->arch, "%s", a->name);
    snprintf(info->dtype, sizeof info->dtype, "%s", w->dtype);
    info->params = w->params;
    info->unused_params = w->unused_params;
    info->metric = a->metric;
    info->max_depth = a->max_depth;
    info->embed_dim = a->embed_dim;
    info->depth = a->depth;
    info->heads = a->heads;
    info->mlp_hidden = a->mlp_hidden;
    info->features = a->features;
    memcpy(info->out_channels, a->out_ch, sizeof info->out_channels);
    memcpy(info->layer_idx, a->layer_idx, sizeof info->layer_idx);
    if (m->vda) {
        info->video = 1;
        info->metric = m->vda_metric;
        for (int k = 0; k < 4; k++) info->temporal_widths[k] = m->vda->mm[k].C;
    }
}

int fathom_model_is_video(const fathom_model *m) { return m && m->vda; }
