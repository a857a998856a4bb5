/* outputs.c - the recording (config key record) and output stream (output_url) sinks.
 *
 * The analyser hands every result to a short queue (SV_OUTQ frames) drained by one outputs
 * thread, so encoding never runs on the pipeline thread; when the encoders fall behind on a
 * live source, the oldest queued frame is dropped (counted). A file played as fast as
 * possible is not live: there the analyser waits for room, so every frame is recorded. Each pass the thread compares the settings with
 * what is open: a changed or cleared path finalizes the file (flushed, trailer written, renamed
 * from its partial name) or ends the stream, and a new one opens on the next frame (its size).
 * A source of another frame size finalizes the recording and starts the next file as
 * <stem>-2.<ext>, -3, ... so no file changes size midway. Stopping the server finalizes both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "serve/priv.h"
#include "serve/stream_out.h"
#include "video/video_writer.h"

typedef struct outputs {
    fathom_video_writer *rec;  /* owned */
    char rec_key[SV_STR];      /* the setting it was opened for */
    char rec_path[SV_STR + 16];
    int rec_part;              /* file number for this setting (size changes) */
    int rec_w, rec_h, rec_failed;
    int64_t rec_pts0, rec_last;
    sv_stream *stream;         /* owned */
    char url[SV_STR];
    int st_w, st_h;
    double st_retry, st_backoff; /* failed: next try (monotonic) and the wait before it */
    double t0;
} outputs;

void sv_outputs_push(sv_server *s, sv_frame *f) {
    sv_frame *old = NULL;
    sv_frame_ref(f);
    pthread_mutex_lock(&s->outq_mu);
    while (f->keep && s->outq_n == SV_OUTQ && !atomic_load(&s->stop)) {
        struct timespec dl = sv_deadline(0.1);
        pthread_cond_timedwait(&s->outq_cv, &s->outq_mu, &dl);
    }
    if (s->outq_n == SV_OUTQ) { /* full: the oldest goes */
        old = s->outq[s->outq_head];
        s->outq_head = (s->outq_head + 1) % SV_OUTQ;
        s->outq_n--;
        atomic_fetch_add(&s->n_drop_outputs, 1);
    }
    s->outq[(s->outq_head + s->outq_n) % SV_OUTQ] = f;
    s->outq_n++;
    pthread_cond_broadcast(&s->outq_cv);
    pthread_mutex_unlock(&s->outq_mu);
    sv_frame_unref(&old);
}

static sv_frame *pop(sv_server *s, double timeout_s) {
    struct timespec dl = sv_deadline(timeout_s);
    sv_frame *f = NULL;
    pthread_mutex_lock(&s->outq_mu);
    while (s->outq_n == 0 && !atomic_load(&s->stop))
        if (pthread_cond_timedwait(&s->outq_cv, &s->outq_mu, &dl) != 0) break;
    if (s->outq_n > 0) {
        f = s->outq[s->outq_head];
        s->outq_head = (s->outq_head + 1) % SV_OUTQ;
        s->outq_n--;
        pthread_cond_broadcast(&s->outq_cv); /* room for a producer that keeps every frame */
    }
    pthread_mutex_unlock(&s->outq_mu);
    return f;
}

static void close_record(sv_server *s, outputs *o) {
    if (!o->rec) return;
    if (fathom_video_writer_finish(o->rec) == FATHOM_OK) {
        fathom_log(FATHOM_LOG_INFO, "record: finalized %s", o->rec_path);
        sv_set_output_state(s, 0, "finalized %s", o->rec_path);
    } else {
        fathom_log(FATHOM_LOG_WARN, "record: %s: %s", o->rec_path, fathom_last_error());
        sv_set_output_state(s, 0, "error: %s", fathom_last_error());
    }
    fathom_video_writer_free(&o->rec);
}

/* `path` for part 1, `<stem>-N.<ext>` after size changes. */
static void part_path(const char *path, int part, char *out, size_t cap) {
    if (part <= 1) {
        snprintf(out, cap, "%s", path);
        return;
    }
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash)) dot = path + strlen(path);
    snprintf(out, cap, "%.*s-%d%s", (int)(dot - path), path, part, dot);
}

static void open_record(sv_server *s, outputs *o, const sv_frame *f) {
    part_path(o->rec_key, o->rec_part, o->rec_path, sizeof o->rec_path);
    const char *dot = strrchr(o->rec_path, '.');
    fathom_video_writer_opts wo = fathom_video_writer_default_opts();
    /* .mkv/.nut/.avi: lossless FFV1 gray16; other containers (.mp4, .mov): H.264 gray */
    wo.codec = dot && (!strcasecmp(dot, ".mkv") || !strcasecmp(dot, ".nut") || !strcasecmp(dot, ".avi"))
                   ? FATHOM_VCODEC_FFV1 : FATHOM_VCODEC_H264;
    wo.threads = 1; /* encoding stays on the outputs thread: the cores belong to the analyser */
    fathom_video_source_desc src = {{1, 1000000}, {0, 1}, NULL, -1};
    if (access(o->rec_path, F_OK) == 0) { /* the key comes over HTTP too: never replace a file */
        fathom_log(FATHOM_LOG_WARN, "record: %s exists; not overwritten (choose another name)", o->rec_path);
        sv_set_output_state(s, 0, "error: %s exists; not overwritten", o->rec_path);
        o->rec_failed = 1;
        return;
    }
    if (fathom_video_writer_open(o->rec_path, f->w, f->h, &src, &wo, &o->rec) != FATHOM_OK) {
        fathom_log(FATHOM_LOG_WARN, "record: %s", fathom_last_error());
        sv_set_output_state(s, 0, "error: %s", fathom_last_error());
        o->rec_failed = 1; /* until the setting changes */
        return;
    }
    o->rec_w = f->w, o->rec_h = f->h;
    o->rec_pts0 = -1;
    o->rec_last = -1;
    fathom_log(FATHOM_LOG_INFO, "record: writing %s (%dx%d)", o->rec_path, f->w, f->h);
    sv_set_output_state(s, 0, "recording %s", o->rec_path);
}

static void write_record(sv_server *s, outputs *o, sv_frame *f) {
    if (o->rec && (f->w != o->rec_w || f->h != o->rec_h)) { /* new source size: next file */
        close_record(s, o);
        o->rec_part++;
    }
    if (!o->rec && !o->rec_failed) open_record(s, o, f);
    if (!o->rec) return;
    int64_t t = (int64_t)(f->t_capture * 1e6);
    if (o->rec_pts0 < 0) o->rec_pts0 = t;
    int64_t pts = t - o->rec_pts0;
    if (pts <= o->rec_last) pts = o->rec_last + 1;
    o->rec_last = pts;
    const uint16_t *g = sv_frame_u16(f);
    if (g && fathom_video_writer_write_gray16(o->rec, g, pts, 0) == FATHOM_OK) {
        atomic_fetch_add(&s->n_recorded, 1);
        return;
    }
    fathom_log(FATHOM_LOG_WARN, "record: %s: %s; recording stopped", o->rec_path,
               g ? fathom_last_error() : "out of memory");
    sv_set_output_state(s, 0, "error: %s", g ? fathom_last_error() : "out of memory");
    fathom_video_writer_free(&o->rec); /* keeps the partial file, playable to the last frame */
    o->rec_failed = 1;
}

/* A stream that fails (the server or receiver went away, or never was there) is tried again
 * after 1, 2, 4 ... 30 s, as a source is reopened: a receiver that comes back gets the stream
 * back without touching the settings. */
static void stream_failed(sv_server *s, outputs *o, const char *why) {
    o->st_backoff = o->st_backoff > 0 ? (o->st_backoff * 2 > 30 ? 30 : o->st_backoff * 2) : 1;
    o->st_retry = sv_mono() + o->st_backoff;
    fathom_log(FATHOM_LOG_WARN, "%s; trying again in %.0f s", why, o->st_backoff);
    sv_set_output_state(s, 1, "error: %s (trying again in %.0f s)", why, o->st_backoff);
}

static void write_stream(sv_server *s, outputs *o, sv_frame *f) {
    if (o->stream && (f->w != o->st_w || f->h != o->st_h)) sv_stream_close(&o->stream);
    if (!o->stream && sv_mono() >= o->st_retry) {
        if (sv_stream_open(o->url, f->w, f->h, &s->stop, &o->stream) != FATHOM_OK) {
            stream_failed(s, o, fathom_last_error());
            return;
        }
        o->st_w = f->w, o->st_h = f->h;
        fathom_log(FATHOM_LOG_INFO, "output_url: publishing %s (%dx%d)", o->url, f->w, f->h);
        sv_set_output_state(s, 1, "publishing %s", o->url);
    }
    if (!o->stream) return; /* failed: until the next try */
    const uint8_t *rgb = sv_frame_color(f);
    if (rgb && sv_stream_write(o->stream, rgb, (int64_t)((f->t_capture - o->t0) * 1e6)) == FATHOM_OK) {
        atomic_fetch_add(&s->n_streamed, 1);
        o->st_backoff = 0;
        return;
    }
    stream_failed(s, o, rgb ? fathom_last_error() : "output_url: out of memory");
    sv_stream_close(&o->stream);
}

/* Close what the settings no longer ask for; reset failures when a setting changes. */
static void follow_settings(sv_server *s, outputs *o, const sv_config *c) {
    if (strcmp(o->rec_key, c->record) != 0) {
        if (o->rec) close_record(s, o); /* its state says "finalized <path>" */
        else sv_set_output_state(s, 0, "off");
        snprintf(o->rec_key, sizeof o->rec_key, "%s", c->record);
        o->rec_part = 1;
        o->rec_failed = 0;
    }
    if (strcmp(o->url, c->output_url) != 0) {
        if (o->stream) fathom_log(FATHOM_LOG_INFO, "output_url: ended %s", o->url);
        sv_stream_close(&o->stream);
        sv_set_output_state(s, 1, c->output_url[0] ? "starting" : "off");
        snprintf(o->url, sizeof o->url, "%s", c->output_url);
        o->st_retry = o->st_backoff = 0;
    }
}

void *sv_outputs_main(void *arg) {
    sv_server *s = arg;
    outputs *o = calloc(1, sizeof *o); /* owned here */
    if (!o) return NULL;
    o->t0 = sv_now();
    while (!atomic_load(&s->stop)) {
        sv_frame *f = pop(s, 0.2);
        sv_config c;
        sv_get_config(s, &c);
        follow_settings(s, o, &c);
        if (f && o->rec_key[0]) write_record(s, o, f);
        if (f && o->url[0]) write_stream(s, o, f);
        sv_frame_unref(&f);
    }
    close_record(s, o);
    sv_stream_close(&o->stream);
    free(o);
    return NULL;
}
