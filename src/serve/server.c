/* server.c - start and stop of `fathom serve`: engine, stages, HTTP. The stop order makes
 * shutdown bounded: set stop (every wait in the stages is <= 0.2 s and every libavformat call
 * has an interrupt callback), close WebSockets with close frames, join the stages, then stop
 * the HTTP daemon (running requests finish, MJPEG streams end). */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/status.h"
#include "serve/priv.h"

void sv_source_global_init(void); /* source.c */

int sv_host_needs_token(const char *host) {
    return strcmp(host, "127.0.0.1") && strcmp(host, "::1") && strcmp(host, "localhost");
}

int sv_server_port(const sv_server *s) { return s->port; }

void sv_server_get_config(sv_server *s, sv_config *c) { sv_get_config(s, c); }

fathom_status sv_server_start(const sv_params *p, sv_server **out) {
    *out = NULL;
    if (!p->model) return fathom_fail(FATHOM_ERR_INVALID_ARG, "serve: no model");
    if (sv_host_needs_token(p->host) && !p->token[0])
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "listening on %s needs a token", p->host);
    sv_server *s = calloc(1, sizeof *s); /* owned by the caller (sv_server_free) */
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "serve: out of memory");
    s->p = *p;
    s->cfg = p->config;
    pthread_mutex_init(&s->cfg_mu, NULL);
    pthread_mutex_init(&s->apply_mu, NULL);
    pthread_mutex_init(&s->engine_mu, NULL);
    pthread_mutex_init(&s->gov_mu, NULL);
    pthread_mutex_init(&s->cl_mu, NULL);
    pthread_mutex_init(&s->stats_mu, NULL);
    pthread_mutex_init(&s->job_mu, NULL);
    pthread_cond_init(&s->job_cv, NULL);
    pthread_mutex_init(&s->mj_mu, NULL);
    sv_queue_init(&s->prep);
    sv_queue_init(&s->in);
    sv_queue_init(&s->post);
    sv_slot_init(&s->out);
    s->t_start = sv_mono();
    snprintf(s->source_state, sizeof s->source_state, "starting");
    snprintf(s->output_state[0], sizeof s->output_state[0], "off");
    snprintf(s->output_state[1], sizeof s->output_state[1], "off");
    pthread_mutex_init(&s->outq_mu, NULL);
    sv_cond_init(&s->outq_cv);
    sv_source_global_init();
    fathom_status st = sv_switch_model(s, p->config.model);
    if (st != FATHOM_OK) goto fail;
    if (sv_http_start(s) != 0) {
        st = FATHOM_ERR_IO;
        goto fail;
    }
    if (pthread_create(&s->th_analyser, NULL, sv_analyser_main, s) != 0) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "serve: cannot start the analyser thread");
        goto fail;
    }
    s->have_analyser_th = 1;
    pthread_setname_np(s->th_analyser, "sv-analyser"); /* per-thread CPU in top -H, perf, the benchmark */
    if (pthread_create(&s->th_post, NULL, sv_post_main, s) != 0) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "serve: cannot start the post thread");
        goto fail;
    }
    s->have_post_th = 1;
    pthread_setname_np(s->th_post, "sv-post");
    if (pthread_create(&s->th_outputs, NULL, sv_outputs_main, s) != 0) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "serve: cannot start the outputs thread");
        goto fail;
    }
    s->have_outputs_th = 1;
    pthread_setname_np(s->th_outputs, "sv-outputs");
    if (pthread_create(&s->th_prepare, NULL, sv_prepare_main, s) != 0) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "serve: cannot start the prepare thread");
        goto fail;
    }
    s->have_prepare_th = 1;
    pthread_setname_np(s->th_prepare, "sv-prepare");
    if (pthread_create(&s->th_source, NULL, sv_source_main, s) != 0) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "serve: cannot start the source thread");
        goto fail;
    }
    s->have_source_th = 1;
    pthread_setname_np(s->th_source, "sv-source");
    *out = s;
    return FATHOM_OK;
fail:;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fathom_last_error());
    sv_server_free(&s);
    return fathom_fail(st, "%s", msg);
}

void sv_server_free(sv_server **ps) {
    sv_server *s = *ps;
    if (!s) return;
    *ps = NULL;
    atomic_store(&s->stop, 1);
    sv_queue_wake(&s->prep);
    sv_queue_wake(&s->in);
    sv_queue_wake(&s->post);
    sv_slot_wake(&s->out);
    sv_ws_close_all(s);
    if (s->have_source_th) pthread_join(s->th_source, NULL);
    if (s->have_prepare_th) pthread_join(s->th_prepare, NULL);
    if (s->have_analyser_th) pthread_join(s->th_analyser, NULL);
    if (s->have_post_th) pthread_join(s->th_post, NULL);
    pthread_mutex_lock(&s->outq_mu);
    pthread_cond_broadcast(&s->outq_cv);
    pthread_mutex_unlock(&s->outq_mu);
    if (s->have_outputs_th) pthread_join(s->th_outputs, NULL); /* finalizes the recording */
    for (; s->outq_n > 0; s->outq_n--, s->outq_head = (s->outq_head + 1) % SV_OUTQ)
        sv_frame_unref(&s->outq[s->outq_head]);
    sv_http_stop(s);
    sv_ws_close_all(s); /* clients that upgraded while stopping */
    fathom_governor_free(&s->gov);
    fathom_vda_free(&s->vda);
    fathom_engine_free(&s->engine);
    fathom_model_free(&s->model_owned);
    sv_queue_destroy(&s->prep);
    sv_queue_destroy(&s->in);
    sv_queue_destroy(&s->post);
    sv_slot_destroy(&s->out);
    pthread_mutex_destroy(&s->cfg_mu);
    pthread_mutex_destroy(&s->apply_mu);
    pthread_mutex_destroy(&s->outq_mu);
    pthread_cond_destroy(&s->outq_cv);
    pthread_mutex_destroy(&s->engine_mu);
    pthread_mutex_destroy(&s->gov_mu);
    pthread_mutex_destroy(&s->cl_mu);
    pthread_mutex_destroy(&s->stats_mu);
    pthread_mutex_destroy(&s->job_mu);
    pthread_cond_destroy(&s->job_cv);
    pthread_mutex_destroy(&s->mj_mu);
    free(s);
}
