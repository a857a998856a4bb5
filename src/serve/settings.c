/* settings.c - live settings changes: PATCH /v1/config, WebSocket control messages and config
 * reloads all end here, one at a time (apply_mu). A new model is loaded and its engine created
 * on the caller's thread (an HTTP connection or the CLI), never on the analyser's, and swapped
 * in under engine_mu between two frames; a model that fails to load changes nothing. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "serve/priv.h"

fathom_status sv_switch_model(sv_server *s, const char *name) {
    fathom_model *m = NULL; /* owned until swapped in */
    const fathom_model *use = s->p.model;
    fathom_status st;
    if (name[0]) {
        char path[4096];
        fathom_resolve_opts ro;
        memset(&ro, 0, sizeof ro);
        ro.offline = s->p.offline;
        st = fathom_model_resolve(name, &ro, path, sizeof path);
        if (st == FATHOM_OK) st = fathom_model_load(path, &s->p.model_params, &m);
        if (st != FATHOM_OK) return fathom_fail(st, "model %s: %s", name, fathom_last_error());
        use = m;
    }
    fathom_engine *e = NULL;
    int video = fathom_model_is_video(use); /* runs as a streaming VDA session, made lazily */
    st = video ? FATHOM_OK : fathom_engine_create(use, &s->p.engine, &e);
    if (st != FATHOM_OK) {
        fathom_model_free(&m);
        return fathom_fail(st, "model %s: %s", name[0] ? name : "(initial)", fathom_last_error());
    }
    fathom_model_info mi;
    fathom_model_get_info(use, &mi);
    pthread_mutex_lock(&s->engine_mu);
    fathom_engine *old_e = s->engine;
    fathom_model *old_m = s->model_owned;
    fathom_vda *old_v = s->vda; /* borrows the old model: freed before it */
    s->vda = NULL;
    s->video = video;
    s->engine = e;
    s->model = use;
    s->model_owned = m;
    s->metric = mi.metric;
    pthread_mutex_unlock(&s->engine_mu);
    fathom_vda_free(&old_v);
    fathom_engine_free(&old_e);
    fathom_model_free(&old_m);
    return FATHOM_OK;
}

/* With apply_mu held: the model first (it can fail), then the settings as a whole. */
static fathom_status apply_locked(sv_server *s, const sv_config *c) {
    sv_config cur;
    sv_get_config(s, &cur);
    if (strcmp(cur.model, c->model) != 0) {
        fathom_status st = sv_switch_model(s, c->model);
        if (st != FATHOM_OK) return st;
        fathom_log(FATHOM_LOG_INFO, "model switched to %s", c->model[0] ? c->model : "the initial model");
    }
    pthread_mutex_lock(&s->cfg_mu);
    s->cfg = *c;
    atomic_fetch_add(&s->cfg_gen, 1);
    pthread_mutex_unlock(&s->cfg_mu);
    return FATHOM_OK;
}

fathom_status sv_server_set_config(sv_server *s, const sv_config *c) {
    pthread_mutex_lock(&s->apply_mu);
    fathom_status st = apply_locked(s, c);
    pthread_mutex_unlock(&s->apply_mu);
    return st;
}

int sv_patch_config(sv_server *s, const char *json, size_t len, char *err, size_t cap) {
    pthread_mutex_lock(&s->apply_mu);
    sv_config c;
    sv_get_config(s, &c);
    int rc = 0;
    if (sv_config_patch_json(&c, json, len, err, cap) != 0) {
        rc = 400;
    } else if (apply_locked(s, &c) != FATHOM_OK) {
        snprintf(err, cap, "%s (settings unchanged)", fathom_last_error());
        rc = 422;
    }
    pthread_mutex_unlock(&s->apply_mu);
    return rc;
}
