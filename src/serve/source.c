/* source.c - the source thread: libavformat/libavdevice input -> RGB frames (longest side
 * <= max_res) -> the prepare stage's queue (files as fast as possible) or the analyser's.
 *
 * Every blocking libavformat call carries an interrupt callback that fires on shutdown or when
 * the `source` setting changes, so neither a silent UDP stream nor a dead camera can hold up
 * a stop. For a file played as fast as possible this thread only demuxes, decodes and converts
 * to RGB; the network input is made on the prepare thread (prepare.c), so decoding the next
 * frame overlaps preparing this one. A live frame is prepared here and goes straight to the
 * analyser: one thread hand-over fewer on the latency path, where frames come at the source's
 * rate and the source thread has time to spare.
 * Regular files are paced at their timestamps when `realtime` is on; live inputs run at their
 * own rate; without `realtime` a file goes as fast as the analyser takes its frames (none
 * dropped: a file is not live). A stream that ends or fails is reopened after a short back-off (a camera or
 * sender that dies and comes back is picked up again); a file ends (or loops). */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "core/log.h"
#include "serve/priv.h"

typedef struct src_ctx {
    sv_server *s;
    uint64_t gen;          /* cfg_gen the input was opened under */
    char url[1024];
    char opts[1024];       /* source_options it was opened with */
    char warned[1024];     /* source_options whose unused keys were logged */
    char last_err[300];    /* the last open error logged: a dead input is logged once, not
                              every 0.5 s (its state in the status stays current) */
    double deadline;       /* monotonic: give up a blocking call after this (0: none) */
    int timed_out;         /* the deadline fired (the error may surface a call later) */
} src_ctx;

static int source_changed(src_ctx *c) {
    if (atomic_load(&c->s->cfg_gen) == c->gen) return 0;
    sv_config cfg;
    sv_get_config(c->s, &cfg);
    c->gen = atomic_load(&c->s->cfg_gen);
    return strcmp(cfg.source, c->url) != 0 || strcmp(cfg.source_options, c->opts) != 0;
}

static int interrupt_cb(void *arg) {
    src_ctx *c = arg;
    if (atomic_load(&c->s->stop)) return 1;
    if (c->deadline > 0 && sv_mono() > c->deadline) {
        c->timed_out = 1;
        return 1;
    }
    return 0;
}

static void nap(src_ctx *c, double sec) {
    double end = sv_mono() + sec;
    while (!atomic_load(&c->s->stop) && sv_mono() < end) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (source_changed(c)) return;
    }
}

/* Play one opening of the input until it ends, fails, or the source setting changes.
 * Returns 1 when it ended normally (EOF), 0 on error, -1 on stop/change. */
/* The conversion of decoded frames to RGB at the max_res bound, and the real-time pacing. */
typedef struct scaler {
    struct SwsContext *sws; /* owned by play() */
    int sw_w, sw_h, sw_fmt, ow, oh;
    double t0_wall, t0_pts;
} scaler;

/* One decoded frame, scaled to RGB, to the next stage: paced at the file's rate when playing
 * a file in real time; a file played as fast as possible waits for room in the prepare
 * stage's queue instead. */
static void deliver(src_ctx *c, const AVFrame *fr, scaler *sc, AVRational tb, int is_file,
                    const sv_config *cfg) {
    sv_server *s = c->s;
    double t0 = sv_mono();
    if (fr->width <= 0 || fr->height <= 0) return;
    if (fr->width != sc->sw_w || fr->height != sc->sw_h || fr->format != sc->sw_fmt) {
        sc->sw_w = fr->width, sc->sw_h = fr->height, sc->sw_fmt = fr->format;
        double k = (double)cfg->max_res / (sc->sw_w > sc->sw_h ? sc->sw_w : sc->sw_h);
        if (k > 1) k = 1;
        sc->ow = (int)(sc->sw_w * k + 0.5), sc->oh = (int)(sc->sw_h * k + 0.5);
        if (sc->ow < 1) sc->ow = 1;
        if (sc->oh < 1) sc->oh = 1;
        sws_freeContext(sc->sws);
        sc->sws = sws_getContext(sc->sw_w, sc->sw_h, fr->format, sc->ow, sc->oh, AV_PIX_FMT_RGB24,
                                 SWS_BILINEAR, NULL, NULL, NULL);
    }
    sv_frame *f = sc->sws ? sv_frame_new(sc->ow, sc->oh) : NULL;
    if (!f) return;
    uint8_t *dst[4] = {f->rgb, 0, 0, 0};
    int dst_ls[4] = {sc->ow * 3, 0, 0, 0};
    sws_scale(sc->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, sc->sw_h, dst, dst_ls);
    sv_stage_busy(s, SV_STAGE_DECODE, sv_mono() - t0);
    int64_t pts = fr->best_effort_timestamp;
    f->pts_us = pts == AV_NOPTS_VALUE ? -1 : av_rescale_q(pts, tb, AV_TIME_BASE_Q);
    if (is_file && cfg->realtime && f->pts_us >= 0) { /* pace at the file's rate */
        double pt = f->pts_us * 1e-6;
        if (sc->t0_wall < 0) sc->t0_wall = sv_mono(), sc->t0_pts = pt;
        double wait = (pt - sc->t0_pts) - (sv_mono() - sc->t0_wall);
        if (wait > 0) nap(c, wait > 1 ? 1 : wait);
    }
    /* a file played as fast as possible is not live: every frame is analysed
     * (the source waits for the analyser instead of dropping) */
    while (is_file && !cfg->realtime && !atomic_load(&s->stop) && !source_changed(c) &&
           !sv_queue_wait_room(&s->prep, 0.1)) {
    }
    f->id = s->next_id++;
    f->source_gen = atomic_load(&s->n_source_opens);
    f->keep = is_file && !cfg->realtime;
    f->t_capture = sv_now();
    if (f->keep) { /* throughput: the prepare thread makes its input while this decodes on */
        sv_queue_put(&s->prep, f);
    } else { /* live: latency; one hand-over fewer, and prepared only while the analyser
              * keeps up (behind, most frames are replaced and it prepares the one it takes) */
        while (sv_queue_waiting(&s->prep) > 0 && !atomic_load(&s->stop)) { /* frames of a file */
            struct timespec ts = {0, 2 * 1000 * 1000}; /* switched from: they go first, in order */
            nanosleep(&ts, NULL);
        }
        if (sv_queue_waiting(&s->in) == 0) {
            double t = sv_mono();
            sv_frame_prepare(s, f, cfg->input_size);
            sv_stage_busy(s, SV_STAGE_PREPARE, sv_mono() - t);
        }
        sv_queue_put(&s->in, f);
    }
    sv_frame_unref(&f);
    atomic_fetch_add(&s->n_source, 1);
    sv_rate_tick(s, &s->rate_source);
}

/* source_options (KEY=VALUE,...; validated by the settings) into libavformat's options; the
 * key `format` picks the demuxer. A /dev/video path is a V4L2 camera. 0, or -1 with the state
 * set (an unknown format). */
static int source_options(src_ctx *c, AVDictionary **opts, const AVInputFormat **ifmt) {
    char buf[sizeof c->opts], *save = NULL;
    snprintf(buf, sizeof buf, "%s", c->opts);
    const char *fmt_name = !strncmp(c->url, "/dev/video", 10) ? "video4linux2" : NULL;
    for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(it, '=');
        if (!eq) continue;
        *eq = '\0';
        if (!strcmp(it, "format")) fmt_name = eq + 1;
        else av_dict_set(opts, it, eq + 1, 0);
    }
    if (fmt_name && !(*ifmt = av_find_input_format(fmt_name))) {
        sv_set_source_state(c->s, "error: %s: this FFmpeg has no '%s' input format", c->url, fmt_name);
        if (strcmp(fmt_name, c->last_err))
            fathom_log(FATHOM_LOG_WARN, "source %s: this FFmpeg has no '%s' input format", c->url, fmt_name);
        snprintf(c->last_err, sizeof c->last_err, "%s", fmt_name);
        return -1;
    }
    return 0;
}

/* The cause of a failed open, said plainly for cameras (the usual three). */
static void open_error(const src_ctx *c, int ret, char *eb, size_t cap) {
    int dev = !strncmp(c->url, "/dev/video", 10);
    if (dev && ret == AVERROR(ENOENT))
        snprintf(eb, cap, "no such device (camera not connected? `ls /dev/video*` lists them)");
    else if (dev && ret == AVERROR(EBUSY))
        snprintf(eb, cap, "device busy (another program is using the camera)");
    else if (dev && ret == AVERROR(EACCES))
        snprintf(eb, cap, "permission denied (add the user to the 'video' group)");
    else if (dev && ret == AVERROR(EIO))
        snprintf(eb, cap, "input/output error (the camera rejected the format, size or frame rate"
                          " in source_options?)");
    else
        av_strerror(ret, eb, cap);
}

static int play(src_ctx *c, int is_file, const sv_config *cfg) {
    sv_server *s = c->s;
    AVFormatContext *fmt = avformat_alloc_context(); /* owned here */
    if (!fmt) return 0;
    fmt->interrupt_callback.callback = interrupt_cb;
    fmt->interrupt_callback.opaque = c;
    AVDictionary *opts = NULL;
    const AVInputFormat *ifmt = NULL;
    if (source_options(c, &opts, &ifmt) != 0) {
        av_dict_free(&opts);
        avformat_free_context(fmt);
        atomic_fetch_add(&s->n_source_errors, 1);
        return 0;
    }
    if (!is_file) av_dict_set(&opts, "rw_timeout", "5000000", 0);
    c->deadline = sv_mono() + 10; /* opening and probing a stream */
    c->timed_out = 0;
    int ret = avformat_open_input(&fmt, c->url, ifmt, &opts);
    /* what the demuxer did not take (a camera option on a file, a misspelt key) */
    const AVDictionaryEntry *e = NULL;
    while (ret >= 0 && strcmp(c->opts, c->warned) &&
           (e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)))
        if (strcmp(e->key, "rw_timeout"))
            fathom_log(FATHOM_LOG_WARN, "source %s: option %s=%s not used by the %s input", c->url,
                       e->key, e->value, fmt->iformat ? fmt->iformat->name : "?");
    if (ret >= 0) snprintf(c->warned, sizeof c->warned, "%s", c->opts); /* once, not every loop */
    av_dict_free(&opts);
    char eb[256];
    if (ret < 0) {
        open_error(c, ret, eb, sizeof eb);
        if (!atomic_load(&s->stop)) {
            sv_set_source_state(s, "error: %s: %s", c->url, eb);
            if (strcmp(eb, c->last_err)) /* once per cause */
                fathom_log(FATHOM_LOG_WARN, "source %s: cannot open: %s", c->url, eb);
            snprintf(c->last_err, sizeof c->last_err, "%s", eb);
        }
        atomic_fetch_add(&s->n_source_errors, 1);
        return atomic_load(&s->stop) ? -1 : 0;
    }
    c->last_err[0] = '\0';
    AVCodecContext *dec = NULL;
    scaler sc = {.sw_fmt = -1, .t0_wall = -1};
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    int result = 0, vs = -1;
    if (!pkt || !fr) goto done;
    if (avformat_find_stream_info(fmt, NULL) < 0) goto done;
    const AVCodec *codec = NULL;
    vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (vs < 0 || !codec) {
        sv_set_source_state(s, "error: %s: no video stream", c->url);
        fathom_log(FATHOM_LOG_WARN, "source %s: no video stream", c->url);
        goto done;
    }
    dec = avcodec_alloc_context3(codec);
    if (!dec || avcodec_parameters_to_context(dec, fmt->streams[vs]->codecpar) < 0 ||
        avcodec_open2(dec, codec, NULL) < 0)
        goto done;
    atomic_fetch_add(&s->n_source_opens, 1);
    sv_set_source_state(s, "playing %s", c->url);
    fathom_log(FATHOM_LOG_INFO, "source %s: %s %dx%d", c->url, codec->name, dec->width, dec->height);
    AVRational tb = fmt->streams[vs]->time_base;
    for (;;) {
        if (atomic_load(&s->stop) || source_changed(c)) {
            result = -1;
            break;
        }
        c->deadline = is_file ? 0 : sv_mono() + 5; /* a live input silent for 5 s is dead */
        double t0 = sv_mono(); /* busy: reading a file; waiting for data: a live input's rate */
        ret = av_read_frame(fmt, pkt);
        if (is_file) sv_stage_busy(s, SV_STAGE_DECODE, sv_mono() - t0);
        if (ret < 0 && c->timed_out && !atomic_load(&s->stop)) {
            sv_set_source_state(s, "error: %s: no data for 5 s, reconnecting", c->url);
            fathom_log(FATHOM_LOG_WARN, "source %s: no data for 5 s, reconnecting", c->url);
            atomic_fetch_add(&s->n_source_errors, 1);
            break;
        }
        int eof = ret == AVERROR_EOF || (ret < 0 && ret != AVERROR_EXIT && avio_feof(fmt->pb));
        if (ret < 0 && !eof) {
            av_strerror(ret, eb, sizeof eb);
            if (!atomic_load(&s->stop)) {
                sv_set_source_state(s, "error: %s: %s", c->url, eb);
                fathom_log(FATHOM_LOG_WARN, "source %s: read failed: %s", c->url, eb);
            }
            atomic_fetch_add(&s->n_source_errors, 1);
            break;
        }
        if (!eof && pkt->stream_index != vs) {
            av_packet_unref(pkt);
            continue;
        }
        t0 = sv_mono();
        avcodec_send_packet(dec, eof ? NULL : pkt);
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, fr) == 0) {
            sv_stage_busy(s, SV_STAGE_DECODE, sv_mono() - t0);
            deliver(c, fr, &sc, tb, is_file, cfg); /* adds its own conversion time */
            av_frame_unref(fr);
            t0 = sv_mono();
        }
        sv_stage_busy(s, SV_STAGE_DECODE, sv_mono() - t0);
        if (eof) {
            result = 1;
            break;
        }
    }
done:
    sws_freeContext(sc.sws);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return result;
}

void *sv_source_main(void *arg) {
    sv_server *s = arg;
    src_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    while (!atomic_load(&s->stop)) {
        sv_config cfg;
        c.gen = atomic_load(&s->cfg_gen);
        sv_get_config(s, &cfg);
        snprintf(c.url, sizeof c.url, "%s", cfg.source);
        snprintf(c.opts, sizeof c.opts, "%s", cfg.source_options);
        if (!c.url[0]) {
            sv_set_source_state(s, "idle (no source: POST /v1/depth only)");
            nap(&c, 3600);
            continue;
        }
        struct stat st;
        int is_file = stat(c.url, &st) == 0 && S_ISREG(st.st_mode);
        int r = play(&c, is_file, &cfg);
        if (r < 0) continue; /* stop or a new source */
        if (r == 1 && is_file && !cfg.loop) {
            sv_set_source_state(s, "ended %s", c.url);
            fathom_log(FATHOM_LOG_INFO, "source %s: end of file", c.url);
            nap(&c, 1e9); /* until the setting changes or stop */
            continue;
        }
        if (!is_file) {
            if (r == 1) sv_set_source_state(s, "reconnecting %s (stream ended)", c.url);
            nap(&c, 0.5); /* back-off before reopening a stream */
        }
    }
    return NULL;
}

void sv_source_global_init(void);
void sv_source_global_init(void) { avdevice_register_all(); }
