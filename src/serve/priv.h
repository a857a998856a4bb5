/* priv.h - state shared by the serve stages (internal). */
#ifndef FATHOM_SERVE_PRIV_H
#define FATHOM_SERVE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "serve/serve.h"

/* One frame through the stages: the source fills rgb (and x), the analyser net (or depth, for
 * VDA), the post stage depth and lo..hi. Refcounted: every slot and every sink holding it owns
 * one reference. */
typedef struct sv_frame {
    atomic_int ref;
    int64_t id;            /* 0-based per server, in capture order */
    uint64_t source_gen;   /* which opening of the source it came from (VDA cache resets) */
    int keep;              /* from a file played as fast as possible: not live, so the
                              recording / stream queue waits for room instead of dropping it */
    int64_t pts_us;        /* source presentation time (microseconds; -1 unknown) */
    double t_capture;      /* CLOCK_REALTIME seconds when the source delivered it */
    double t_done;         /* when the analyser finished */
    int w, h;
    uint8_t *rgb;          /* owned: (h, w, 3) */
    float *x;              /* owned: network input (3, nh, nw) the source prepared for x_size;
                              NULL: the analyser prepares it (a VDA model takes rgb) */
    int nh, nw, x_size;
    float *net;            /* owned: the network's output (nh, nw), for the post stage */
    float *depth;          /* owned: (h, w), NULL until post-processed */
    float lo, hi;          /* finite min..max of depth */
    int metric;
    fathom_colormap cmap;  /* settings the sinks render it with (snapshot at analysis) */
    int invert, quality;
    pthread_mutex_t mu;    /* guards the lazily encoded JPEGs */
    uint8_t *jpeg[2];      /* owned: [0] colorized depth, [1] camera; NULL until asked */
    size_t jpeg_len[2];
    uint16_t *u16;         /* owned: depth min..max -> 0..65535 for WebSocket clients; lazy */
    uint8_t *color;        /* owned: colorized depth (h, w, 3) with cmap/invert; lazy */
    uint8_t *ws[2];        /* owned: the whole WebSocket frame for [0] uint16, [1] float32
                              clients; lazy, made once and sent as is to every client */
    size_t ws_len[2];
} sv_frame;

sv_frame *sv_frame_new(int w, int h);
void sv_frame_ref(sv_frame *f);
void sv_frame_unref(sv_frame **f);
/* The JPEG of the depth (which 0) or camera (1) image, encoded once on first use. Borrowed
 * from f; NULL on failure. */
const uint8_t *sv_frame_jpeg(sv_frame *f, int which, size_t *len);
/* The depth as uint16 (min..max -> 0..65535), computed once for all clients. Borrowed; NULL
 * when out of memory. */
const uint16_t *sv_frame_u16(sv_frame *f);
const uint16_t *sv_frame_u16_locked(sv_frame *f); /* the same; caller holds f->mu */
/* The WebSocket binary frame of f (header, JSON, depth as uint16 or float32), made once for
 * all clients: server frames are unmasked, so every client gets the same bytes. Borrowed from
 * f; NULL when out of memory. */
const uint8_t *sv_frame_ws(sv_frame *f, int float32, size_t *len);
/* The colorized depth (h, w, 3), computed once for every sink. Borrowed; NULL when out of
 * memory or not analysed. */
const uint8_t *sv_frame_color(sv_frame *f);

/* Latest-frame-wins slot with many readers (the sinks): put replaces (a frame nobody took
 * counts as dropped); readers wait for a sequence number newer than theirs. */
typedef struct sv_slot {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sv_frame *f;      /* owned reference */
    uint64_t seq;     /* frames put so far */
    int taken;        /* the current frame was taken by some reader */
    atomic_uint_least64_t drops;
} sv_slot;

void sv_slot_init(sv_slot *s);
void sv_slot_destroy(sv_slot *s);
void sv_slot_put(sv_slot *s, sv_frame *f); /* takes a new reference */
/* Wait up to timeout_s for seq > *seen; returns a new reference (caller unrefs) and updates
 * *seen, or NULL. stop (may be NULL) ends the wait early when set. */
sv_frame *sv_slot_wait(sv_slot *s, uint64_t *seen, double timeout_s, const atomic_int *stop);
void sv_slot_wake(sv_slot *s);

/* Hand-over between two single-threaded stages (queue.c): live frames are latest-frame-wins
 * (a put drops, and counts, every frame still waiting); frames with keep set queue up to
 * SV_QUEUE_DEPTH, the producer waiting for room (none lost). */
#define SV_QUEUE_DEPTH 4
typedef struct sv_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sv_frame *f[SV_QUEUE_DEPTH]; /* owned references, a ring */
    int head, n;
    atomic_uint_least64_t drops;
} sv_queue;

void sv_queue_init(sv_queue *q);
void sv_queue_destroy(sv_queue *q);
void sv_queue_put(sv_queue *q, sv_frame *f); /* takes a new reference */
/* The oldest waiting frame (caller unrefs), or NULL after timeout_s or when stop is set. */
sv_frame *sv_queue_take(sv_queue *q, double timeout_s, const atomic_int *stop);
int sv_queue_wait_room(sv_queue *q, double timeout_s); /* 1: fewer than DEPTH wait */
int sv_queue_waiting(sv_queue *q); /* frames put and not yet taken */
void sv_queue_wake(sv_queue *q);

/* Events per second over a sliding exponential average of intervals. */
typedef struct sv_rate {
    double last, ema_dt;
} sv_rate;

#define SV_LAT_BUCKETS 12
extern const double sv_lat_bounds[SV_LAT_BUCKETS]; /* seconds; the last is +Inf */

typedef struct sv_ws_client sv_ws_client;

/* Stages whose busy time /v1/status reports (where the time per frame goes). */
enum { SV_STAGE_DECODE, SV_STAGE_PREPARE, SV_STAGE_ENGINE, SV_STAGE_POST, SV_STAGES };

#define SV_OUTQ 8 /* results waiting for the recording / stream encoders */
#define SV_JOB_THREADS 2 /* threads for blocking requests (jobs.c): a model load beside a POST */

struct fathom_server {
    sv_params p;
    atomic_int stop;
    pthread_mutex_t cfg_mu;
    sv_config cfg;
    atomic_uint_least64_t cfg_gen;      /* bumped on every change */

    sv_queue prep;                       /* source -> prepare */
    sv_queue in;                         /* prepare -> analyser */
    sv_queue post;                       /* analyser -> post stage (depth resize, min/max) */
    sv_slot out;                         /* post stage -> sinks */
    pthread_t th_source, th_prepare, th_analyser, th_post;
    int have_source_th, have_prepare_th, have_analyser_th, have_post_th;

    pthread_mutex_t apply_mu;            /* one settings change at a time (a model load inside) */
    pthread_mutex_t engine_mu;           /* analyser and POST /v1/depth share one engine; the
                                            four fields below change together under it */
    fathom_engine *engine;               /* owned */
    const fathom_model *model;           /* the engine's model: p.model or model_owned */
    fathom_model *model_owned;           /* owned: a model switched to live; NULL: p.model */
    int metric;                          /* the model's output is meters */
    atomic_int video;                    /* a Video Depth Anything model: no engine; frames go
                                            through the streaming session below (atomic: the
                                            prepare thread reads it without engine_mu) */
    fathom_vda *vda;                     /* owned: the live streaming session (lazy) */
    uint64_t vda_gen;                    /* source_gen it follows */
    int vda_w, vda_h, vda_in;            /* frame size and input size it was made for */
    struct sv_vda_out {
        float *depth;                    /* where the next emitted depth goes */
        int w, h, got;
    } vda_out;
    fathom_governor *gov;                /* owned by the analyser thread (recreated live) */
    pthread_mutex_t gov_mu;              /* guards gov against status readers */
    double gov_target;                   /* target the current governor runs with */

    struct MHD_Daemon *mhd;
    int port;
    /* requests whose work may block, run off the polling threads (jobs.c) */
    pthread_mutex_t job_mu;
    pthread_cond_t job_cv;
    struct sv_job *job_head;             /* owned: a list, oldest first */
    int jobs_closed;                     /* stopping: new jobs are refused */
    pthread_t th_jobs[SV_JOB_THREADS];
    int n_job_threads;
    /* MJPEG streams waiting for the next result, suspended (mjpeg.c) */
    pthread_mutex_t mj_mu;
    struct mj_state *mj_wait;            /* borrowed: each owned by its MHD response */
    int mj_closed;                       /* stopping: streams end instead of waiting */

    pthread_mutex_t cl_mu;               /* guards ws */
    struct sv_ws_hub *ws;                /* owned: the WebSocket loop (ws.c), from the first
                                            client */
    atomic_int n_ws, n_mjpeg;

    /* metrics (stats_mu guards the rates and histogram) */
    pthread_mutex_t stats_mu;
    double t_start;
    sv_rate rate_source, rate_analyser, rate_sent;
    uint64_t lat_hist[SV_LAT_BUCKETS];
    double lat_sum;
    uint64_t lat_count;
    double infer_s_last;
    double infer_s_total;                /* engine time of all live frames */
    double starved_s_total;              /* analyser time spent waiting for source frames */
    double stage_busy[SV_STAGES];        /* seconds each stage spent working (not waiting) */
    atomic_uint_least64_t n_source, n_analysed, n_sent_ws, n_sent_mjpeg, n_drop_ws, n_drop_mjpeg;
    atomic_uint_least64_t n_source_errors, n_source_opens, n_requests, n_bad_requests, n_unauth;
    atomic_uint_least64_t n_depth_posts, n_rejected_clients;
    char source_state[160];              /* under stats_mu: "idle", "open", "error: ..." */
    char output_state[2][300];           /* under stats_mu: record, output_url ("off", ...) */

    /* recording and stream sinks (outputs.c): the analyser queues results for one thread */
    pthread_mutex_t outq_mu;
    pthread_cond_t outq_cv;
    sv_frame *outq[SV_OUTQ];             /* owned references, a ring */
    int outq_head, outq_n;
    pthread_t th_outputs;
    int have_outputs_th;
    atomic_uint_least64_t n_recorded, n_streamed, n_drop_outputs;
    int64_t next_id;                     /* source thread only */
};

double sv_now(void);           /* CLOCK_REALTIME seconds */
struct timespec sv_deadline(double timeout_s); /* CLOCK_MONOTONIC now + timeout_s */
void sv_cond_init(pthread_cond_t *cv);         /* timed waits on CLOCK_MONOTONIC (sv_deadline) */
double sv_mono(void);          /* CLOCK_MONOTONIC seconds */
void sv_rate_tick(sv_server *s, sv_rate *r);
double sv_rate_fps(const sv_rate *r, double now_mono);
void sv_record_latency(sv_server *s, double seconds);
void sv_stage_busy(sv_server *s, int stage, double seconds);
void sv_get_config(sv_server *s, sv_config *c);
void sv_set_source_state(sv_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Load model `name` ("" = the one the server started with) with its engine beside the
 * running one, then swap them in between two frames. On failure nothing changes (error set). */
fathom_status sv_switch_model(sv_server *s, const char *name);
/* Apply a JSON object of settings (PATCH /v1/config, WebSocket control message) to the live
 * settings, loading a new model first when "model" changes. Returns 0, 400 (bad key or value)
 * or 422 (the model did not load; settings unchanged), with the cause in err. */
int sv_patch_config(sv_server *s, const char *json, size_t len, char *err, size_t cap);

void *sv_source_main(void *arg);   /* source.c */
void *sv_prepare_main(void *arg);  /* prepare.c */
void *sv_analyser_main(void *arg); /* analyser.c */
void *sv_post_main(void *arg);     /* post.c */
/* The network input of f for input_size (f->x, nh, nw), made in the prepare thread so the
 * analyser only runs the engine. On failure f->x stays NULL (the analyser makes it). */
void sv_frame_prepare(sv_server *s, sv_frame *f, int input_size);
void *sv_outputs_main(void *arg);  /* outputs.c */
void sv_outputs_push(sv_server *s, sv_frame *f); /* queue a result (takes a new reference) */
/* which 0: record, 1: output_url */
void sv_set_output_state(sv_server *s, int which, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Depth of one encoded image with the shared engine, exactly as `fathom run` computes it:
 * *depth (h, w) malloc'd, caller frees. */
fathom_status sv_depth_image(sv_server *s, const void *data, size_t size, int input_size,
                             float **depth, int *w, int *h, int *metric);

/* Sinks */
int sv_http_start(sv_server *s);                     /* http.c; 0 or -1 (error set) */
void sv_http_stop(sv_server *s);

/* Blocking work for a request, off the HTTP polling threads (jobs.c). fn runs on a job
 * thread (cancel: the server is stopping, answer at once) while conn is suspended; conn is
 * resumed after it. */
struct MHD_Connection;
typedef void (*sv_job_fn)(sv_server *s, void *arg, int cancel);
int sv_jobs_start(sv_server *s);                     /* 0, or -1 (some threads missing) */
int sv_job_submit(sv_server *s, struct MHD_Connection *conn, sv_job_fn fn, void *arg); /* 0/-1 */
void sv_jobs_stop(sv_server *s);                     /* runs or cancels every job, joins */
/* MJPEG streams (mjpeg.c): a new result resumes those waiting; close ends them all. */
void sv_mjpeg_notify(sv_server *s);
void sv_mjpeg_close_all(sv_server *s);
void sv_ws_start_client(sv_server *s, void *urh, int sock, const char *extra, size_t n_extra,
                        int float32);               /* ws.c */
void sv_ws_notify_all(sv_server *s);                 /* a new result is in s->out: one wakeup */
void sv_ws_close_all(sv_server *s);                  /* close frames, join the loop */
char *sv_status_json(sv_server *s);                  /* metrics.c; malloc'd */
char *sv_metrics_text(sv_server *s);                 /* malloc'd */
extern const unsigned char sv_viewer_html[];         /* generated at build time */
extern const size_t sv_viewer_html_len;

#endif
