/* stream_out.c - publish colorized depth to a URL with libavformat (see stream_out.h). */
#include "serve/stream_out.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "core/status.h"

struct sv_stream {
    AVFormatContext *oc;     /* owned */
    AVCodecContext *enc;     /* owned */
    AVStream *st;            /* owned by oc */
    struct SwsContext *sws;  /* owned */
    AVFrame *frame;          /* owned: yuv420p */
    AVPacket *pkt;           /* owned */
    int w, h;                /* source frames */
    int64_t last_pts;
    int header_written;
    const atomic_int *stop;
};

static int interrupted(void *opaque) {
    const atomic_int *stop = opaque;
    return stop && atomic_load(stop);
}

static fathom_status averr(const char *url, const char *what, int e) {
    char b[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(e, b, sizeof b);
    return fathom_fail(FATHOM_ERR_IO, "output_url %s: %s: %s", url, what, b);
}

/* Drain encoded packets into the muxer. */
static int drain(sv_stream *s) {
    for (;;) {
        int e = avcodec_receive_packet(s->enc, s->pkt);
        if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return 0;
        if (e < 0) return e;
        av_packet_rescale_ts(s->pkt, s->enc->time_base, s->st->time_base);
        s->pkt->stream_index = s->st->index;
        e = av_interleaved_write_frame(s->oc, s->pkt);
        if (e < 0) return e;
    }
}

fathom_status sv_stream_open(const char *url, int w, int h, const atomic_int *stop, sv_stream **out) {
    *out = NULL;
    /* as the video writer: FFmpeg's default info-level chatter (x264 stats) would break the
     * structured log; a host that set its own level keeps it */
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_QUIET);
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) return fathom_fail(FATHOM_ERR_UNSUPPORTED, "output_url %s: this FFmpeg has no libx264 encoder", url);
    const char *fmt = !strncmp(url, "udp://", 6) || !strncmp(url, "srt://", 6) ? "mpegts"
                      : !strncmp(url, "rtmp://", 7) ? "flv" : NULL;
    sv_stream *s = calloc(1, sizeof *s); /* owned by the caller (sv_stream_close) */
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "output_url: out of memory");
    s->w = w, s->h = h, s->stop = stop, s->last_pts = INT64_MIN;
    fathom_status st = FATHOM_OK;
    int e = avformat_alloc_output_context2(&s->oc, NULL, fmt, url);
    if (e < 0 || !s->oc) {
        st = e < 0 ? averr(url, "no container for this URL (give a known extension or scheme)", e)
                   : fathom_fail(FATHOM_ERR_INVALID_ARG, "output_url %s: no container for it", url);
        goto fail;
    }
    s->oc->interrupt_callback = (AVIOInterruptCB){interrupted, (void *)stop};
    s->enc = avcodec_alloc_context3(codec);
    s->st = avformat_new_stream(s->oc, NULL);
    s->frame = av_frame_alloc();
    s->pkt = av_packet_alloc();
    if (!s->enc || !s->st || !s->frame || !s->pkt) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "output_url: out of memory");
        goto fail;
    }
    /* yuv420p needs even sides: the last odd row/column is scaled away */
    s->enc->width = w & ~1;
    s->enc->height = h & ~1;
    s->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    s->enc->time_base = (AVRational){1, 1000000}; /* capture times in microseconds (VFR) */
    s->enc->framerate = (AVRational){30, 1};
    s->enc->gop_size = 15;
    s->enc->max_b_frames = 0;
    s->enc->thread_count = 1; /* one encoder thread (ours): the cores belong to the analyser */
    if (s->oc->oformat->flags & AVFMT_GLOBALHEADER) s->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(s->enc->priv_data, "preset", "ultrafast", 0);
    av_opt_set(s->enc->priv_data, "tune", "zerolatency", 0);
    if (s->enc->width < 2 || s->enc->height < 2) {
        st = fathom_fail(FATHOM_ERR_SHAPE, "output_url %s: frames of %dx%d are too small", url, w, h);
        goto fail;
    }
    if ((e = avcodec_open2(s->enc, codec, NULL)) < 0) {
        st = averr(url, "cannot open libx264", e);
        goto fail;
    }
    avcodec_parameters_from_context(s->st->codecpar, s->enc);
    s->st->time_base = s->enc->time_base;
    s->frame->format = AV_PIX_FMT_YUV420P;
    s->frame->width = s->enc->width;
    s->frame->height = s->enc->height;
    if ((e = av_frame_get_buffer(s->frame, 0)) < 0) {
        st = averr(url, "frame buffer", e);
        goto fail;
    }
    s->sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, s->enc->width, s->enc->height,
                            AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "output_url %s: no RGB -> YUV converter", url);
        goto fail;
    }
    if (!(s->oc->oformat->flags & AVFMT_NOFILE) &&
        (e = avio_open2(&s->oc->pb, url, AVIO_FLAG_WRITE, &s->oc->interrupt_callback, NULL)) < 0) {
        st = averr(url, "cannot open", e);
        goto fail;
    }
    if ((e = avformat_write_header(s->oc, NULL)) < 0) {
        st = averr(url, "cannot start the stream", e);
        goto fail;
    }
    s->header_written = 1;
    *out = s;
    return FATHOM_OK;
fail:
    sv_stream_close(&s);
    return st;
}

fathom_status sv_stream_write(sv_stream *s, const uint8_t *rgb, int64_t pts_us) {
    if (pts_us <= s->last_pts) pts_us = s->last_pts + 1; /* the muxer needs increasing pts */
    s->last_pts = pts_us;
    int e = av_frame_make_writable(s->frame);
    if (e < 0) return averr(s->oc->url, "frame", e);
    const uint8_t *src[1] = {rgb};
    const int stride[1] = {3 * s->w};
    sws_scale(s->sws, src, stride, 0, s->h, s->frame->data, s->frame->linesize);
    s->frame->pts = pts_us;
    if ((e = avcodec_send_frame(s->enc, s->frame)) < 0 || (e = drain(s)) < 0)
        return averr(s->oc->url, "cannot send a frame", e);
    return FATHOM_OK;
}

void sv_stream_close(sv_stream **ps) {
    sv_stream *s = *ps;
    if (!s) return;
    *ps = NULL;
    if (s->header_written) {
        avcodec_send_frame(s->enc, NULL);
        drain(s);
        av_write_trailer(s->oc);
    }
    if (s->oc && !(s->oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&s->oc->pb);
    avformat_free_context(s->oc);
    avcodec_free_context(&s->enc);
    sws_freeContext(s->sws);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    free(s);
}
