/* ws.c - WebSocket sink GET /v1/stream: one thread per client on the socket libmicrohttpd hands
 * over after the upgrade, with wslay doing the framing.
 *
 * Each client thread waits on its eventfd (poked for every new result) and its socket. It
 * keeps a reference to the newest result only while fewer than client_queue results wait to be
 * sent to it; otherwise that result is dropped for this client (counted), so a slow or stalled
 * reader only ever costs its own frames. The message is framed once per result for all clients
 * (ws_frame.c) and written from the shared bytes, without a copy per client; wslay's own queue
 * (control frames, replies) goes out between two results, never inside one. Text messages from
 * the client are settings patches (the same JSON as PATCH /v1/config); the reply is the new
 * settings or an error, never a disconnect. The message format is in ws_frame.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <wslay/wslay.h>

#include "core/log.h"
#include "serve/priv.h"

#define SV_WS_QMAX 64

struct sv_ws_client {
    sv_server *s;
    struct MHD_UpgradeResponseHandle *urh; /* borrowed from MHD until UPGRADE_ACTION_CLOSE */
    int sock;                              /* borrowed with urh */
    int efd;                               /* owned: new-result wakeups */
    char *extra;                           /* owned: bytes MHD read past the handshake */
    size_t n_extra, extra_off;
    int float32;
    int max_queue;                         /* <= SV_WS_QMAX (client_queue's upper bound) */
    sv_frame *q[SV_WS_QMAX];               /* owned references: results waiting, a ring */
    int qh, qn;
    size_t off;                            /* bytes of q[qh]'s message already sent */
    pthread_t th;
    int done;                              /* thread finished (under cl_mu) */
    sv_ws_client *next;
};

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *u) {
    sv_ws_client *c = u;
    if (c->extra_off < c->n_extra) {
        size_t n = c->n_extra - c->extra_off < len ? c->n_extra - c->extra_off : len;
        memcpy(buf, c->extra + c->extra_off, n);
        c->extra_off += n;
        return (ssize_t)n;
    }
    ssize_t r = recv(c->sock, buf, len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *u) {
    sv_ws_client *c = u;
    ssize_t r = send(c->sock, data, len, MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static void send_text(wslay_event_context_ptr ctx, const char *text) { /* wslay copies it */
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, strlen(text)};
    wslay_event_queue_msg(ctx, &m);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *u) {
    sv_ws_client *c = u;
    sv_server *s = c->s;
    if (a->opcode != WSLAY_TEXT_FRAME) return; /* close/ping are answered by wslay */
    char err[300];
    int rc = sv_patch_config(s, (const char *)a->msg, a->msg_length, err, sizeof err);
    sv_config cur;
    sv_get_config(s, &cur);
    char *cfg = sv_config_to_json(&cur);
    cJSON *o = cJSON_CreateObject();
    if (rc == 0) {
        cJSON_AddItemToObject(o, "config", cJSON_Parse(cfg ? cfg : "{}"));
    } else {
        atomic_fetch_add(&s->n_bad_requests, 1);
        fathom_log(FATHOM_LOG_WARN, "ws: bad control message: %s", err);
        cJSON_AddStringToObject(o, "error", err);
    }
    char *out = cJSON_PrintUnformatted(o);
    if (out) send_text(ctx, out);
    free(out);
    free(cfg);
    cJSON_Delete(o);
}

/* Write as much of the oldest waiting result as the socket takes. Returns 1 when it went out
 * whole, 0 when the socket is full, -1 on a dead connection or no memory. */
static int send_frame(sv_ws_client *c) {
    sv_frame *f = c->q[c->qh];
    size_t len;
    const uint8_t *m = sv_frame_ws(f, c->float32, &len);
    if (!m) return -1;
    while (c->off < len) {
        ssize_t r = send(c->sock, m + c->off, len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (r <= 0) return -1;
        c->off += (size_t)r;
    }
    sv_server *s = c->s;
    atomic_fetch_add(&s->n_sent_ws, 1);
    sv_rate_tick(s, &s->rate_sent);
    sv_record_latency(s, sv_now() - f->t_capture); /* capture to the last byte sent */
    sv_frame_unref(&c->q[c->qh]);
    c->qh = (c->qh + 1) % SV_WS_QMAX;
    c->qn--;
    c->off = 0;
    return 1;
}

/* Drop the results not yet started (closing). */
static void drop_waiting(sv_ws_client *c) {
    int keep = c->off > 0; /* a frame half sent must be finished first */
    while (c->qn > keep) {
        int i = (c->qh + c->qn - 1) % SV_WS_QMAX;
        sv_frame_unref(&c->q[i]);
        c->qn--;
    }
}

/* Send what can go now: wslay's queue and our results, one whole message at a time. 0, or -1
 * when the connection is dead. */
static int flush(sv_ws_client *c, wslay_event_context_ptr ctx, int closing) {
    for (;;) {
        if (c->off == 0 && wslay_event_want_write(ctx)) {
            if (wslay_event_send(ctx) != 0) return -1;
            if (wslay_event_want_write(ctx)) return 0; /* socket full */
        }
        if (closing || wslay_event_get_close_sent(ctx) || wslay_event_get_close_received(ctx))
            drop_waiting(c);
        if (c->qn == 0) return 0;
        int r = send_frame(c);
        if (r <= 0) return r;
    }
}

static void *client_main(void *arg) {
    sv_ws_client *c = arg;
    sv_server *s = c->s;
    struct wslay_event_callbacks cb = {on_recv, on_send, NULL, NULL, NULL, NULL, on_msg};
    wslay_event_context_ptr ctx = NULL;
    fcntl(c->sock, F_SETFL, fcntl(c->sock, F_GETFL) | O_NONBLOCK);
    uint64_t seen = 0;
    if (wslay_event_context_server_init(&ctx, &cb, c) == 0) {
        wslay_event_config_set_max_recv_msg_length(ctx, 64 * 1024);
        /* start with the current result, if any */
        pthread_mutex_lock(&s->out.mu);
        if (s->out.seq > 0) seen = s->out.seq - 1;
        pthread_mutex_unlock(&s->out.mu);
        double close_deadline = 0;
        for (;;) {
            if (atomic_load(&s->stop) && close_deadline == 0) {
                wslay_event_queue_close(ctx, 1001, (const uint8_t *)"server shutting down", 20);
                close_deadline = sv_mono() + 0.5;
            }
            if (close_deadline > 0 && sv_mono() > close_deadline) break;
            if (close_deadline == 0) {
                uint64_t before = seen;
                sv_frame *f = sv_slot_wait(&s->out, &seen, 0, NULL);
                if (f) {
                    sv_config cfg;
                    sv_get_config(s, &cfg);
                    uint64_t skipped = before ? seen - before - 1 : 0;
                    if (!cfg.ws || c->qn >= c->max_queue) {
                        skipped++;
                        sv_frame_unref(&f);
                    } else { /* the reference moves to the client's queue */
                        c->q[(c->qh + c->qn++) % SV_WS_QMAX] = f;
                    }
                    if (skipped) atomic_fetch_add(&s->n_drop_ws, skipped);
                }
            }
            if (flush(c, ctx, close_deadline > 0) != 0) break;
            struct pollfd pf[2] = {{c->sock, POLLIN, 0}, {c->efd, POLLIN, 0}};
            if (wslay_event_want_write(ctx) || c->qn > 0) pf[0].events |= POLLOUT;
            if (c->extra_off < c->n_extra) pf[0].revents |= POLLIN;
            else if (poll(pf, 2, 100) < 0 && errno != EINTR) break;
            if (pf[1].revents & POLLIN) {
                uint64_t v;
                ssize_t r = read(c->efd, &v, sizeof v);
                (void)r;
            }
            if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(ctx) != 0) break;
            if ((pf[0].revents & POLLOUT) && flush(c, ctx, close_deadline > 0) != 0) break;
            if (!wslay_event_want_read(ctx) && !wslay_event_want_write(ctx) && c->qn == 0) break;
        }
        wslay_event_context_free(ctx);
    }
    while (c->qn > 0) { /* results never sent */
        sv_frame_unref(&c->q[c->qh]);
        c->qh = (c->qh + 1) % SV_WS_QMAX;
        c->qn--;
    }
    atomic_fetch_sub(&s->n_ws, 1);
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    pthread_mutex_lock(&s->cl_mu);
    c->done = 1;
    pthread_mutex_unlock(&s->cl_mu);
    return NULL;
}

/* Join and free finished clients. Caller holds cl_mu. */
static void reap(sv_server *s, int all) {
    sv_ws_client **pp = &s->clients;
    while (*pp) {
        sv_ws_client *c = *pp;
        if (!c->done && !all) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        pthread_mutex_unlock(&s->cl_mu);
        pthread_join(c->th, NULL);
        pthread_mutex_lock(&s->cl_mu);
        close(c->efd);
        free(c->extra);
        free(c);
    }
}

void sv_ws_start_client(sv_server *s, void *urh, int sock, const char *extra, size_t n_extra,
                        int float32) {
    sv_config cfg;
    sv_get_config(s, &cfg);
    sv_ws_client *c = calloc(1, sizeof *c); /* owned by s->clients */
    if (c) {
        c->s = s;
        c->urh = urh;
        c->sock = sock;
        c->float32 = float32;
        c->max_queue = cfg.client_queue < SV_WS_QMAX ? cfg.client_queue : SV_WS_QMAX;
        c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (n_extra) {
            c->extra = malloc(n_extra);
            if (c->extra) memcpy(c->extra, extra, n_extra), c->n_extra = n_extra;
        }
    }
    pthread_mutex_lock(&s->cl_mu);
    reap(s, 0);
    if (!c || c->efd < 0 || (n_extra && !c->extra) || atomic_load(&s->stop) ||
        pthread_create(&c->th, NULL, client_main, c) != 0) {
        pthread_mutex_unlock(&s->cl_mu);
        if (c && c->efd >= 0) close(c->efd);
        if (c) free(c->extra);
        free(c);
        atomic_fetch_sub(&s->n_ws, 1);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    c->next = s->clients;
    s->clients = c;
    pthread_mutex_unlock(&s->cl_mu);
}

void sv_ws_notify_all(sv_server *s) {
    pthread_mutex_lock(&s->cl_mu);
    for (sv_ws_client *c = s->clients; c; c = c->next) {
        uint64_t one = 1;
        ssize_t r = write(c->efd, &one, sizeof one);
        (void)r;
    }
    pthread_mutex_unlock(&s->cl_mu);
}

void sv_ws_close_all(sv_server *s) {
    sv_ws_notify_all(s); /* stop is set: each thread queues its close frame */
    pthread_mutex_lock(&s->cl_mu);
    reap(s, 1);
    pthread_mutex_unlock(&s->cl_mu);
}
