/* video_reader.c - libavformat demux + threaded libavcodec decode -> upright RGB24 frames.
 *
 * The loop follows FFmpeg's doc/examples/demux_decode.c: receive frames until EAGAIN, then feed
 * the next packet; at end of input a NULL packet drains the decoder. Scaling and the YUV->RGB
 * conversion go through libswscale (bicubic, as the ffmpeg CLI's auto-inserted scaler, so a frame
 * extracted with `ffmpeg -i v -vf select=... f.png` has the same pixels); rotation is our own
 * transpose/flip on the RGB buffer. */
#include "video/video_reader.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "core/alloc.h"
#include "core/status.h"
#include "video/av_error.h"
#include "video/packet_ring.h"
#include "video/video_orient.h"

struct fathom_video_reader {
    char *url;               /* owned */
    AVFormatContext *fmt;    /* owned */
    AVCodecContext *dec;     /* owned */
    AVStream *st;            /* borrowed from fmt */
    AVPacket *pkt;           /* owned */
    AVFrame *frame;          /* owned */
    struct SwsContext *sws;  /* owned; rebuilt when the decoded size/format changes */
    int sws_w, sws_h, sws_fmt, sws_cs, sws_range;
    int scaled_w, scaled_h;  /* before rotation */
    uint8_t *scaled;         /* owned: scaled_h * scaled_stride */
    size_t scaled_stride, scaled_bytes;
    uint8_t *rotated;        /* owned when rotation != 0: info.height * rot_stride */
    size_t rot_stride, rot_bytes;

    fathom_video_reader_opts opts;
    fathom_video_info info;
    int64_t start_us, end_us; /* absolute (container start included); INT64_MIN/MAX: open */
    int64_t last_pts, last_dur;
    int64_t ts_offset;        /* added to every frame after a backwards timestamp jump */
    int eof_sent, finished, drained;
    const atomic_int *cancel2; /* borrowed: fathom_video_reader_add_cancel */
    double io_deadline;       /* monotonic seconds: the current open/read is interrupted after */
    int timed_out;            /* the interrupt callback stopped I/O for the deadline */
    int64_t drain_until_us;   /* keep passthrough packets up to here after the video ends */

    pthread_mutex_t lock;     /* guards ring, stats, finished flag for other threads */
    packet_ring ring;
    fathom_video_stats stats;
};

fathom_video_reader_opts fathom_video_reader_default_opts(void) {
    fathom_video_reader_opts o = {0};
    return o;
}

int64_t fathom_video_ts_us(int64_t ts, AVRational tb) {
    if (ts == AV_NOPTS_VALUE) return AV_NOPTS_VALUE;
    return av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}

int fathom_video_reader_pop_packet(fathom_video_reader *r, int64_t upto_us, AVPacket *pkt,
                                   int *stream_index) {
    pthread_mutex_lock(&r->lock);
    int got = fathom_packet_ring_pop(&r->ring, r->fmt, upto_us, pkt, stream_index);
    pthread_mutex_unlock(&r->lock);
    return got;
}

int fathom_video_reader_done(fathom_video_reader *r) {
    pthread_mutex_lock(&r->lock);
    int d = r->drained;
    pthread_mutex_unlock(&r->lock);
    return d;
}

void fathom_video_reader_add_cancel(fathom_video_reader *r, const atomic_int *flag) {
    r->cancel2 = flag;
}

void fathom_video_reader_stats(fathom_video_reader *r, fathom_video_stats *out) {
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}

const fathom_video_info *fathom_video_reader_info(const fathom_video_reader *r) {
    return &r->info;
}

const AVFormatContext *fathom_video_reader_format(const fathom_video_reader *r) {
    return r->fmt;
}

/* ---- open ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* libavformat calls this while it blocks (connect, read, probe): a cancel (Ctrl-C) or an
 * open/read that has waited longer than the timeout ends the call with AVERROR_EXIT. */
static int cancelled(const fathom_video_reader *r) {
    return (r->opts.cancel && atomic_load(r->opts.cancel)) ||
           (r->cancel2 && atomic_load(r->cancel2));
}

static int interrupt_cb(void *opaque) {
    fathom_video_reader *r = opaque;
    if (cancelled(r)) return 1;
    if (now_s() > r->io_deadline) {
        r->timed_out = 1;
        return 1;
    }
    return 0;
}

static void arm_deadline(fathom_video_reader *r) {
    r->timed_out = 0;
    r->io_deadline = now_s() + r->opts.timeout_s;
}

/* The status and message for an open/read that the interrupt callback ended. */
static fathom_status interrupted(fathom_video_reader *r, const char *what) {
    pthread_mutex_lock(&r->lock);
    r->stats.interrupted = 1;
    pthread_mutex_unlock(&r->lock);
    if (cancelled(r)) return fathom_fail(FATHOM_ERR_INTERRUPTED, "%s: interrupted", r->url);
    return fathom_fail(FATHOM_ERR_NETWORK, "%s: %s: no data for %g s (stalled input; the "
                       "timeout_s option sets the limit)", r->url, what, r->opts.timeout_s);
}

static fathom_status alloc_buffers(fathom_video_reader *r) {
    r->scaled_stride = ((size_t)r->scaled_w * 3 + 63) & ~(size_t)63;
    /* swscale's SIMD RGB writers store whole vectors and run past the end of a narrow frame's
     * last row (a 40-pixel-wide video overran the heap): one spare row and a vector of room */
    r->scaled_bytes = r->scaled_stride * ((size_t)r->scaled_h + 1) + 64;
    r->scaled = fathom_alloc(r->scaled_bytes);
    if (!r->scaled)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a %dx%d frame buffer", r->url,
                           r->scaled_w, r->scaled_h);
    if (r->info.rotation || r->info.mirrored) {
        r->rot_stride = ((size_t)r->info.width * 3 + 63) & ~(size_t)63;
        r->rot_bytes = r->rot_stride * (size_t)r->info.height;
        r->rotated = fathom_alloc(r->rot_bytes);
        if (!r->rotated)
            return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a %dx%d frame buffer",
                               r->url, r->info.width, r->info.height);
    }
    return FATHOM_OK;
}

static void list_streams(const AVFormatContext *fmt, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < fmt->nb_streams && len + 32 < n; i++) {
        const AVCodecParameters *p = fmt->streams[i]->codecpar;
        const char *type = av_get_media_type_string(p->codec_type);
        len += snprintf(buf + len, n - len, "%s#%u %s/%s", i ? ", " : "", i, type ? type : "?",
                        avcodec_get_name(p->codec_id));
    }
}

/* A local name must be a regular file: open() of a FIFO or a device blocks where no callback
 * can reach it (a pipe is read through `pipe:`). */
static fathom_status check_local(const char *url) {
    struct stat sb;
    if (strstr(url, "://") || !strncmp(url, "pipe:", 5) || stat(url, &sb) != 0 ||
        S_ISREG(sb.st_mode))
        return FATHOM_OK;
    return fathom_fail(FATHOM_ERR_FORMAT, "%s: not a regular file (%s)", url,
                       S_ISDIR(sb.st_mode) ? "a folder" : S_ISFIFO(sb.st_mode) ? "a FIFO"
                       : S_ISCHR(sb.st_mode) ? "a character device" : S_ISSOCK(sb.st_mode)
                       ? "a socket" : "not a plain file");
}

/* Demuxer open and stream probe. Every blocking step can be interrupted: the callback for
 * cancel and for the deadline (all protocols, FIFOs included), rw_timeout for the protocols
 * that honour it. */
static fathom_status open_input(fathom_video_reader *r) {
    char eb[128];
    const char *url = r->url;
    if (!(r->fmt = avformat_alloc_context()))
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video reader", url);
    r->fmt->interrupt_callback = (AVIOInterruptCB){interrupt_cb, r};
    AVDictionary *dopts = NULL;
    av_dict_set_int(&dopts, "rw_timeout", (int64_t)(r->opts.timeout_s * 1e6), 0);
    arm_deadline(r);
    int ret = avformat_open_input(&r->fmt, url, NULL, &dopts);
    av_dict_free(&dopts);
    if (ret < 0 && (r->timed_out || cancelled(r) || ret == AVERROR_EXIT))
        return interrupted(r, "cannot open as video");
    if (ret < 0) {
        fathom_status s = ret == AVERROR(ENOENT) ? FATHOM_ERR_NOT_FOUND
                          : ret == AVERROR(EACCES) ? FATHOM_ERR_IO : FATHOM_ERR_FORMAT;
        return fathom_fail(s, "%s: cannot open as video: %s", url,
                           fathom_av_err(ret, eb, sizeof eb));
    }
    arm_deadline(r);
    ret = avformat_find_stream_info(r->fmt, NULL);
    if (ret < 0 && (r->timed_out || cancelled(r))) return interrupted(r, "cannot read stream info");
    if (ret < 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: cannot read stream info: %s", url,
                           fathom_av_err(ret, eb, sizeof eb));
    return FATHOM_OK;
}

/* The main video stream, its size checked against the limits; *codec: its decoder. */
static fathom_status pick_stream(fathom_video_reader *r, const AVCodec **codec) {
    const char *url = r->url;
    int vi = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, codec, 0);
    if (vi >= 0 && (r->fmt->streams[vi]->disposition & AV_DISPOSITION_ATTACHED_PIC)) vi = -1;
    if (vi < 0) {
        char list[512];
        list_streams(r->fmt, list, sizeof list);
        if (vi == AVERROR_DECODER_NOT_FOUND)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: no decoder for its video stream (%s)",
                               url, list);
        return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: no video stream (streams: %s)", url,
                           r->fmt->nb_streams ? list : "none");
    }
    r->st = r->fmt->streams[vi];
    const AVCodecParameters *par = r->st->codecpar;
    if (par->width <= 0 || par->height <= 0 || par->width > 32768 || par->height > 32768)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: video stream #%d has an invalid size %dx%d",
                           url, vi, par->width, par->height);
    /* before the decoder (its frame threads each hold frames) or any buffer exists */
    if ((uint64_t)par->width * par->height > r->opts.max_pixels)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %dx%d video frames are over the pixel "
                           "limit %llu (the max_pixels option)", url, par->width, par->height,
                           (unsigned long long)r->opts.max_pixels);
    return FATHOM_OK;
}

/* The threaded decoder of r->st; the other streams are demuxed for passthrough only, or not at
 * all. */
static fathom_status open_decoder(fathom_video_reader *r, const AVCodec *codec) {
    char eb[128];
    const char *url = r->url;
    int ret;
    if (!(r->dec = avcodec_alloc_context3(codec)))
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a decoder", url);
    if ((ret = avcodec_parameters_to_context(r->dec, r->st->codecpar)) < 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: bad video parameters: %s", url,
                           fathom_av_err(ret, eb, sizeof eb));
    r->dec->pkt_timebase = r->st->time_base;
    r->dec->max_pixels = (int64_t)r->opts.max_pixels; /* a size change inside the stream too */
    r->dec->thread_count = r->opts.threads > 0 ? r->opts.threads : 0;
    r->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if ((ret = avcodec_open2(r->dec, codec, NULL)) < 0)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot open the %s decoder: %s", url,
                           codec->name, fathom_av_err(ret, eb, sizeof eb));
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
        if (r->fmt->streams[i] != r->st &&
            (!r->opts.passthrough ||
             r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO))
            r->fmt->streams[i]->discard = AVDISCARD_ALL;
    return FATHOM_OK;
}

/* r->info from the stream, and the frame size delivered: upright, within max_res. */
static fathom_status describe(fathom_video_reader *r, const AVCodec *codec) {
    const AVCodecParameters *par = r->st->codecpar;
    fathom_video_info *in = &r->info;
    in->stream_index = r->st->index;
    in->src_width = par->width;
    in->src_height = par->height;
    in->rotation = fathom_video_stream_rotation(r->st, &in->mirrored);
    in->time_base = r->st->time_base;
    in->frame_rate = r->st->avg_frame_rate.num > 0 ? r->st->avg_frame_rate : r->st->r_frame_rate;
    if (in->frame_rate.num <= 0 || in->frame_rate.den <= 0) in->frame_rate = (AVRational){0, 1};
    in->duration_us = r->fmt->duration;
    snprintf(in->codec, sizeof in->codec, "%s", codec->name);

    int rw = par->width, rh = par->height;
    if (in->rotation == 90 || in->rotation == 270) rw = par->height, rh = par->width;
    if (r->opts.max_res > 0 && (rw > r->opts.max_res || rh > r->opts.max_res)) {
        double k = (double)r->opts.max_res / (rw > rh ? rw : rh);
        rw = (int)lrint(rw * k);
        rh = (int)lrint(rh * k);
        if (rw < 1) rw = 1;
        if (rh < 1) rh = 1;
    }
    in->width = rw;
    in->height = rh;
    if ((uint64_t)rw * rh > r->opts.max_pixels) /* cannot happen after the coded check */
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %dx%d frames are over the pixel limit %llu",
                           r->url, rw, rh, (unsigned long long)r->opts.max_pixels);
    r->scaled_w = (in->rotation == 90 || in->rotation == 270) ? rh : rw;
    r->scaled_h = (in->rotation == 90 || in->rotation == 270) ? rw : rh;
    return alloc_buffers(r);
}

/* The time range to deliver, and a seek to the keyframe at or before its start (frames before
 * the start are decoded and dropped). Unseekable inputs (pipes) fail the seek and are read from
 * the start instead. */
static void seek_start(fathom_video_reader *r) {
    int64_t t0 = r->fmt->start_time != AV_NOPTS_VALUE ? r->fmt->start_time : 0;
    r->start_us = r->opts.start > 0 ? t0 + (int64_t)llround(r->opts.start * 1e6) : INT64_MIN;
    r->end_us = r->opts.end > 0 && r->opts.end > r->opts.start
                    ? t0 + (int64_t)llround(r->opts.end * 1e6) : INT64_MAX;
    if (r->start_us != INT64_MIN)
        (void)avformat_seek_file(r->fmt, -1, INT64_MIN, r->start_us, r->start_us, 0);
}

fathom_status fathom_video_reader_open(const char *url, const fathom_video_reader_opts *opts,
                                       fathom_video_reader **out) {
    *out = NULL;
    if (!url) return fathom_fail(FATHOM_ERR_INVALID_ARG, "video: no input given");
    fathom_video_reader *r = av_mallocz(sizeof *r);
    if (!r) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video reader", url);
    pthread_mutex_init(&r->lock, NULL);
    r->opts = opts ? *opts : fathom_video_reader_default_opts();
    if (r->opts.timeout_s <= 0) r->opts.timeout_s = FATHOM_VIDEO_TIMEOUT_S;
    if (!r->opts.max_pixels) r->opts.max_pixels = FATHOM_VIDEO_MAX_PIXELS;
    r->last_pts = AV_NOPTS_VALUE;
    r->url = av_strdup(url);
    r->pkt = av_packet_alloc();
    r->frame = av_frame_alloc();
    const AVCodec *codec = NULL;
    fathom_status s = !r->url || !r->pkt || !r->frame
        ? fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video reader", url)
        : FATHOM_OK;
    if (s == FATHOM_OK) s = check_local(url);
    if (s == FATHOM_OK) s = open_input(r);
    if (s == FATHOM_OK) s = pick_stream(r, &codec);
    if (s == FATHOM_OK) s = open_decoder(r, codec);
    if (s == FATHOM_OK) s = describe(r, codec);
    if (s != FATHOM_OK) {
        fathom_video_reader_free(&r);
        return s;
    }
    seek_start(r);
    *out = r;
    return FATHOM_OK;
}

void fathom_video_reader_free(fathom_video_reader **pr) {
    if (!pr || !*pr) return;
    fathom_video_reader *r = *pr;
    sws_freeContext(r->sws);
    fathom_free_sized(r->scaled, r->scaled_bytes);
    fathom_free_sized(r->rotated, r->rot_bytes);
    av_frame_free(&r->frame);
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    fathom_packet_ring_free(&r->ring);
    pthread_mutex_destroy(&r->lock);
    av_free(r->url);
    av_free(r);
    *pr = NULL;
}

/* ---- per-frame conversion ---- */

static fathom_status to_rgb(fathom_video_reader *r, const AVFrame *f) {
    int cs = f->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : (int)f->colorspace;
    int full = f->color_range == AVCOL_RANGE_JPEG;
    if (!r->sws || r->sws_w != f->width || r->sws_h != f->height || r->sws_fmt != f->format ||
        r->sws_cs != cs || r->sws_range != full) {
        sws_freeContext(r->sws);
        r->sws = sws_getContext(f->width, f->height, f->format, r->scaled_w, r->scaled_h,
                                AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
        if (!r->sws)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot convert %s %dx%d frames to RGB",
                               r->url, av_get_pix_fmt_name(f->format), f->width, f->height);
        int *inv, *tab, sr, dr, bri, con, sat;
        if (sws_getColorspaceDetails(r->sws, &inv, &sr, &tab, &dr, &bri, &con, &sat) >= 0)
            sws_setColorspaceDetails(r->sws, sws_getCoefficients(cs), full, tab, dr, bri, con, sat);
        r->sws_w = f->width, r->sws_h = f->height, r->sws_fmt = f->format;
        r->sws_cs = cs, r->sws_range = full;
    }
    uint8_t *dst[4] = {r->scaled};
    int dst_stride[4] = {(int)r->scaled_stride};
    sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    return FATHOM_OK;
}

/* ---- reading ---- */

static void mark_end(fathom_video_reader *r, int truncated, const char *why) {
    pthread_mutex_lock(&r->lock);
    if (truncated) r->stats.truncated = 1;
    if (why && !r->stats.end_reason[0])
        snprintf(r->stats.end_reason, sizeof r->stats.end_reason, "%s", why);
    pthread_mutex_unlock(&r->lock);
}

static fathom_status keep_packet(fathom_video_reader *r, AVPacket *pkt) {
    AVStream *ps = r->fmt->streams[pkt->stream_index];
    int64_t t = fathom_packet_us(pkt, ps->time_base);
    int64_t limit = r->finished ? r->drain_until_us : r->end_us;
    if (t != INT64_MIN && (t < r->start_us || t >= limit)) return FATHOM_OK;
    pthread_mutex_lock(&r->lock);
    int bad = fathom_packet_ring_push(&r->ring, pkt, pkt->stream_index);
    if (!bad) r->stats.packets_kept++;
    pthread_mutex_unlock(&r->lock);
    if (bad)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot queue a packet of stream #%d", r->url,
                           pkt->stream_index);
    return FATHOM_OK;
}

/* After the video part ends, keep demuxing (without decoding) so the other streams' packets up
 * to the end of the last frame reach the writer. */
static fathom_status drain_passthrough(fathom_video_reader *r) {
    fathom_status s = FATHOM_OK;
    while (r->opts.passthrough && !r->drained && !cancelled(r)) {
        arm_deadline(r);
        int ret = av_read_frame(r->fmt, r->pkt);
        if (ret < 0) break;
        int64_t t = fathom_packet_us(r->pkt, r->fmt->streams[r->pkt->stream_index]->time_base);
        if (t != INT64_MIN && t >= r->drain_until_us + 1000000) {
            av_packet_unref(r->pkt);
            break; /* well past the end (any stream): nothing more of ours can follow */
        }
        if (r->pkt->stream_index != r->info.stream_index) s = keep_packet(r, r->pkt);
        av_packet_unref(r->pkt);
        if (s != FATHOM_OK) break;
    }
    pthread_mutex_lock(&r->lock);
    r->drained = 1;
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* At the end of the video part: did the input end before what it declares (its duration, its
 * frame count)? Checked however the end was reached (EOF, read error, decoder error at EOF). */
static void check_truncation(fathom_video_reader *r) {
    if (r->end_us != INT64_MAX || r->start_us != INT64_MIN || r->stats.interrupted) return;
    if (r->opts.max_frames > 0 && r->stats.frames >= r->opts.max_frames) return;
    char why[160] = "";
    int64_t declared = r->st->nb_frames;
    if (r->last_pts == AV_NOPTS_VALUE) {
        snprintf(why, sizeof why, "no frame could be decoded");
    } else if (declared > 0 && r->stats.frames + 1 + declared / 20 < declared) {
        snprintf(why, sizeof why, "%lld of the %lld frames it declares (truncated input?)",
                 (long long)r->stats.frames, (long long)declared);
    } else if (r->info.duration_us > 0) {
        int64_t t0 = r->fmt->start_time != AV_NOPTS_VALUE ? r->fmt->start_time : 0;
        int64_t e = fathom_video_ts_us(r->last_pts + r->last_dur, r->info.time_base) - t0;
        if (e + 500000 < r->info.duration_us) /* short by more than 0.5 s */
            snprintf(why, sizeof why, "video ended at %.3f s of %.3f s (truncated input?)",
                     e / 1e6, r->info.duration_us / 1e6);
    }
    if (why[0]) mark_end(r, 1, why);
}

static fathom_status finish(fathom_video_reader *r, int *got) {
    *got = 0;
    if (!r->finished) {
        check_truncation(r);
        r->finished = 1;
        r->drain_until_us = r->end_us;
        if (r->last_pts != AV_NOPTS_VALUE) {
            int64_t e = fathom_video_ts_us(r->last_pts + r->last_dur, r->info.time_base);
            if (e < r->drain_until_us) r->drain_until_us = e;
        }
        if (r->drain_until_us == INT64_MAX) r->drain_until_us = INT64_MAX - 2000000;
        return drain_passthrough(r);
    }
    return FATHOM_OK;
}

/* A decoded frame: place it in time; deliver it when in range. 1 = delivered, 0 = skipped,
 * -1 = past the end. */
static int place_frame(fathom_video_reader *r, AVFrame *f, fathom_video_frame *out,
                       fathom_status *s) {
    AVRational tb = r->info.time_base;
    int64_t dur = f->pkt_duration;
    if (dur <= 0 && r->info.frame_rate.num > 0)
        dur = av_rescale_q(1, av_inv_q(r->info.frame_rate), tb);
    if (dur <= 0) dur = 1;
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) pts = r->last_pts == AV_NOPTS_VALUE ? 0 : r->last_pts + r->last_dur;
    else pts += r->ts_offset;
    /* Encoders and muxers need increasing timestamps. A jump back by more than a frame (an
     * MPEG-TS discontinuity, a spliced stream) moves this and every later frame to follow on
     * from the last one, as the ffmpeg CLI does for discontinuous formats, so frames stay
     * distinct and keep their spacing; a duplicate is nudged forward by a tick. */
    if (r->last_pts != AV_NOPTS_VALUE && pts < r->last_pts) {
        int64_t shift = r->last_pts + r->last_dur - pts;
        r->ts_offset += shift;
        pts += shift;
        pthread_mutex_lock(&r->lock);
        r->stats.ts_jumps++;
        pthread_mutex_unlock(&r->lock);
    }
    if (r->last_pts != AV_NOPTS_VALUE && pts <= r->last_pts) pts = r->last_pts + 1;
    int64_t t = fathom_video_ts_us(pts, tb);
    if (r->start_us != INT64_MIN && t < r->start_us) return 0;
    if (t >= r->end_us) return -1;
    if (r->stats.frames < r->opts.skip_frames) { /* resumed: done by an earlier run */
        r->last_pts = pts;
        r->last_dur = dur;
        pthread_mutex_lock(&r->lock);
        r->stats.frames++;
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) {
        pthread_mutex_lock(&r->lock);
        r->stats.decode_errors++;
        pthread_mutex_unlock(&r->lock);
    }
    if ((*s = to_rgb(r, f)) != FATHOM_OK) return -1;
    const int turned = r->info.rotation || r->info.mirrored;
    if (turned)
        fathom_rgb_rotate(r->scaled, r->scaled_w, r->scaled_h, r->scaled_stride, r->rotated,
                          r->rot_stride, r->info.rotation, r->info.mirrored);
    r->last_pts = pts;
    r->last_dur = dur;
    out->rgb = turned ? r->rotated : r->scaled;
    out->stride = turned ? r->rot_stride : r->scaled_stride;
    out->width = r->info.width;
    out->height = r->info.height;
    out->pts = pts;
    out->duration = dur;
    pthread_mutex_lock(&r->lock);
    out->index = r->stats.frames++;
    pthread_mutex_unlock(&r->lock);
    return 1;
}

fathom_status fathom_video_reader_next(fathom_video_reader *r, fathom_video_frame *out, int *got) {
    char eb[128];
    *got = 0;
    if (r->finished) return FATHOM_OK;
    if (r->opts.max_frames > 0 && r->stats.frames >= r->opts.max_frames) return finish(r, got);
    for (;;) {
        int ret = avcodec_receive_frame(r->dec, r->frame);
        if (ret == 0) {
            fathom_status s = FATHOM_OK;
            int placed = place_frame(r, r->frame, out, &s);
            av_frame_unref(r->frame);
            if (s != FATHOM_OK) return s;
            if (placed > 0) {
                *got = 1;
                return FATHOM_OK;
            }
            if (placed < 0) return finish(r, got);
            continue;
        }
        if (ret == AVERROR_EOF) return finish(r, got);
        if (ret != AVERROR(EAGAIN)) { /* a broken frame: count it and go on */
            pthread_mutex_lock(&r->lock);
            r->stats.decode_errors++;
            pthread_mutex_unlock(&r->lock);
            if (r->eof_sent) return finish(r, got);
        }
        if (r->eof_sent) return finish(r, got);
        if (cancelled(r)) return interrupted(r, "reading");
        arm_deadline(r);
        ret = av_read_frame(r->fmt, r->pkt);
        if (ret < 0 && cancelled(r)) return interrupted(r, "reading");
        if (ret < 0) {
            if (r->timed_out) {
                char why[160];
                snprintf(why, sizeof why, "no data for %g s (stalled input; timeout_s sets the "
                         "limit)", r->opts.timeout_s);
                mark_end(r, 1, why);
            } else if (ret != AVERROR_EOF) {
                char why[160];
                snprintf(why, sizeof why, "read error: %s", fathom_av_err(ret, eb, sizeof eb));
                mark_end(r, 1, why);
            }
            avcodec_send_packet(r->dec, NULL);
            r->eof_sent = 1;
            continue;
        }
        if (r->pkt->stream_index == r->info.stream_index) {
            ret = avcodec_send_packet(r->dec, r->pkt);
            if (ret < 0 && ret != AVERROR(EAGAIN)) {
                pthread_mutex_lock(&r->lock);
                r->stats.decode_errors++;
                pthread_mutex_unlock(&r->lock);
            }
        } else if (r->opts.passthrough) {
            fathom_status s = keep_packet(r, r->pkt);
            if (s != FATHOM_OK) {
                av_packet_unref(r->pkt);
                return s;
            }
        }
        av_packet_unref(r->pkt);
    }
}
