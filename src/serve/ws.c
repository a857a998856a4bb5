/* ws.c - WebSocket sink GET /v1/stream: the sockets libmicrohttpd hands over after the
 * upgrade, all served by one loop thread, with wslay doing the framing.
 *
 * The post stage wakes the loop once per result (an eventfd); the loop gives every client a
 * reference to it while fewer than client_queue results wait for that client (otherwise the
 * client loses it, counted), then writes to every socket that takes data, never blocking: a
 * slow or stalled reader only ever costs its own frames. The message is framed once per result
 * for all clients (ws_frame.c) and written from the shared bytes, without a copy per client;
 * wslay's own frames (replies, pongs, close) go out between two results, never inside one.
 * One thread for all clients, rather than one each, is one wakeup per result instead of one
 * per client (on 2 cores, 50 threads woken per result queue for the CPU with the pipeline). Text messages from the client are settings patches (the same
 * JSON as PATCH /v1/config), applied on a control thread so a model switch does not pause the
 * stream; the reply is the new settings or an error, never a disconnect. */
#define _GNU_SOURCE /* pthread_setname_np */
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

/* A control message (settings patch) or its reply, between the loop and the control thread. */
typedef struct ws_msg {
    uint64_t client;
    char *text;                            /* owned */
    size_t len;
    struct ws_msg *next;
} ws_msg;

struct sv_ws_client {
    sv_server *s;
    struct sv_ws_hub *hub;                 /* the loop's; outlives the client */
    uint64_t id;
    struct MHD_UpgradeResponseHandle *urh; /* borrowed from MHD until UPGRADE_ACTION_CLOSE */
    int sock;                              /* borrowed with urh */
    char *extra;                           /* owned: bytes MHD read past the handshake */
    size_t n_extra, extra_off;
    int float32;
    int max_queue;                         /* <= SV_WS_QMAX (client_queue's upper bound) */
    wslay_event_context_ptr ctx;           /* owned */
    sv_frame *q[SV_WS_QMAX];               /* owned references: results waiting, a ring */
    int qh, qn;
    size_t off;                            /* bytes of q[qh]'s message already sent */
    int dead;
    sv_ws_client *next;
};

/* The loop's shared state; mu guards what other threads hand over (new clients, control
 * messages and replies, closed). */
struct sv_ws_hub {
    sv_server *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;                     /* control requests */
    int efd;                               /* owned: wakes the loop (results, clients, replies) */
    sv_ws_client *incoming;                /* owned: clients not yet taken by the loop */
    ws_msg *req, *rep;                     /* owned lists */
    int closed;                            /* the loop has ended: no more clients */
    uint64_t next_id;
    pthread_t th, th_ctl;
    int have_th, have_ctl;
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

static void push(ws_msg **list, ws_msg *m) {
    while (*list) list = &(*list)->next;
    *list = m;
}

/* A text message: a settings patch, applied on the control thread (a model switch loads a
 * model: the stream to every client goes on meanwhile). */
static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *u) {
    sv_ws_client *c = u;
    struct sv_ws_hub *h = c->hub;
    (void)ctx;
    if (a->opcode != WSLAY_TEXT_FRAME) return; /* close/ping are answered by wslay */
    ws_msg *m = calloc(1, sizeof *m); /* owned by the request list */
    if (m && (m->text = malloc(a->msg_length + 1))) {
        memcpy(m->text, a->msg, a->msg_length);
        m->text[a->msg_length] = '\0';
        m->len = a->msg_length;
        m->client = c->id;
        pthread_mutex_lock(&h->mu);
        push(&h->req, m);
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        return;
    }
    free(m);
}

/* The reply to a patch: the new settings or the error. malloc'd. */
static char *patch_reply(sv_server *s, const char *json, size_t len) {
    char err[300];
    int rc = sv_patch_config(s, json, len, err, sizeof err);
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
    free(cfg);
    cJSON_Delete(o);
    return out;
}

static void wake(struct sv_ws_hub *h) {
    uint64_t one = 1;
    ssize_t r = write(h->efd, &one, sizeof one);
    (void)r;
}

static void *control_main(void *arg) {
    struct sv_ws_hub *h = arg;
    sv_server *s = h->s;
    pthread_mutex_lock(&h->mu);
    while (!atomic_load(&s->stop)) {
        ws_msg *m = h->req;
        if (!m) {
            struct timespec dl = sv_deadline(0.2);
            pthread_cond_timedwait(&h->cv, &h->mu, &dl);
            continue;
        }
        h->req = m->next;
        m->next = NULL;
        pthread_mutex_unlock(&h->mu);
        char *out = patch_reply(s, m->text, m->len);
        free(m->text);
        m->text = out;
        m->len = out ? strlen(out) : 0;
        pthread_mutex_lock(&h->mu);
        if (out) push(&h->rep, m);
        else free(m);
        wake(h);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
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

/* A client the loop has finished with: its results, wslay, the socket back to MHD. */
static void client_free(sv_ws_client *c) {
    while (c->qn > 0) { /* results never sent */
        sv_frame_unref(&c->q[c->qh]);
        c->qh = (c->qh + 1) % SV_WS_QMAX;
        c->qn--;
    }
    if (c->ctx) wslay_event_context_free(c->ctx);
    atomic_fetch_sub(&c->s->n_ws, 1);
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(c->extra);
    free(c);
}

/* New clients into the loop's own list, control replies to their clients. When stopping,
 * the hub closes: no client is handed over after that. */
static void take_handovers(struct sv_ws_hub *h, sv_ws_client **list, int stopping) {
    pthread_mutex_lock(&h->mu);
    sv_ws_client *in = h->incoming;
    ws_msg *rep = h->rep;
    h->incoming = NULL;
    h->rep = NULL;
    if (stopping) h->closed = 1;
    pthread_mutex_unlock(&h->mu);
    while (in) {
        sv_ws_client *c = in;
        in = c->next;
        c->next = *list;
        *list = c;
    }
    for (ws_msg *m; (m = rep);) {
        rep = m->next;
        for (sv_ws_client *c = *list; c; c = c->next)
            if (c->id == m->client && !c->dead) send_text(c->ctx, m->text);
        free(m->text);
        free(m);
    }
}

/* The newest result to every client with room for it; others lose it (counted). */
static void fan_out(sv_server *s, sv_ws_client *list, uint64_t *seen) {
    uint64_t before = *seen;
    sv_frame *f = sv_slot_wait(&s->out, seen, 0, NULL);
    if (!f) return;
    sv_config cfg;
    sv_get_config(s, &cfg);
    uint64_t dropped = 0;
    for (sv_ws_client *c = list; c; c = c->next) {
        if (c->dead) continue;
        if (before) dropped += *seen - before - 1; /* results the loop never saw */
        if (!cfg.ws || c->qn >= c->max_queue) {
            dropped++;
            continue;
        }
        sv_frame_ref(f);
        c->q[(c->qh + c->qn++) % SV_WS_QMAX] = f;
    }
    if (dropped) atomic_fetch_add(&s->n_drop_ws, dropped);
    sv_frame_unref(&f);
}

/* The WebSocket loop: one thread for every client, woken once per result (and for new
 * clients and control replies). Each turn hands the newest result to every client, then
 * writes to every socket that takes it, so a result goes out to all clients in one turn of
 * one thread. */
static void *loop_main(void *arg) {
    struct sv_ws_hub *h = arg;
    sv_server *s = h->s;
    sv_ws_client *list = NULL; /* owned */
    struct pollfd *pf = NULL;  /* owned: grow-only */
    size_t pf_cap = 0;
    uint64_t seen = 0;
    pthread_mutex_lock(&s->out.mu);
    if (s->out.seq > 0) seen = s->out.seq - 1; /* start with the current result */
    pthread_mutex_unlock(&s->out.mu);
    double close_deadline = 0;
    for (;;) {
        int stopping = atomic_load(&s->stop);
        take_handovers(h, &list, stopping);
        if (stopping && close_deadline == 0) {
            for (sv_ws_client *c = list; c; c = c->next)
                wslay_event_queue_close(c->ctx, 1001, (const uint8_t *)"server shutting down", 20);
            close_deadline = sv_mono() + 0.5;
        }
        if (close_deadline == 0) fan_out(s, list, &seen);
        size_t n = 0;
        for (sv_ws_client *c = list; c; c = c->next) n++;
        if (close_deadline > 0 && (n == 0 || sv_mono() > close_deadline)) break;
        if (n + 1 > pf_cap) {
            struct pollfd *np = realloc(pf, (n + 16) * sizeof *pf);
            if (!np) break;
            pf = np, pf_cap = n + 16;
        }
        int timeout = 100;
        pf[0] = (struct pollfd){h->efd, POLLIN, 0};
        size_t i = 1;
        for (sv_ws_client *c = list; c; c = c->next, i++) {
            if (!c->dead && flush(c, c->ctx, close_deadline > 0) != 0) c->dead = 1;
            pf[i] = (struct pollfd){c->sock, POLLIN, 0};
            if (wslay_event_want_write(c->ctx) || c->qn > 0) pf[i].events |= POLLOUT;
            if (c->extra_off < c->n_extra) timeout = 0; /* bytes MHD read ahead: no wait */
        }
        if (poll(pf, n + 1, timeout) < 0 && errno != EINTR) break;
        if (pf[0].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(h->efd, &v, sizeof v);
            (void)r;
        }
        i = 1;
        for (sv_ws_client **pp = &list; *pp; i++) {
            sv_ws_client *c = *pp;
            short ev = pf[i].revents;
            if (c->extra_off < c->n_extra) ev |= POLLIN;
            if (!c->dead && (ev & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(c->ctx) != 0) c->dead = 1;
            if (!c->dead && (ev & POLLOUT) && flush(c, c->ctx, close_deadline > 0) != 0) c->dead = 1;
            if (!c->dead && !wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx) && c->qn == 0)
                c->dead = 1; /* closed both ways */
            if (c->dead) {
                *pp = c->next;
                client_free(c);
            } else {
                pp = &c->next;
            }
        }
    }
    take_handovers(h, &list, 1); /* closed: anything handed over meanwhile ends here */
    while (list) {
        sv_ws_client *c = list;
        list = c->next;
        client_free(c);
    }
    free(pf);
    return NULL;
}

/* The hub and its two threads, on the first client. Caller holds cl_mu. 0 or -1 (the hub
 * stays, without the threads it could not start, and refuses clients). */
static int hub_start(sv_server *s) {
    if (s->ws) return s->ws->have_th && s->ws->have_ctl ? 0 : -1;
    struct sv_ws_hub *h = calloc(1, sizeof *h); /* owned by s (sv_ws_close_all) */
    if (!h) return -1;
    h->s = s;
    pthread_mutex_init(&h->mu, NULL);
    sv_cond_init(&h->cv);
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->ws = h;
    h->have_th = h->efd >= 0 && pthread_create(&h->th, NULL, loop_main, h) == 0;
    h->have_ctl = h->have_th && pthread_create(&h->th_ctl, NULL, control_main, h) == 0;
    if (h->have_th) pthread_setname_np(h->th, "sv-ws-loop");
    if (h->have_ctl) pthread_setname_np(h->th_ctl, "sv-ws-control");
    if (!h->have_th || !h->have_ctl) h->closed = 1;
    return h->closed ? -1 : 0;
}

void sv_ws_start_client(sv_server *s, void *urh, int sock, const char *extra, size_t n_extra,
                        int float32) {
    sv_config cfg;
    sv_get_config(s, &cfg);
    struct wslay_event_callbacks cb = {on_recv, on_send, NULL, NULL, NULL, NULL, on_msg};
    sv_ws_client *c = calloc(1, sizeof *c); /* owned by the hub, then the loop */
    if (c) {
        c->s = s;
        c->urh = urh;
        c->sock = sock;
        c->float32 = float32;
        c->max_queue = cfg.client_queue < SV_WS_QMAX ? cfg.client_queue : SV_WS_QMAX;
        if (n_extra && (c->extra = malloc(n_extra))) memcpy(c->extra, extra, n_extra), c->n_extra = n_extra;
        if (wslay_event_context_server_init(&c->ctx, &cb, c) == 0)
            wslay_event_config_set_max_recv_msg_length(c->ctx, 64 * 1024);
        else
            c->ctx = NULL;
        fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
    }
    int ok = 0;
    pthread_mutex_lock(&s->cl_mu);
    if (c && c->ctx && (!n_extra || c->extra) && !atomic_load(&s->stop) && hub_start(s) == 0) {
        struct sv_ws_hub *h = s->ws;
        pthread_mutex_lock(&h->mu);
        if (!h->closed) {
            c->id = ++h->next_id;
            c->hub = h;
            c->next = h->incoming;
            h->incoming = c;
            ok = 1;
            wake(h);
        }
        pthread_mutex_unlock(&h->mu);
    }
    pthread_mutex_unlock(&s->cl_mu);
    if (!ok) {
        if (c) client_free(c);
        else {
            atomic_fetch_sub(&s->n_ws, 1);
            MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        }
    }
}

void sv_ws_notify_all(sv_server *s) {
    pthread_mutex_lock(&s->cl_mu);
    if (s->ws && s->ws->efd >= 0) wake(s->ws);
    pthread_mutex_unlock(&s->cl_mu);
}

void sv_ws_close_all(sv_server *s) {
    pthread_mutex_lock(&s->cl_mu);
    struct sv_ws_hub *h = s->ws;
    s->ws = NULL; /* new clients are refused from here on: stop is set */
    pthread_mutex_unlock(&s->cl_mu);
    if (!h) return;
    if (h->efd >= 0) wake(h); /* stop is set: the loop sends close frames and ends */
    pthread_mutex_lock(&h->mu);
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->have_th) pthread_join(h->th, NULL);
    if (h->have_ctl) pthread_join(h->th_ctl, NULL);
    for (ws_msg *m; (m = h->req) || (m = h->rep);) {
        if (m == h->req) h->req = m->next;
        else h->rep = m->next;
        free(m->text);
        free(m);
    }
    if (h->efd >= 0) close(h->efd);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
