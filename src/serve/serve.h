/* serve.h - `fathom serve`: a long-running depth worker (docs/serve.md).
 *
 * DESIGN: three stages joined by latest-frame-wins slots, so a slow stage drops stale frames
 * (counted) instead of building a queue and latency stays bounded:
 *   source thread (libavformat: files, streams, /dev/video*) -> prepare -> analyser thread
 *   (the engine; also lent to POST /v1/depth under a mutex) -> post thread -> slot -> sinks
 *   (one loop thread for every WebSocket client; MJPEG streams on libmicrohttpd's polling
 *   threads, suspended between results), each taking the newest result when it is ready, so
 *   a slow client loses frames and never stalls anyone else.
 * HTTP is libmicrohttpd (a pool of polling threads; blocking requests run as jobs, jobs.c);
 * WebSocket framing is wslay on the socket MHD hands over after the upgrade. Settings live in one sv_config guarded by a mutex; every
 * stage reads a snapshot per frame, which is how live changes apply without restarts. */
#ifndef FATHOM_SERVE_SERVE_H
#define FATHOM_SERVE_SERVE_H

#include <stdint.h>

#include "core/log.h" /* fathom_log_level */
#include "fathom.h"
#include "serve/config.h"

typedef struct fathom_server sv_server; /* fathom.h's opaque server */

typedef struct sv_params {
    const fathom_model *model;      /* borrowed; must outlive the server */
    fathom_engine_params engine;    /* the analyser's engine */
    fathom_governor_params governor;/* used when target_util > 0 (live) or use_governor */
    int use_governor;               /* governor flags given: keep one even without a target */
    char host[256];                 /* listen address: IPv4, IPv6 or "localhost" */
    int port;                       /* 0: any free port */
    char token[128];                /* "" = no token (only allowed on loopback) */
    sv_config config;               /* initial settings */
    fathom_model_params model_params; /* models switched live load with these */
    int offline;                    /* ... and are never downloaded */
} sv_params;

/* Listen and start the stages. *out owned by the caller (sv_server_free). */
fathom_status sv_server_start(const sv_params *p, sv_server **out);
/* The port actually bound (useful with port 0). */
int sv_server_port(const sv_server *s);
/* Replace settings as a whole (SIGHUP reload, PATCH): a changed model is loaded first (off
 * the pipeline thread) and a failure leaves the settings unchanged (error set). */
fathom_status sv_server_set_config(sv_server *s, const sv_config *c);
void sv_server_get_config(sv_server *s, sv_config *c);
/* Stop sources, close WebSockets with a close frame, end MJPEG streams, join every thread and
 * free. Accepts NULL. */
void sv_server_free(sv_server **s);

/* Does this listen host need a token? Anything but 127.0.0.1, ::1 and localhost. */
int sv_host_needs_token(const char *host);

#endif
