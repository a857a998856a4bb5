/* api.c - the public serve section of fathom.h: thin wrappers over the internal server, so the
 * CLI (and any host program) runs a worker without internal headers. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "serve/serve.h"

fathom_status fathom_serve_config_new(fathom_serve_config **out) {
    *out = malloc(sizeof **out); /* owned by the caller (fathom_serve_config_free) */
    if (!*out) return fathom_fail(FATHOM_ERR_NOMEM, "serve: out of memory");
    sv_config_defaults(*out);
    return FATHOM_OK;
}

void fathom_serve_config_free(fathom_serve_config **c) {
    if (!c) return;
    free(*c);
    *c = NULL;
}

fathom_status fathom_serve_config_set(fathom_serve_config *c, const char *key, const char *value) {
    char err[400];
    if (sv_config_set(c, key, value, err, sizeof err) != 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s", err);
    return FATHOM_OK;
}

fathom_status fathom_serve_config_load_yaml(fathom_serve_config *c, const char *text, size_t len) {
    char err[400];
    if (sv_config_load_yaml(c, text, len, err, sizeof err) != 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s", err);
    return FATHOM_OK;
}

char *fathom_serve_config_yaml(const fathom_serve_config *c) { return sv_config_to_yaml(c); }

fathom_serve_params fathom_serve_default_params(void) {
    fathom_serve_params p;
    memset(&p, 0, sizeof p);
    p.engine = fathom_engine_default_params();
    p.governor = fathom_governor_default_params();
    p.model_params = fathom_model_default_params();
    strcpy(p.host, "127.0.0.1");
    p.port = 8080;
    return p;
}

fathom_status fathom_serve_start(const fathom_serve_params *pp, fathom_server **out) {
    static const sv_params zero; /* sv_params is large: built on the heap */
    sv_params *p = malloc(sizeof *p);
    if (!p) return fathom_fail(FATHOM_ERR_NOMEM, "serve: out of memory");
    *p = zero;
    p->model = pp->model;
    p->engine = pp->engine;
    p->governor = pp->governor;
    p->use_governor = pp->use_governor;
    memcpy(p->host, pp->host, sizeof p->host);
    p->host[sizeof p->host - 1] = '\0';
    p->port = pp->port;
    memcpy(p->token, pp->token, sizeof p->token);
    p->token[sizeof p->token - 1] = '\0';
    if (pp->config) p->config = *pp->config;
    else sv_config_defaults(&p->config);
    p->model_params = pp->model_params;
    p->offline = pp->offline;
    fathom_status st = sv_server_start(p, out);
    free(p);
    return st;
}

int fathom_serve_port(const fathom_server *s) { return sv_server_port(s); }

fathom_status fathom_serve_set_config(fathom_server *s, const fathom_serve_config *c) {
    return sv_server_set_config(s, c);
}

void fathom_serve_stop(fathom_server **s) { sv_server_free(s); }

int fathom_serve_host_needs_token(const char *host) { return sv_host_needs_token(host); }
