/* analyser.c - the analyser thread (newest source frame -> the network's output -> the post
 * stage's slot) and the one-image path of POST /v1/depth. Both use the server's single engine
 * under engine_mu and compute exactly what `fathom run` does: official resize to the network
 * size, forward pass, align-corners resize back to the image size. Like `fathom run`'s stages,
 * the live path leaves only the forward pass on this thread: the source prepares the network
 * input, the post stage resizes the depth back (perf, tiny model at 112 from 640x360: the two
 * resizes and min/max were 27 % of this thread's time). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/log.h"
#include "core/status.h"
#include "governor/governor.h"
#include "media/normalize.h"
#include "serve/priv.h"

static fathom_status vda_emit(void *user, int64_t frame, const float *depth, int h, int w) {
    struct sv_vda_out *o = user;
    (void)frame;
    if (h != o->h || w != o->w)
        return fathom_fail(FATHOM_ERR_SHAPE, "vda: depth of %dx%d for a %dx%d frame", w, h, o->w, o->h);
    memcpy(o->depth, depth, (size_t)w * h * sizeof(float));
    o->got = 1;
    return FATHOM_OK;
}

/* A Video Depth Anything model: the official streaming mode, one frame in, one depth out.
 * live: the server's session, whose temporal cache starts again when the source is reopened
 * (gen), the frame size or the input size changes, or after an error; otherwise (POST
 * /v1/depth) a one-off session, so a posted image never disturbs the live video. Caller
 * holds engine_mu. */
static fathom_status vda_infer(sv_server *s, const uint8_t *rgb, size_t stride, int w, int h,
                               int input_size, int live, uint64_t gen, float *depth) {
    fathom_vda_params vp = fathom_vda_default_params();
    vp.streaming = 1;
    vp.input_size = input_size;
    struct sv_vda_out one = {depth, w, h, 0}, *o = live ? &s->vda_out : &one;
    fathom_vda *v = NULL; /* one-off: owned here */
    fathom_vda **pv = live ? &s->vda : &v;
    if (live && s->vda && (s->vda_gen != gen || s->vda_w != w || s->vda_h != h || s->vda_in != input_size))
        fathom_vda_free(&s->vda);
    fathom_status st = FATHOM_OK;
    if (!*pv) {
        st = fathom_vda_create(s->model, &s->p.engine, &vp, vda_emit, o, pv);
        if (live) s->vda_gen = gen, s->vda_w = w, s->vda_h = h, s->vda_in = input_size;
    }
    if (st == FATHOM_OK) {
        *o = (struct sv_vda_out){depth, w, h, 0};
        st = fathom_vda_push(*pv, rgb, h, w, stride);
        if (st == FATHOM_OK && !o->got) st = fathom_fail(FATHOM_ERR_INTERNAL, "vda: no depth for the frame");
    }
    if (!live || st != FATHOM_OK) fathom_vda_free(pv);
    return st;
}

/* One inference. In: the image, and a network input the source already made (x_ready at
 * x_nh x x_nw; NULL: made here in the grow-only scratch x). Out: the engine's output net (nh, nw), or
 * for a VDA model the depth (h, w) itself; both malloc'd here and taken by the caller. */
typedef struct infer_job {
    const uint8_t *rgb;
    size_t stride;
    int w, h, input_size, live;
    uint64_t gen;                    /* source opening (VDA cache resets) */
    const float *x_ready;
    int x_nh, x_nw;
    float *x;                        /* owned: scratch, kept between calls */
    size_t x_cap;
    float *net;                      /* owned until taken */
    int nh, nw;
    float *depth;                    /* owned until taken */
    double busy;                     /* seconds in the engine */
    int metric;
} infer_job;

static fathom_status infer_body(sv_server *s, infer_job *j) {
    pthread_mutex_lock(&s->engine_mu);
    if (s->video) {
        if (!j->depth) j->depth = malloc((size_t)j->w * j->h * sizeof(float));
        fathom_status st = FATHOM_ERR_NOMEM;
        double t = sv_mono();
        if (j->depth)
            st = vda_infer(s, j->rgb, j->stride, j->w, j->h, j->input_size, j->live, j->gen, j->depth);
        j->busy = sv_mono() - t;
        j->metric = s->metric;
        pthread_mutex_unlock(&s->engine_mu);
        return st;
    }
    pthread_mutex_unlock(&s->engine_mu);
    int nh, nw;
    fathom_network_size(j->h, j->w, j->input_size, &nh, &nw);
    size_t px = (size_t)nh * nw;
    const float *x = j->x_ready;
    if (!x || j->x_nh != nh || j->x_nw != nw) {
        if (j->x_cap < 3 * px) {
            free(j->x);
            j->x = malloc(3 * px * sizeof(float));
            j->x_cap = j->x ? 3 * px : 0;
        }
        if (!j->x) return FATHOM_ERR_NOMEM;
        fathom_status st = fathom_preprocess(j->rgb, j->h, j->w, j->stride, nh, nw, j->x);
        if (st != FATHOM_OK) return st;
        x = j->x;
    }
    if (!j->net) j->net = malloc(px * sizeof(float));
    if (!j->net) return FATHOM_ERR_NOMEM;
    pthread_mutex_lock(&s->engine_mu);
    if (s->video) { /* switched to a VDA model meanwhile */
        pthread_mutex_unlock(&s->engine_mu);
        return infer_body(s, j);
    }
    double t = sv_mono();
    fathom_status st = fathom_engine_forward(s->engine, x, 1, nh, nw, j->net);
    j->busy = sv_mono() - t;
    j->metric = s->metric; /* of the engine that computed it (models switch live) */
    pthread_mutex_unlock(&s->engine_mu);
    j->nh = nh, j->nw = nw;
    return st;
}

/* infer_body inside a one-thread OpenMP team whose own team size is 1. The calling thread
 * (the analyser, or an HTTP connection's for POST) was not started by OpenMP, so its default
 * team size is every core; OpenBLAS (OpenMP build) follows the caller's and then runs its own
 * threads inside the engine's, measured 15-25x slower under load (VDA tiny: 1.4 s vs 80 ms a
 * frame). fathom_blas_serial() in the CLI sets only the main thread's. Setting it on the bare
 * thread instead (omp_set_num_threads outside any region) corrupted the heap at thread exit
 * in libgomp; inside a region it is the implicit task's, which libgomp owns. A team of one is
 * not an active level, so the engine's own regions still run their threads. */
static fathom_status infer(sv_server *s, infer_job *j) {
    fathom_status st = FATHOM_OK;
#ifdef _OPENMP
#pragma omp parallel num_threads(1)
    {
        omp_set_num_threads(1);
        st = infer_body(s, j);
    }
#else
    st = infer_body(s, j);
#endif
    return st;
}

fathom_status sv_depth_image(sv_server *s, const void *data, size_t size, int input_size,
                             float **depth, int *w, int *h, int *metric) {
    fathom_image img;
    *depth = NULL;
    fathom_status st = fathom_image_decode(data, size, "request body", FATHOM_DEFAULT_MAX_PIXELS, &img);
    if (st != FATHOM_OK) return st;
    infer_job j = {.rgb = img.rgb, .stride = img.stride, .w = img.width, .h = img.height,
                   .input_size = input_size};
    st = infer(s, &j);
    if (st == FATHOM_OK && !j.depth) { /* the engine's output back to the image size */
        j.depth = malloc((size_t)img.width * img.height * sizeof(float));
        if (j.depth) fathom_resize_depth(j.net, j.nh, j.nw, j.depth, img.height, img.width);
        else st = FATHOM_ERR_NOMEM;
    }
    free(j.x);
    free(j.net);
    if (st == FATHOM_OK) {
        *depth = j.depth;
        *w = img.width;
        *h = img.height;
        *metric = j.metric;
    } else {
        free(j.depth);
    }
    fathom_image_free(&img);
    return st;
}

/* The governor follows target_util live: recreated when the target changes. */
static void update_governor(sv_server *s, double target) {
    if (target == s->gov_target && (s->gov || (target <= 0 && !s->p.use_governor))) return;
    fathom_governor_params gp = s->p.governor;
    gp.slots = 1;
    gp.device[0] = s->p.engine.device;
    gp.device_index[0] = s->p.engine.device_index;
    gp.target_util = target;
    fathom_governor *g = NULL;
    if ((target > 0 || s->p.use_governor) && fathom_governor_create(&gp, &g) != FATHOM_OK)
        fathom_log(FATHOM_LOG_WARN, "governor: %s", fathom_last_error());
    pthread_mutex_lock(&s->gov_mu);
    fathom_governor *old = s->gov;
    s->gov = g;
    s->gov_target = target;
    pthread_mutex_unlock(&s->gov_mu);
    fathom_governor_free(&old);
}

void *sv_analyser_main(void *arg) {
    sv_server *s = arg;
    float *x = NULL; /* owned: scratch */
    size_t xc = 0;
    s->gov_target = -1;
    while (!atomic_load(&s->stop)) {
        sv_config cfg;
        sv_get_config(s, &cfg);
        update_governor(s, cfg.target_util);
        double t_wait = sv_mono();
        sv_frame *f = sv_queue_take(&s->in, 0.2, &s->stop);
        t_wait = sv_mono() - t_wait;
        pthread_mutex_lock(&s->stats_mu);
        s->starved_s_total += t_wait; /* waiting for the source */
        pthread_mutex_unlock(&s->stats_mu);
        if (!f) continue;
        sv_get_config(s, &cfg); /* the settings as of this frame (the wait may have been long) */
        if (s->gov) {
            int batch = 1;
            double pause = 0;
            fathom_governor_advise(s->gov, 0, &batch, &pause);
            if (pause > 0) {
                struct timespec ts = {(time_t)pause, (long)((pause - (time_t)pause) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        infer_job j = {.rgb = f->rgb, .stride = (size_t)f->w * 3, .w = f->w, .h = f->h,
                       .input_size = cfg.input_size, .live = 1, .gen = f->source_gen,
                       .x_ready = f->x_size == cfg.input_size ? f->x : NULL, .x_nh = f->nh,
                       .x_nw = f->nw, .x = x, .x_cap = xc};
        fathom_status st = infer(s, &j);
        x = j.x, xc = j.x_cap;
        if (s->gov) fathom_governor_record(s->gov, 0, j.busy, 1);
        if (st != FATHOM_OK) {
            fathom_log(FATHOM_LOG_WARN, "analyser: frame %lld: %s", (long long)f->id,
                       fathom_last_error());
            free(j.net);
            free(j.depth);
            sv_frame_unref(&f);
            continue;
        }
        /* frames are shared read-only once published; this one is not yet. The depth resize
         * and min/max run in the post stage, beside the next inference. */
        free(f->x);
        f->x = NULL;
        f->net = j.net, f->nh = j.nh, f->nw = j.nw;
        f->depth = j.depth;
        f->metric = j.metric;
        f->cmap = cfg.colormap;
        f->invert = cfg.invert;
        f->quality = cfg.jpeg_quality;
        f->t_done = sv_now();
        pthread_mutex_lock(&s->stats_mu);
        s->infer_s_last = j.busy;
        s->infer_s_total += j.busy;
        s->stage_busy[SV_STAGE_ENGINE] += j.busy;
        pthread_mutex_unlock(&s->stats_mu);
        atomic_fetch_add(&s->n_analysed, 1);
        sv_rate_tick(s, &s->rate_analyser);
        /* a file played as fast as possible loses no frame here either */
        while (f->keep && !atomic_load(&s->stop) && !sv_queue_wait_room(&s->post, 0.1)) {
        }
        sv_queue_put(&s->post, f);
        sv_frame_unref(&f);
    }
    free(x);
    return NULL;
}
