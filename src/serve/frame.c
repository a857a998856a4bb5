/* frame.c - refcounted frames, latest-frame-wins slots, lazy JPEG encoding, clocks, rates. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>

#include "media/colormap.h"
#include "media/normalize.h"
#include "serve/priv.h"

double sv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double sv_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct timespec sv_deadline(double timeout_s) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    double t = dl.tv_sec + dl.tv_nsec * 1e-9 + timeout_s;
    dl.tv_sec = (time_t)t;
    dl.tv_nsec = (long)((t - (double)dl.tv_sec) * 1e9);
    return dl;
}

void sv_cond_init(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

sv_frame *sv_frame_new(int w, int h) {
    sv_frame *f = calloc(1, sizeof *f); /* owned by its references */
    if (!f) return NULL;
    /* padded: swscale's SIMD output may store past the last pixel (FFmpeg asks for padded
     * destination buffers) */
    f->rgb = malloc((size_t)w * h * 3 + 64);
    if (!f->rgb) {
        free(f);
        return NULL;
    }
    atomic_init(&f->ref, 1);
    f->w = w;
    f->h = h;
    f->pts_us = -1;
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void sv_frame_ref(sv_frame *f) { atomic_fetch_add(&f->ref, 1); }

void sv_frame_unref(sv_frame **pf) {
    sv_frame *f = *pf;
    *pf = NULL;
    if (!f || atomic_fetch_sub(&f->ref, 1) != 1) return;
    free(f->rgb);
    free(f->x);
    free(f->net);
    free(f->depth);
    free(f->jpeg[0]);
    free(f->jpeg[1]);
    free(f->u16);
    free(f->color);
    free(f->ws[0]);
    free(f->ws[1]);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static int encode_jpeg(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr); /* can only fail on OOM here: libjpeg exits then; sizes are valid */
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *len = n;
    return buf ? 0 : -1;
}

/* Caller holds f->mu. */
static const uint8_t *color_locked(sv_frame *f) {
    if (!f->color && f->depth) {
        size_t n = (size_t)f->w * f->h;
        uint8_t *q = malloc(n); /* owned here */
        f->color = q ? malloc(n * 3) : NULL;
        if (f->color) {
            fathom_normalize_u8(f->depth, n, f->lo, f->hi, f->invert, q);
            fathom_colormap_apply(fathom_colormap_lut(f->cmap), q, n, f->color);
        }
        free(q);
    }
    return f->color;
}

const uint8_t *sv_frame_color(sv_frame *f) {
    pthread_mutex_lock(&f->mu);
    const uint8_t *r = color_locked(f);
    pthread_mutex_unlock(&f->mu);
    return r;
}

const uint8_t *sv_frame_jpeg(sv_frame *f, int which, size_t *len) {
    pthread_mutex_lock(&f->mu);
    if (!f->jpeg[which]) {
        const uint8_t *src = which == 0 ? color_locked(f) : f->rgb;
        if (src) encode_jpeg(src, f->w, f->h, f->quality > 0 ? f->quality : 80, &f->jpeg[which],
                             &f->jpeg_len[which]);
    }
    const uint8_t *r = f->jpeg[which];
    *len = f->jpeg_len[which];
    pthread_mutex_unlock(&f->mu);
    return r;
}

const uint16_t *sv_frame_u16_locked(sv_frame *f) {
    if (!f->u16 && f->depth) {
        size_t n = (size_t)f->w * f->h;
        f->u16 = malloc(n * sizeof *f->u16);
        if (f->u16) fathom_normalize_u16(f->depth, n, f->lo, f->hi, 0, f->u16);
    }
    return f->u16;
}

const uint16_t *sv_frame_u16(sv_frame *f) {
    pthread_mutex_lock(&f->mu);
    const uint16_t *r = sv_frame_u16_locked(f);
    pthread_mutex_unlock(&f->mu);
    return r;
}

void sv_slot_init(sv_slot *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    sv_cond_init(&s->cv);
    atomic_init(&s->drops, 0);
}

void sv_slot_destroy(sv_slot *s) {
    sv_frame_unref(&s->f);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

void sv_slot_put(sv_slot *s, sv_frame *f) {
    sv_frame_ref(f);
    pthread_mutex_lock(&s->mu);
    if (s->f && !s->taken) atomic_fetch_add(&s->drops, 1);
    sv_frame *old = s->f;
    s->f = f;
    s->taken = 0;
    s->seq++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    sv_frame_unref(&old);
}

sv_frame *sv_slot_wait(sv_slot *s, uint64_t *seen, double timeout_s, const atomic_int *stop) {
    struct timespec dl = sv_deadline(timeout_s);
    sv_frame *f = NULL;
    pthread_mutex_lock(&s->mu);
    while (s->seq <= *seen && !(stop && atomic_load(stop))) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0) break;
    }
    if (s->seq > *seen && s->f && !(stop && atomic_load(stop))) {
        f = s->f;
        sv_frame_ref(f);
        *seen = s->seq;
        s->taken = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return f;
}

void sv_slot_wake(sv_slot *s) {
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void sv_rate_tick(sv_server *s, sv_rate *r) {
    double t = sv_mono();
    pthread_mutex_lock(&s->stats_mu);
    if (r->last > 0) {
        double dt = t - r->last;
        r->ema_dt = r->ema_dt > 0 ? 0.9 * r->ema_dt + 0.1 * dt : dt;
    }
    r->last = t;
    pthread_mutex_unlock(&s->stats_mu);
}

/* Caller holds stats_mu. A stage silent for 2 s reads 0 fps. */
double sv_rate_fps(const sv_rate *r, double now) {
    if (r->ema_dt <= 0 || now - r->last > 2.0) return 0;
    return 1.0 / r->ema_dt;
}

const double sv_lat_bounds[SV_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,    2.5,   5,    10,  1e300};

void sv_record_latency(sv_server *s, double sec) {
    pthread_mutex_lock(&s->stats_mu);
    for (int i = 0; i < SV_LAT_BUCKETS; i++)
        if (sec <= sv_lat_bounds[i]) {
            s->lat_hist[i]++;
            break;
        }
    s->lat_sum += sec;
    s->lat_count++;
    pthread_mutex_unlock(&s->stats_mu);
}

void sv_stage_busy(sv_server *s, int stage, double sec) {
    pthread_mutex_lock(&s->stats_mu);
    s->stage_busy[stage] += sec;
    pthread_mutex_unlock(&s->stats_mu);
}

void sv_get_config(sv_server *s, sv_config *c) {
    pthread_mutex_lock(&s->cfg_mu);
    *c = s->cfg;
    pthread_mutex_unlock(&s->cfg_mu);
}

void sv_set_source_state(sv_server *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s->stats_mu);
    vsnprintf(s->source_state, sizeof s->source_state, fmt, ap);
    pthread_mutex_unlock(&s->stats_mu);
    va_end(ap);
}

void sv_set_output_state(sv_server *s, int which, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s->stats_mu);
    vsnprintf(s->output_state[which], sizeof s->output_state[which], fmt, ap);
    pthread_mutex_unlock(&s->stats_mu);
    va_end(ap);
}
