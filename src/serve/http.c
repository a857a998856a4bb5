/* http.c - the HTTP front (libmicrohttpd): authentication, routing, limits, and the
 * request/response endpoints. Streams live in ws.c (WebSocket) and mjpeg.c.
 *
 * libmicrohttpd runs a small pool of polling threads, each serving many connections, so
 * nothing here may block: requests whose work may (POST /v1/depth, PATCH /v1/config) run as
 * jobs (jobs.c) while their connection is suspended, and MJPEG streams suspend while they
 * wait for a result. Not one thread per connection: libmicrohttpd 0.9.75 has a race there
 * when an upgraded (WebSocket) connection is closed (MHD_upgrade_action writes the
 * connection after its own thread may have let the daemon free it: heap corruption under
 * bursts of WebSocket clients; fixed upstream in 0.9.76, commit a59760c5). With polling
 * threads the daemon frees an upgraded connection only after MHD_upgrade_action is done.
 *
 * Every request passes the token check first when a token is set (Authorization: Bearer T or
 * ?token=T; constant-time compare), then the route table. Malformed or refused requests get a
 * 4xx JSON body {"error": ...} and one log line naming the client, method, path and cause. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/log.h"
#include "core/status.h"
#include "serve/priv.h"

#define SV_HTTP_THREADS 4 /* libmicrohttpd's polling threads */

enum { JOB_NONE, JOB_RUNNING, JOB_DONE };

typedef struct req {
    char *body;          /* owned: the upload so far */
    size_t n, cap;
    int too_big;         /* upload passed max_body: the rest is discarded, 413 at the end */
    int float32;         /* WebSocket dtype, read by the upgrade handler */
    char ip[64], method[16], url[200]; /* for log lines (url cut) */
    int job;             /* JOB_*: POST/PATCH work on a job thread, connection suspended */
    fathom_output_format fmt;
    unsigned code;       /* the answer, made here or by the job; sent by send_answer */
    const char *ctype;   /* static */
    char *out;           /* owned */
    size_t out_len;
} req;

ssize_t sv_mjpeg_reader(void *cls, uint64_t pos, char *buf, size_t max); /* mjpeg.c */
void sv_mjpeg_free(void *cls);
void *sv_mjpeg_new(sv_server *s, int camera);
void sv_mjpeg_set_conn(void *cls, struct MHD_Connection *conn);

static void client_ip(struct MHD_Connection *conn, char *buf, size_t cap) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, cap, "?");
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)cap);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
                             const void *data, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype) MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ok;
}

/* The answer q will send: data (copied, or taken when own) with its type and code. */
static void answer(req *q, unsigned code, const char *ctype, char *data, size_t len, int own) {
    free(q->out);
    q->code = code;
    q->ctype = ctype;
    q->out = own ? data : malloc(len ? len : 1);
    if (q->out && !own) memcpy(q->out, data, len);
    q->out_len = q->out ? len : 0;
    if (!q->out) q->code = 500;
}

/* A 4xx/5xx answer with a JSON error body, and a log line. Callable on a job thread. */
static void answer_fail(sv_server *s, req *q, unsigned code, const char *msg) {
    fathom_log(FATHOM_LOG_WARN, "http %u %s %s from %s: %s", code, q->method, q->url, q->ip, msg);
    if (code == 401) atomic_fetch_add(&s->n_unauth, 1);
    else atomic_fetch_add(&s->n_bad_requests, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    char *j = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (j) answer(q, code, "application/json", j, strlen(j), 1);
    else answer(q, code, "application/json", "{}", 2, 0);
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, req *q) {
    return reply(conn, q->code, q->ctype, q->out ? q->out : "", q->out_len);
}

static enum MHD_Result fail(sv_server *s, struct MHD_Connection *conn, req *q, unsigned code,
                            const char *msg) {
    answer_fail(s, q, code, msg);
    return send_answer(conn, q);
}

static int token_ok(sv_server *s, struct MHD_Connection *conn) {
    const char *want = s->p.token;
    if (!want[0]) return 1;
    const char *got = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!got && auth && !strncasecmp(auth, "Bearer ", 7)) got = auth + 7;
    if (!got) return 0;
    size_t n = strlen(want), m = strlen(got);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(want[i] ^ got[i < m ? i : 0]);
    return diff == 0;
}

static int header_has(struct MHD_Connection *conn, const char *name, const char *word) {
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    return v && strcasestr(v, word) != NULL;
}

static void upgrade_cb(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                       size_t n_extra, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh) {
    sv_server *s = cls;
    req *q = con_cls;
    sv_ws_start_client(s, urh, sock, extra, n_extra, q ? q->float32 : 0);
}

static enum MHD_Result websocket(sv_server *s, struct MHD_Connection *conn, req *q) {
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    if (!header_has(conn, "Upgrade", "websocket") || !header_has(conn, "Connection", "upgrade") || !key)
        return fail(s, conn, q, 400, "WebSocket upgrade expected (Upgrade: websocket)");
    if (!ver || strcmp(ver, "13") != 0)
        return fail(s, conn, q, 426, "Sec-WebSocket-Version 13 required");
    const char *dt = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "dtype");
    if (dt && strcmp(dt, "uint16") && strcmp(dt, "float32"))
        return fail(s, conn, q, 400, "dtype must be uint16 or float32");
    q->float32 = dt && !strcmp(dt, "float32");
    sv_config cfg;
    sv_get_config(s, &cfg);
    if (atomic_fetch_add(&s->n_ws, 1) + atomic_load(&s->n_mjpeg) >= cfg.max_clients) {
        atomic_fetch_sub(&s->n_ws, 1);
        atomic_fetch_add(&s->n_rejected_clients, 1);
        return fail(s, conn, q, 503, "too many streaming clients (max_clients)");
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, strlen(buf), sha);
    char acc[64];
    EVP_EncodeBlock((unsigned char *)acc, sha, SHA_DIGEST_LENGTH);
    struct MHD_Response *r = MHD_create_response_for_upgrade(upgrade_cb, s);
    if (!r) {
        atomic_fetch_sub(&s->n_ws, 1);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Upgrade", "websocket");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", acc);
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
    MHD_destroy_response(r);
    if (ok != MHD_YES) atomic_fetch_sub(&s->n_ws, 1);
    return ok;
}

static enum MHD_Result mjpeg(sv_server *s, struct MHD_Connection *conn, req *q) {
    const char *view = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "view");
    if (view && strcmp(view, "depth") && strcmp(view, "camera"))
        return fail(s, conn, q, 400, "view must be depth or camera");
    sv_config cfg;
    sv_get_config(s, &cfg);
    if (atomic_fetch_add(&s->n_mjpeg, 1) + atomic_load(&s->n_ws) >= cfg.max_clients) {
        atomic_fetch_sub(&s->n_mjpeg, 1);
        atomic_fetch_add(&s->n_rejected_clients, 1);
        return fail(s, conn, q, 503, "too many streaming clients (max_clients)");
    }
    void *st = sv_mjpeg_new(s, view && !strcmp(view, "camera"));
    struct MHD_Response *r =
        st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sv_mjpeg_reader, st,
                                               sv_mjpeg_free)
           : NULL;
    if (!r) {
        if (st) sv_mjpeg_free(st);
        else atomic_fetch_sub(&s->n_mjpeg, 1);
        return MHD_NO;
    }
    sv_mjpeg_set_conn(st, conn); /* it suspends the connection while it waits */
    MHD_add_response_header(r, "Content-Type", "multipart/x-mixed-replace; boundary=fathomframe");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* The output format of POST /v1/depth: ?format= wins, then Accept. */
static int depth_format(struct MHD_Connection *conn, fathom_output_format *out) {
    const char *f = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
    if (f) {
        if (!strcmp(f, "npy")) *out = FATHOM_OUT_NPY;
        else if (!strcmp(f, "png16")) *out = FATHOM_OUT_PNG16;
        else if (!strcmp(f, "color") || !strcmp(f, "png")) *out = FATHOM_OUT_COLOR;
        else return 0;
        return 1;
    }
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    *out = FATHOM_OUT_NPY;
    if (a && strcasestr(a, "image/png") && !strcasestr(a, "application/x-npy"))
        *out = strcasestr(a, "depth=16") ? FATHOM_OUT_PNG16 : FATHOM_OUT_COLOR;
    return 1;
}

/* Depth for the uploaded image, encoded by the same writer `fathom run` uses. A job (the
 * engine is shared with the live stream: it may wait for a frame, then runs a forward pass). */
static void depth_job(sv_server *s, void *arg, int cancel) {
    req *q = arg;
    q->job = JOB_DONE;
    if (cancel) return answer_fail(s, q, 503, "server shutting down");
    sv_config cfg;
    sv_get_config(s, &cfg);
    float *depth = NULL;
    int metric = 0;
    int w = 0, h = 0;
    atomic_fetch_add(&s->n_depth_posts, 1);
    fathom_status st = sv_depth_image(s, q->body, q->n, cfg.input_size, &depth, &w, &h, &metric);
    if (st != FATHOM_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", fathom_last_error());
        unsigned code = st == FATHOM_ERR_TOO_LARGE ? 413
                        : (st == FATHOM_ERR_FORMAT || st == FATHOM_ERR_UNSUPPORTED ||
                           st == FATHOM_ERR_INVALID_ARG || st == FATHOM_ERR_SHAPE)
                            ? 400 : 500;
        return answer_fail(s, q, code, msg);
    }
    fathom_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.colormap = cfg.colormap;
    wo.invert = cfg.invert;
    wo.metric = metric;
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/fathom-serve-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        free(depth);
        return answer_fail(s, q, 500, "cannot create a temporary folder");
    }
    snprintf(path, sizeof path, "%s/depth.%s", dir, fathom_output_ext(q->fmt));
    st = fathom_depth_write(path, q->fmt, depth, h, w, &wo);
    free(depth);
    FILE *fp = st == FATHOM_OK ? fopen(path, "rb") : NULL;
    char *data = NULL;
    long len = 0;
    if (fp && fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        data = malloc((size_t)len + 1);
        if (data && fread(data, 1, (size_t)len, fp) != (size_t)len) {
            free(data);
            data = NULL;
        }
    }
    if (fp) fclose(fp);
    unlink(path);
    rmdir(dir);
    if (!data)
        return answer_fail(s, q, 500, st != FATHOM_OK ? fathom_last_error() : "cannot read the result back");
    answer(q, 200, q->fmt == FATHOM_OUT_NPY ? "application/x-npy" : "image/png", data, (size_t)len, 1);
}

/* PATCH /v1/config: a job (a "model" change loads the model). */
static void config_job(sv_server *s, void *arg, int cancel) {
    req *q = arg;
    q->job = JOB_DONE;
    if (cancel) return answer_fail(s, q, 503, "server shutting down");
    char err[300];
    int rc = sv_patch_config(s, q->body ? q->body : "", q->n, err, sizeof err);
    if (rc != 0) return answer_fail(s, q, (unsigned)rc, err);
    fathom_log(FATHOM_LOG_INFO, "config changed by %s: %.*s", q->ip, (int)(q->n < 400 ? q->n : 400), q->body);
    sv_config cur;
    sv_get_config(s, &cur);
    char *j = sv_config_to_json(&cur);
    if (j) answer(q, 200, "application/json", j, strlen(j), 1);
    else answer(q, 200, "application/json", "{}", 2, 0);
}

/* Run a POST/PATCH's work as a job: the handler is called again when it is done. */
static enum MHD_Result start_job(sv_server *s, struct MHD_Connection *conn, req *q, sv_job_fn fn) {
    q->job = JOB_RUNNING;
    if (sv_job_submit(s, conn, fn, q) == 0) return MHD_YES;
    q->job = JOB_NONE;
    return fail(s, conn, q, 503, "server shutting down");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls) {
    sv_server *s = cls;
    req *q = *con_cls;
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int is_post = !strcmp(method, "POST"), is_patch = !strcmp(method, "PATCH");
    if (!q) { /* first call: headers only. Refuse early, before any body is read. */
        atomic_fetch_add(&s->n_requests, 1);
        q = calloc(1, sizeof *q); /* owned by the connection; freed in completed() */
        if (!q) return MHD_NO;
        *con_cls = q;
        client_ip(conn, q->ip, sizeof q->ip);
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->url, sizeof q->url, "%s", url);
        if (!token_ok(s, conn))
            return fail(s, conn, q, 401, "missing or wrong token (Authorization: Bearer T or ?token=T)");
        if (is_post || is_patch) {
            sv_config cfg;
            sv_get_config(s, &cfg);
            size_t limit = is_patch ? 64 * 1024 : cfg.max_body;
            const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
            if (cl && strtoull(cl, NULL, 10) > limit)
                return fail(s, conn, q, 413, "request body over the limit (max_body)");
            if ((is_post && strcmp(url, "/v1/depth")) || (is_patch && strcmp(url, "/v1/config")))
                return fail(s, conn, q, strcmp(url, "/v1/depth") && strcmp(url, "/v1/config") ? 404 : 405,
                            "no such endpoint for this method");
            return MHD_YES; /* the body follows */
        }
    }
    if (q->job == JOB_DONE) return send_answer(conn, q); /* resumed after its job */
    if (q->job == JOB_RUNNING) return MHD_YES;
    if (*upload_size) { /* a chunk of the body */
        sv_config cfg;
        sv_get_config(s, &cfg);
        size_t limit = is_patch ? 64 * 1024 : cfg.max_body;
        if (!q->too_big && q->n + *upload_size > limit) {
            q->too_big = 1;
            free(q->body);
            q->body = NULL;
            q->n = q->cap = 0;
        }
        if (!q->too_big) {
            if (q->n + *upload_size + 1 > q->cap) {
                size_t cap = (q->n + *upload_size + 1) * 2;
                char *b = realloc(q->body, cap);
                if (!b) return MHD_NO;
                q->body = b;
                q->cap = cap;
            }
            memcpy(q->body + q->n, upload, *upload_size);
            q->n += *upload_size;
            q->body[q->n] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big) return fail(s, conn, q, 413, "request body over the limit (max_body)");
    if (is_post) {
        if (!depth_format(conn, &q->fmt))
            return fail(s, conn, q, 400, "format must be npy, png16 or color");
        if (q->n == 0) return fail(s, conn, q, 400, "empty body: send the image bytes");
        return start_job(s, conn, q, depth_job);
    }
    if (is_patch) return start_job(s, conn, q, config_job);
    if (!is_get) return fail(s, conn, q, 405, "method not allowed");
    if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
        return reply(conn, 200, "text/html; charset=utf-8", sv_viewer_html, sv_viewer_html_len);
    if (!strcmp(url, "/v1/stream")) return websocket(s, conn, q);
    if (!strcmp(url, "/v1/mjpeg")) return mjpeg(s, conn, q);
    if (!strcmp(url, "/v1/config")) {
        sv_config cfg;
        sv_get_config(s, &cfg);
        char *j = sv_config_to_json(&cfg);
        enum MHD_Result r = reply(conn, 200, "application/json", j ? j : "{}", j ? strlen(j) : 2);
        free(j);
        return r;
    }
    if (!strcmp(url, "/v1/status") || !strcmp(url, "/metrics")) {
        int st = !strcmp(url, "/v1/status");
        char *t = st ? sv_status_json(s) : sv_metrics_text(s);
        enum MHD_Result r = t ? reply(conn, 200, st ? "application/json" : "text/plain; version=0.0.4",
                                      t, strlen(t))
                              : MHD_NO;
        free(t);
        return r;
    }
    return fail(s, conn, q, 404, "no such endpoint");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    req *q = *con_cls;
    if (q) free(q->body), free(q->out);
    free(q);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = '\0';
    fathom_log(FATHOM_LOG_INFO, "http: %s", buf); /* client disconnects mostly */
}

int sv_http_start(sv_server *s) {
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_UPGRADE | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    const char *host = !strcmp(s->p.host, "localhost") ? "127.0.0.1" : s->p.host;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)s->p.port);
        sa = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)s->p.port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        fathom_fail(FATHOM_ERR_INVALID_ARG, "listen address '%s' is not an IPv4 or IPv6 address or localhost", s->p.host);
        return -1;
    }
    if (sv_jobs_start(s) != 0) {
        fathom_fail(FATHOM_ERR_INTERNAL, "serve: cannot start the HTTP job threads");
        return -1;
    }
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->p.port, NULL, NULL, handler, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT,
                              /* split evenly over the threads, which accept unevenly: the
                                 streaming limit is max_clients, checked per request */
                              (unsigned)(s->cfg.max_clients + 32) * SV_HTTP_THREADS,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)SV_HTTP_THREADS,
                              MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        fathom_fail(FATHOM_ERR_IO, "cannot listen on %s:%d (address in use or not local?)", s->p.host, s->p.port);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->p.port;
    return 0;
}

/* libmicrohttpd refuses to stop with a suspended connection (other than an upgraded one):
 * every job is answered and every MJPEG stream ended first. */
void sv_http_stop(sv_server *s) {
    sv_jobs_stop(s);
    sv_mjpeg_close_all(s);
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
