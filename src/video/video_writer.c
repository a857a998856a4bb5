/* video_writer.c - depth video encode + mux + stream copy (FFmpeg doc/examples: encode_video.c,
 * remux.c; audio re-encoding in aac_transcoder.c). */
#include "video/video_writer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/cpu.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/log.h"
#include "core/status.h"
#include "video/aac_transcoder.h"
#include "video/av_error.h"

enum { MAP_DROP = 0, MAP_COPY, MAP_AAC };

typedef struct stream_map {
    int kind;              /* MAP_* */
    int out_index;
    int64_t last_dts;      /* copied packets: in the output time base */
    fathom_aac *aac;       /* owned when kind == MAP_AAC */
} stream_map;

#define DUR_RING 128 /* frames the encoder may hold back (x264 lookahead + B-frames) */

struct fathom_video_writer {
    char *path, *partial;       /* owned */
    AVFormatContext *oc;        /* owned (with its pb) */
    AVCodecContext *enc;        /* owned */
    AVStream *vst;              /* borrowed from oc */
    AVFrame *frame;             /* owned, reused for every frame */
    AVPacket *pkt;              /* owned, reused */
    struct SwsContext *sws;     /* owned: RGB24 or gray16 -> the encoder's format when needed */
    const AVFormatContext *in;  /* borrowed */
    stream_map *map;            /* owned: one per input stream */
    int nb_map;
    fathom_video_writer_opts opts;
    AVRational src_tb;
    int width, height;
    int header_written, trailer_written, finished;
    int64_t frames;
    int64_t dur_pts[DUR_RING], dur_val[DUR_RING]; /* duration of recent frames, by pts */
};

fathom_video_writer_opts fathom_video_writer_default_opts(void) {
    fathom_video_writer_opts o = {0};
    o.codec = FATHOM_VCODEC_FFV1;
    o.crf = -1;
    return o;
}

fathom_status fathom_video_codec_parse(const char *name, fathom_video_codec *out) {
    static const struct { const char *name; fathom_video_codec c; } t[] = {
        {"ffv1", FATHOM_VCODEC_FFV1}, {"h264", FATHOM_VCODEC_H264}, {"x264", FATHOM_VCODEC_H264},
        {"libx264", FATHOM_VCODEC_H264}, {"avc", FATHOM_VCODEC_H264},
        {"h265", FATHOM_VCODEC_H265}, {"hevc", FATHOM_VCODEC_H265}, {"x265", FATHOM_VCODEC_H265},
        {"libx265", FATHOM_VCODEC_H265}};
    for (size_t i = 0; name && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(name, t[i].name)) {
            *out = t[i].c;
            return FATHOM_OK;
        }
    return fathom_fail(FATHOM_ERR_INVALID_ARG, "codec '%s': use ffv1, h264 or h265",
                       name ? name : "");
}

int fathom_video_partial_name(const char *path, char *buf, size_t n) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    int len;
    const long pid = (long)getpid(); /* unique per process: concurrent runs never share it */
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
        len = snprintf(buf, n, "%s.partial-%ld", path, pid);
    else
        len = snprintf(buf, n, "%.*s.partial-%ld%s", (int)(dot - path), path, pid, dot);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

const char *fathom_video_writer_partial_path(const fathom_video_writer *w) {
    return w->partial;
}

static fathom_status mux(fathom_video_writer *w, AVPacket *pkt, const char *what) {
    char eb[128];
    int ret = av_interleaved_write_frame(w->oc, pkt); /* takes the packet's reference */
    if (ret < 0)
        return fathom_fail(fathom_av_status(ret), "%s: cannot write %s: %s", w->partial, what,
                           fathom_av_err(ret, eb, sizeof eb));
    return FATHOM_OK;
}

/* ---- open ---- */

static enum AVPixelFormat pick_pix_fmt(const fathom_video_writer_opts *o, const AVCodec *c,
                                       const char *path, fathom_status *s) {
    enum AVPixelFormat pf;
    if (o->pix_fmt && o->pix_fmt[0]) {
        pf = av_get_pix_fmt(o->pix_fmt);
        if (pf == AV_PIX_FMT_NONE) {
            *s = fathom_fail(FATHOM_ERR_INVALID_ARG, "pix_fmt '%s': unknown pixel format",
                             o->pix_fmt);
            return pf;
        }
    } else if (o->color) {
        pf = AV_PIX_FMT_YUV420P;
    } else {
        pf = o->codec == FATHOM_VCODEC_FFV1 ? AV_PIX_FMT_GRAY16LE : AV_PIX_FMT_GRAY8;
    }
    int ok = 0;
    for (const enum AVPixelFormat *p = c->pix_fmts; p && *p != AV_PIX_FMT_NONE; p++)
        if (*p == pf) ok = 1;
    if (!ok) {
        *s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: the %s encoder cannot write %s frames", path,
                         c->name, av_get_pix_fmt_name(pf));
        return AV_PIX_FMT_NONE;
    }
    return pf;
}

/* FFV1 slices for `threads` encoder threads of a w x h frame (0: FFmpeg's own choice). FFmpeg
 * cuts a frame of this size into 4 slices and its slice threads code one slice each, so more
 * than 4 threads would idle: ask for the smallest count >= threads that FFV1 accepts
 * (h x v slices, v <= h < 2v). Slices cost ~2.5 % more bits at 24; decoding is lossless either
 * way. */
static int ffv1_slices(int threads, int w, int h) {
    if (threads <= 4 || w < 64 || h < 64) return 0;
    int best = 0;
    for (int v = 2; v <= 8; v++)
        for (int hs = v; hs < 2 * v; hs++)
            if (hs * v >= threads && (!best || hs * v < best)) best = hs * v;
    return best;
}

static fathom_status open_video(fathom_video_writer *w, const fathom_video_source_desc *src) {
    char eb[128];
    fathom_status s = FATHOM_OK;
    const char *name = w->opts.codec == FATHOM_VCODEC_H264   ? "libx264"
                       : w->opts.codec == FATHOM_VCODEC_H265 ? "libx265" : "ffv1";
    const AVCodec *c = avcodec_find_encoder_by_name(name);
    if (!c)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: this FFmpeg has no %s encoder", w->path,
                           name);
    if (avformat_query_codec(w->oc->oformat, c->id, FF_COMPLIANCE_NORMAL) == 0)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: the %s container cannot hold %s video "
                           "(use .mkv)", w->path, w->oc->oformat->name, c->name);
    enum AVPixelFormat pf = pick_pix_fmt(&w->opts, c, w->path, &s);
    if (s != FATHOM_OK) return s;
    w->enc = avcodec_alloc_context3(c);
    w->vst = avformat_new_stream(w->oc, NULL);
    if (!w->enc || !w->vst)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate the video encoder", w->path);
    AVCodecContext *e = w->enc;
    e->width = w->width;
    e->height = w->height;
    e->pix_fmt = pf;
    e->time_base = src->time_base;
    if (src->frame_rate.num > 0) e->framerate = src->frame_rate;
    e->sample_aspect_ratio = (AVRational){1, 1};
    e->thread_count = w->opts.threads > 0 ? w->opts.threads : 0;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *o = NULL;
    if (w->opts.codec == FATHOM_VCODEC_FFV1) {
        /* version 3 codes slices in parallel and checks them with CRCs */
        av_dict_set(&o, "level", "3", 0);
        av_dict_set(&o, "slicecrc", "1", 0);
        /* more than 8 bits need the range coder; asking for it spares FFmpeg's warning */
        if (av_pix_fmt_desc_get(pf)->comp[0].depth > 8) av_dict_set(&o, "coder", "range_def", 0);
        e->gop_size = 1;
        /* slices for every thread; automatic threads: FFmpeg's count (cores + 1, at most 16) */
        int nt = w->opts.threads > 0 ? w->opts.threads : av_cpu_count() + 1;
        if (w->opts.threads <= 0 && nt > 16) nt = 16;
        int slices = ffv1_slices(nt, w->width, w->height);
        if (slices) e->slices = slices;
    } else {
        av_dict_set_int(&o, "crf", w->opts.crf >= 0 ? w->opts.crf : 18, 0);
        av_dict_set(&o, "preset", "medium", 0);
        if (w->opts.codec == FATHOM_VCODEC_H265) av_dict_set(&o, "x265-params", "log-level=error", 0);
    }
    int ret = avcodec_open2(e, c, &o);
    av_dict_free(&o);
    if (ret < 0)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot open the %s encoder (%dx%d %s): %s",
                           w->path, name, w->width, w->height, av_get_pix_fmt_name(pf),
                           fathom_av_err(ret, eb, sizeof eb));
    if ((ret = avcodec_parameters_from_context(w->vst->codecpar, e)) < 0)
        return fathom_fail(FATHOM_ERR_INTERNAL, "%s: %s", w->path, fathom_av_err(ret, eb, sizeof eb));
    w->vst->time_base = e->time_base;
    if (src->frame_rate.num > 0) {
        w->vst->avg_frame_rate = src->frame_rate;
        w->vst->r_frame_rate = src->frame_rate;
    }
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    if (!w->frame || !w->pkt)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a frame", w->path);
    w->frame->format = pf;
    w->frame->width = w->width;
    w->frame->height = w->height;
    if (av_frame_get_buffer(w->frame, 0) < 0)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a %dx%d frame", w->path,
                           w->width, w->height);
    enum AVPixelFormat from = w->opts.color ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY16LE;
    int direct = !w->opts.color && (pf == AV_PIX_FMT_GRAY16LE || pf == AV_PIX_FMT_GRAY8 ||
                                    pf == AV_PIX_FMT_GRAY10LE || pf == AV_PIX_FMT_GRAY12LE);
    if (!direct) {
        w->sws = sws_getContext(w->width, w->height, from, w->width, w->height, pf,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL,
                                NULL);
        if (!w->sws)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot convert %s to %s", w->path,
                               av_get_pix_fmt_name(from), av_get_pix_fmt_name(pf));
    }
    return s;
}

static void copy_metadata(AVDictionary **dst, const AVDictionary *src) {
    av_dict_copy(dst, src, 0);
    av_dict_set(dst, "rotate", NULL, 0);   /* frames are already upright */
    av_dict_set(dst, "encoder", NULL, 0);
    av_dict_set(dst, "DURATION", NULL, 0); /* Matroska writes its own */
}

static fathom_status map_streams(fathom_video_writer *w, const fathom_video_source_desc *src) {
    const AVFormatContext *in = src->input;
    if (!in) return FATHOM_OK;
    w->map = av_calloc(in->nb_streams ? in->nb_streams : 1, sizeof *w->map);
    if (!w->map) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a stream map", w->path);
    w->nb_map = in->nb_streams;
    av_dict_copy(&w->oc->metadata, in->metadata, 0);
    av_dict_set(&w->oc->metadata, "encoder", NULL, 0);
    if (src->video_stream >= 0 && src->video_stream < (int)in->nb_streams)
        copy_metadata(&w->vst->metadata, in->streams[src->video_stream]->metadata);
    for (unsigned i = 0; i < in->nb_streams; i++) {
        const AVStream *ist = in->streams[i];
        const AVCodecParameters *par = ist->codecpar;
        const char *type = av_get_media_type_string(par->codec_type);
        const char *codec = avcodec_get_name(par->codec_id);
        if ((int)i == src->video_stream) continue;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
            fathom_log(FATHOM_LOG_WARN, "%s: dropping stream #%u (video/%s): only the depth of "
                       "the main video is written", w->path, i, codec);
            continue;
        }
        int can = avformat_query_codec(w->oc->oformat, par->codec_id, FF_COMPLIANCE_NORMAL);
        int kind = can != 0 ? MAP_COPY
                   : par->codec_type == AVMEDIA_TYPE_AUDIO ? MAP_AAC : MAP_DROP;
        if (kind == MAP_DROP || par->codec_id == AV_CODEC_ID_NONE) {
            fathom_log(FATHOM_LOG_WARN, "%s: dropping stream #%u (%s/%s): the %s container "
                       "cannot hold it", w->path, i, type ? type : "data", codec,
                       w->oc->oformat->name);
            continue;
        }
        AVStream *ost = avformat_new_stream(w->oc, NULL);
        if (!ost) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot add a stream", w->path);
        copy_metadata(&ost->metadata, ist->metadata);
        ost->disposition = ist->disposition;
        if (kind == MAP_COPY) {
            int ret = avcodec_parameters_copy(ost->codecpar, par);
            if (ret < 0) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot copy stream #%u", w->path, i);
            ost->codecpar->codec_tag = 0;
            ost->time_base = ist->time_base;
        } else {
            fathom_log(FATHOM_LOG_WARN, "%s: re-encoding stream #%u (audio/%s) to AAC: the %s "
                       "container cannot hold %s", w->path, i, codec, w->oc->oformat->name, codec);
            FATHOM_TRY(fathom_aac_open(w->oc, ist, ost, w->path, w->partial,
                                       &w->map[i].aac));
        }
        w->map[i].kind = kind;
        w->map[i].out_index = ost->index;
        w->map[i].last_dts = AV_NOPTS_VALUE;
    }
    return FATHOM_OK;
}

fathom_status fathom_video_writer_open(const char *path, int width, int height,
                                       const fathom_video_source_desc *src,
                                       const fathom_video_writer_opts *opts,
                                       fathom_video_writer **out) {
    char eb[128];
    fathom_status s = FATHOM_OK;
    int ret;
    *out = NULL;
    if (!path || !src || width <= 0 || height <= 0 || src->time_base.num <= 0 ||
        src->time_base.den <= 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "video writer: bad arguments for %s",
                           path ? path : "(null)");
    fathom_video_writer *w = av_mallocz(sizeof *w);
    if (!w) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video writer", path);
    w->opts = opts ? *opts : fathom_video_writer_default_opts();
    w->width = width;
    w->height = height;
    w->src_tb = src->time_base;
    w->in = src->input;
    size_t plen = strlen(path) + 40;
    w->path = av_strdup(path);
    w->partial = av_malloc(plen);
    if (!w->path || !w->partial || fathom_video_partial_name(path, w->partial, plen) < 0) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video writer", path);
        goto done;
    }
    for (int i = 0; i < DUR_RING; i++) w->dur_pts[i] = AV_NOPTS_VALUE;
    ret = avformat_alloc_output_context2(&w->oc, NULL, NULL, path);
    if (ret < 0 || !w->oc) {
        s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: no video container for this extension "
                        "(use .mkv, .mp4 or .mov)", path);
        goto done;
    }
    if ((s = open_video(w, src)) != FATHOM_OK) goto done;
    if ((s = map_streams(w, src)) != FATHOM_OK) goto done;
    if ((ret = avio_open(&w->oc->pb, w->partial, AVIO_FLAG_WRITE)) < 0) {
        s = fathom_fail(fathom_av_status(ret) == FATHOM_ERR_INTERNAL ? FATHOM_ERR_IO : fathom_av_status(ret),
                        "%s: cannot create: %s", w->partial, fathom_av_err(ret, eb, sizeof eb));
        goto done;
    }
    if ((ret = avformat_write_header(w->oc, NULL)) < 0) {
        s = fathom_fail(fathom_av_status(ret), "%s: cannot write the header: %s", w->partial,
                        fathom_av_err(ret, eb, sizeof eb));
        goto done;
    }
    w->header_written = 1;
done:
    if (s != FATHOM_OK) {
        fathom_video_writer_free(&w);
        return s;
    }
    *out = w;
    return FATHOM_OK;
}

/* ---- frames ---- */

static fathom_status drain_video(fathom_video_writer *w) {
    char eb[128];
    int ret;
    while ((ret = avcodec_receive_packet(w->enc, w->pkt)) == 0) {
        if (w->pkt->duration <= 0) { /* the encoder may not carry it: look it up by pts */
            int slot = (int)((uint64_t)w->pkt->pts % DUR_RING);
            if (w->dur_pts[slot] == w->pkt->pts) w->pkt->duration = w->dur_val[slot];
        }
        w->pkt->stream_index = w->vst->index;
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->vst->time_base);
        FATHOM_TRY(mux(w, w->pkt, "a video packet"));
    }
    if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
        return fathom_fail(FATHOM_ERR_INTERNAL, "%s: video encoder: %s", w->partial,
                           fathom_av_err(ret, eb, sizeof eb));
    return FATHOM_OK;
}

static fathom_status send_frame(fathom_video_writer *w, int64_t pts, int64_t duration) {
    char eb[128];
    w->frame->pts = pts;
    w->frame->pkt_duration = duration;
    int slot = (int)((uint64_t)pts % DUR_RING);
    w->dur_pts[slot] = pts;
    w->dur_val[slot] = duration;
    int ret = avcodec_send_frame(w->enc, w->frame);
    if (ret < 0)
        return fathom_fail(FATHOM_ERR_INTERNAL, "%s: video encoder refused frame %lld: %s",
                           w->partial, (long long)w->frames, fathom_av_err(ret, eb, sizeof eb));
    w->frames++;
    return drain_video(w);
}

static fathom_status writable(fathom_video_writer *w) {
    /* The encoder may still hold the previous frame's buffer: copy-on-write if so. */
    if (av_frame_make_writable(w->frame) < 0)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a frame", w->partial);
    return FATHOM_OK;
}

fathom_status fathom_video_writer_write_gray16(fathom_video_writer *w, const uint16_t *gray,
                                               int64_t pts, int64_t duration) {
    if (w->opts.color)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: writer expects RGB frames", w->path);
    FATHOM_TRY(writable(w));
    AVFrame *f = w->frame;
    const int W = w->width, H = w->height;
    if (w->sws) {
        const uint8_t *src[4] = {(const uint8_t *)gray};
        int ss[4] = {W * 2};
        sws_scale(w->sws, src, ss, 0, H, f->data, f->linesize);
    } else {
        for (int y = 0; y < H; y++) {
            const uint16_t *s = gray + (size_t)y * W;
            uint8_t *d = f->data[0] + (size_t)y * f->linesize[0];
            switch (f->format) {
            case AV_PIX_FMT_GRAY16LE: memcpy(d, s, (size_t)W * 2); break;
            case AV_PIX_FMT_GRAY8:
                for (int x = 0; x < W; x++) d[x] = (uint8_t)((s[x] + 128u) * 255u / 65535u);
                break;
            case AV_PIX_FMT_GRAY10LE:
                for (int x = 0; x < W; x++) ((uint16_t *)d)[x] = (uint16_t)((s[x] * 1023u + 32767u) / 65535u);
                break;
            default: /* GRAY12LE */
                for (int x = 0; x < W; x++) ((uint16_t *)d)[x] = (uint16_t)((s[x] * 4095u + 32767u) / 65535u);
                break;
            }
        }
    }
    return send_frame(w, pts, duration);
}

fathom_status fathom_video_writer_write_rgb(fathom_video_writer *w, const uint8_t *rgb,
                                            size_t stride, int64_t pts, int64_t duration) {
    if (!w->opts.color)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: writer expects grey frames", w->path);
    FATHOM_TRY(writable(w));
    const uint8_t *src[4] = {rgb};
    int ss[4] = {(int)stride};
    sws_scale(w->sws, src, ss, 0, w->height, w->frame->data, w->frame->linesize);
    return send_frame(w, pts, duration);
}

fathom_status fathom_video_writer_write_packet(fathom_video_writer *w, AVPacket *pkt,
                                               int stream_index) {
    fathom_status s = FATHOM_OK;
    if (!w->map || stream_index < 0 || stream_index >= w->nb_map ||
        w->map[stream_index].kind == MAP_DROP) {
        av_packet_unref(pkt);
        return FATHOM_OK;
    }
    stream_map *m = &w->map[stream_index];
    if (m->kind == MAP_COPY) {
        AVStream *ost = w->oc->streams[m->out_index];
        av_packet_rescale_ts(pkt, w->in->streams[stream_index]->time_base, ost->time_base);
        pkt->stream_index = m->out_index;
        pkt->pos = -1;
        /* Damaged inputs can carry timestamps that go back; muxers refuse those. Nudge them
         * forward as the ffmpeg CLI does, keeping pts >= dts. */
        if (pkt->dts != AV_NOPTS_VALUE && m->last_dts != AV_NOPTS_VALUE &&
            pkt->dts <= m->last_dts) {
            int64_t fixed = m->last_dts + 1;
            if (pkt->pts != AV_NOPTS_VALUE && pkt->pts < fixed) pkt->pts = fixed;
            pkt->dts = fixed;
        }
        if (pkt->dts != AV_NOPTS_VALUE) m->last_dts = pkt->dts;
        int64_t size = pkt->size;
        s = mux(w, pkt, "a copied packet");
        if (s == FATHOM_ERR_INTERNAL) { /* the muxer rejected this packet only: go on */
            fathom_log(FATHOM_LOG_WARN, "%s", fathom_last_error());
            fathom_log(FATHOM_LOG_WARN, "%s: dropped a %lld-byte packet of stream #%d", w->path,
                       (long long)size, stream_index);
            s = FATHOM_OK;
        }
    } else {
        s = fathom_aac_packet(m->aac, pkt);
    }
    av_packet_unref(pkt);
    return s;
}

/* ---- end ---- */

static fathom_status close_file(fathom_video_writer *w) {
    char eb[128];
    fathom_status s = FATHOM_OK;
    if (w->header_written && !w->trailer_written) {
        w->trailer_written = 1;
        int ret = av_write_trailer(w->oc);
        if (ret < 0)
            s = fathom_fail(fathom_av_status(ret), "%s: cannot finish the file: %s", w->partial,
                            fathom_av_err(ret, eb, sizeof eb));
    }
    if (w->oc && w->oc->pb) {
        avio_flush(w->oc->pb);
        int err = w->oc->pb->error;
        avio_closep(&w->oc->pb);
        if (err < 0 && s == FATHOM_OK)
            s = fathom_fail(fathom_av_status(err) == FATHOM_ERR_INTERNAL ? FATHOM_ERR_IO : fathom_av_status(err),
                            "%s: write failed: %s", w->partial, fathom_av_err(err, eb, sizeof eb));
    }
    return s;
}

fathom_status fathom_video_writer_finish(fathom_video_writer *w) {
    fathom_status s = FATHOM_OK;
    if (w->finished) return FATHOM_OK;
    if (avcodec_send_frame(w->enc, NULL) >= 0) s = drain_video(w);
    for (int i = 0; s == FATHOM_OK && i < w->nb_map; i++)
        if (w->map[i].kind == MAP_AAC) s = fathom_aac_flush(w->map[i].aac);
    fathom_status c = close_file(w);
    if (s == FATHOM_OK) s = c;
    if (s != FATHOM_OK) return s;
    if (rename(w->partial, w->path) != 0)
        return fathom_fail(fathom_status_from_errno(errno), "%s: cannot rename to %s: %s",
                           w->partial, w->path, strerror(errno));
    w->finished = 1;
    return FATHOM_OK;
}

void fathom_video_writer_free(fathom_video_writer **pw) {
    if (!pw || !*pw) return;
    fathom_video_writer *w = *pw;
    if (!w->finished && w->oc) {
        /* Interrupted or failed: close what there is so the partial file plays up to its last
         * frame; with no frame written there is nothing worth keeping. */
        (void)close_file(w);
        if (w->frames == 0 && w->partial) remove(w->partial);
    }
    for (int i = 0; i < w->nb_map; i++) fathom_aac_free(&w->map[i].aac);
    av_free(w->map);
    sws_freeContext(w->sws);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    avcodec_free_context(&w->enc);
    if (w->oc) {
        if (w->oc->pb) avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    av_free(w->path);
    av_free(w->partial);
    av_free(w);
    *pw = NULL;
}
