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

/* Non-video packets waiting for the writer. A ring of AVPacket shells allocated once and reused;
 * it only grows when the consumer lags (bounded by the pipeline's queues). */
typedef struct packet_ring {
    AVPacket **slot; /* owned: cap shells */
    int *stream;     /* owned: input stream index per slot */
    int cap, head, count;
} packet_ring;

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

static const char *av_err(int err, char *buf, size_t n) {
    av_strerror(err, buf, n);
    return buf;
}

/* ---- passthrough ring ---- */

static int ring_push(packet_ring *q, AVPacket *pkt, int stream) {
    if (q->count == q->cap) {
        int ncap = q->cap ? q->cap * 2 : 64;
        AVPacket **ns = av_calloc(ncap, sizeof *ns);
        int *nst = av_calloc(ncap, sizeof *nst);
        if (!ns || !nst) {
            av_free(ns);
            av_free(nst);
            return -1;
        }
        for (int i = 0; i < q->count; i++) { /* unroll to the front */
            ns[i] = q->slot[(q->head + i) % q->cap];
            nst[i] = q->stream[(q->head + i) % q->cap];
        }
        for (int i = 0; i < q->cap - q->count; i++) /* empty shells stay reusable */
            ns[q->count + i] = q->slot[(q->head + q->count + i) % q->cap];
        av_free(q->slot);
        av_free(q->stream);
        q->slot = ns;
        q->stream = nst;
        q->head = 0;
        q->cap = ncap;
    }
    int tail = (q->head + q->count) % q->cap;
    if (!q->slot[tail] && !(q->slot[tail] = av_packet_alloc())) return -1;
    av_packet_move_ref(q->slot[tail], pkt);
    q->stream[tail] = stream;
    q->count++;
    return 0;
}

static void ring_free(packet_ring *q) {
    for (int i = 0; i < q->cap; i++) av_packet_free(&q->slot[i]);
    av_free(q->slot);
    av_free(q->stream);
    memset(q, 0, sizeof *q);
}

static int64_t packet_us(const AVPacket *p, AVRational tb) {
    int64_t t = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
    return t == AV_NOPTS_VALUE ? INT64_MIN : fathom_video_ts_us(t, tb);
}

int fathom_video_reader_pop_packet(fathom_video_reader *r, int64_t upto_us, AVPacket *pkt,
                                   int *stream_index) {
    int got = 0;
    pthread_mutex_lock(&r->lock);
    packet_ring *q = &r->ring;
    if (q->count > 0) {
        AVPacket *p = q->slot[q->head];
        int si = q->stream[q->head];
        if (upto_us == INT64_MAX || packet_us(p, r->fmt->streams[si]->time_base) <= upto_us) {
            av_packet_move_ref(pkt, p);
            *stream_index = si;
            q->head = (q->head + 1) % q->cap;
            q->count--;
            got = 1;
        }
    }
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
    return fathom_fail(FATHOM_ERR_NETWORK, "%s: %s: no data for %g s (stalled input; --timeout "
                       "sets the limit)", r->url, what, r->opts.timeout_s);
}

/* The library never prints: quiet FFmpeg unless the application already chose a level. */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet_ffmpeg(void) {
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_QUIET);
}

/* Clockwise degrees a player turns the picture, and whether it then mirrors it left-right, as
 * the ffmpeg CLI (>= 6.1) decides from the display matrix: transpose for 90/270 with a flip,
 * hflip/vflip for 180 and 0 (vflip = 180 + mirror). */
static int stream_rotation(const AVStream *st, int *mirrored) {
    *mirrored = 0;
#if LIBAVFORMAT_VERSION_MAJOR < 61
    size_t size = 0;
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
#else
    const AVPacketSideData *sd = av_packet_side_data_get(
        st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    const uint8_t *m = sd ? sd->data : NULL;
    size_t size = sd ? sd->size : 0;
#endif
    if (!m || size < 9 * sizeof(int32_t)) return 0;
    const int32_t *dm = (const int32_t *)m;
    double theta = -round(av_display_rotation_get(dm));
    if (isnan(theta)) return 0;
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    int deg = (int)lrint(theta / 90.0) * 90 % 360;
    deg = deg < 0 ? deg + 360 : deg;
    if (deg == 90) *mirrored = dm[3] > 0;       /* transpose=cclock_flip */
    else if (deg == 270) *mirrored = dm[3] < 0; /* transpose=clock_flip */
    else if (deg == 180 && (dm[0] < 0) != (dm[4] < 0)) {
        *mirrored = 1;                          /* hflip alone = 0 + mirror */
        if (dm[0] < 0) deg = 0;                 /* vflip alone = 180 + mirror */
    } else if (deg == 180 && dm[0] >= 0) {
        deg = 0;                                /* neither flip applies */
    } else if (deg == 0 && dm[4] < 0) {
        deg = 180;
        *mirrored = 1;
    }
    return deg;
}

static fathom_status alloc_buffers(fathom_video_reader *r) {
    r->scaled_stride = ((size_t)r->scaled_w * 3 + 63) & ~(size_t)63;
    /* + 64: swscale's SIMD stores run up to 8 bytes past the last row (valgrind, 40x30) */
    r->scaled_bytes = r->scaled_stride * (size_t)r->scaled_h + 64;
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

fathom_status fathom_video_reader_open(const char *url, const fathom_video_reader_opts *opts,
                                       fathom_video_reader **out) {
    fathom_status s = FATHOM_OK;
    char eb[128];
    *out = NULL;
    if (!url) return fathom_fail(FATHOM_ERR_INVALID_ARG, "video: no input given");
    pthread_once(&quiet_once, quiet_ffmpeg);
    fathom_video_reader *r = av_mallocz(sizeof *r);
    if (!r) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video reader", url);
    pthread_mutex_init(&r->lock, NULL);
    r->opts = opts ? *opts : fathom_video_reader_default_opts();
    if (r->opts.timeout_s <= 0) r->opts.timeout_s = FATHOM_VIDEO_TIMEOUT_S;
    if (!r->opts.max_pixels) r->opts.max_pixels = FATHOM_VIDEO_MAX_PIXELS;
    r->url = av_strdup(url);
    r->pkt = av_packet_alloc();
    r->frame = av_frame_alloc();
    if (!r->url || !r->pkt || !r->frame) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video reader", url);
        goto end;
    }
    r->last_pts = AV_NOPTS_VALUE;

    /* A local name must be a regular file: open() of a FIFO or a device blocks where no
     * callback can reach it (a pipe is read through `pipe:`). */
    struct stat sb;
    if (!strstr(url, "://") && strncmp(url, "pipe:", 5) && stat(url, &sb) == 0 &&
        !S_ISREG(sb.st_mode)) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: not a regular file (%s)", url,
                        S_ISDIR(sb.st_mode) ? "a folder" : S_ISFIFO(sb.st_mode) ? "a FIFO"
                        : S_ISCHR(sb.st_mode) ? "a character device" : S_ISSOCK(sb.st_mode)
                        ? "a socket" : "not a plain file");
        goto end;
    }
    /* Every blocking step can be interrupted: the callback for cancel and for the deadline
     * (all protocols, FIFOs included), rw_timeout for the protocols that honour it. */
    if (!(r->fmt = avformat_alloc_context())) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a video reader", url);
        goto end;
    }
    r->fmt->interrupt_callback = (AVIOInterruptCB){interrupt_cb, r};
    AVDictionary *dopts = NULL;
    av_dict_set_int(&dopts, "rw_timeout", (int64_t)(r->opts.timeout_s * 1e6), 0);
    arm_deadline(r);
    int ret = avformat_open_input(&r->fmt, url, NULL, &dopts);
    av_dict_free(&dopts);
    if (ret < 0 && (r->timed_out || cancelled(r) || ret == AVERROR_EXIT)) {
        s = interrupted(r, "cannot open as video");
        goto end;
    }
    if (ret < 0) {
        s = ret == AVERROR(ENOENT) ? FATHOM_ERR_NOT_FOUND
            : ret == AVERROR(EACCES) ? FATHOM_ERR_IO : FATHOM_ERR_FORMAT;
        s = fathom_fail(s, "%s: cannot open as video: %s", url, av_err(ret, eb, sizeof eb));
        goto end;
    }
    arm_deadline(r);
    ret = avformat_find_stream_info(r->fmt, NULL);
    if (ret < 0 && (r->timed_out || cancelled(r))) {
        s = interrupted(r, "cannot read stream info");
        goto end;
    }
    if (ret < 0) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: cannot read stream info: %s", url,
                        av_err(ret, eb, sizeof eb));
        goto end;
    }
    const AVCodec *codec = NULL;
    int vi = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (vi >= 0 && (r->fmt->streams[vi]->disposition & AV_DISPOSITION_ATTACHED_PIC)) vi = -1;
    if (vi < 0) {
        char list[512];
        list_streams(r->fmt, list, sizeof list);
        if (vi == AVERROR_DECODER_NOT_FOUND)
            s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: no decoder for its video stream (%s)",
                            url, list);
        else
            s = fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: no video stream (streams: %s)", url,
                            r->fmt->nb_streams ? list : "none");
        goto end;
    }
    r->st = r->fmt->streams[vi];
    const AVCodecParameters *par = r->st->codecpar;
    if (par->width <= 0 || par->height <= 0 || par->width > 32768 || par->height > 32768) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: video stream #%d has an invalid size %dx%d", url,
                        vi, par->width, par->height);
        goto end;
    }
    /* before the decoder (its frame threads each hold frames) or any buffer exists */
    if ((uint64_t)par->width * par->height > r->opts.max_pixels) {
        s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %dx%d video frames are over the pixel limit "
                        "%llu (--max-pixels raises it)", url, par->width, par->height,
                        (unsigned long long)r->opts.max_pixels);
        goto end;
    }
    r->dec = avcodec_alloc_context3(codec);
    if (!r->dec) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a decoder", url);
        goto end;
    }
    if ((ret = avcodec_parameters_to_context(r->dec, par)) < 0) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: bad video parameters: %s", url,
                        av_err(ret, eb, sizeof eb));
        goto end;
    }
    r->dec->pkt_timebase = r->st->time_base;
    r->dec->max_pixels = (int64_t)r->opts.max_pixels; /* a size change inside the stream too */
    r->dec->thread_count = r->opts.threads > 0 ? r->opts.threads : 0;
    r->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if ((ret = avcodec_open2(r->dec, codec, NULL)) < 0) {
        s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot open the %s decoder: %s", url,
                        codec->name, av_err(ret, eb, sizeof eb));
        goto end;
    }
    /* Only the chosen video stream is decoded; the others are demuxed for passthrough only. */
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
        if ((int)i != vi && (!r->opts.passthrough ||
                             r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO))
            r->fmt->streams[i]->discard = AVDISCARD_ALL;

    fathom_video_info *in = &r->info;
    in->stream_index = vi;
    in->src_width = par->width;
    in->src_height = par->height;
    in->rotation = stream_rotation(r->st, &in->mirrored);
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
    if ((uint64_t)rw * rh > r->opts.max_pixels) { /* cannot happen after the coded check */
        s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: %dx%d frames are over the pixel limit %llu",
                        url, rw, rh, (unsigned long long)r->opts.max_pixels);
        goto end;
    }
    r->scaled_w = (in->rotation == 90 || in->rotation == 270) ? rh : rw;
    r->scaled_h = (in->rotation == 90 || in->rotation == 270) ? rw : rh;
    if ((s = alloc_buffers(r)) != FATHOM_OK) goto end;

    int64_t t0 = r->fmt->start_time != AV_NOPTS_VALUE ? r->fmt->start_time : 0;
    r->start_us = r->opts.start > 0 ? t0 + (int64_t)llround(r->opts.start * 1e6) : INT64_MIN;
    r->end_us = r->opts.end > 0 && r->opts.end > r->opts.start
                    ? t0 + (int64_t)llround(r->opts.end * 1e6) : INT64_MAX;
    if (r->start_us != INT64_MIN) {
        /* Seek to the keyframe at or before start; frames before it are decoded and dropped. */
        /* Unseekable inputs (pipes) fail here and are read from the start instead. */
        (void)avformat_seek_file(r->fmt, -1, INT64_MIN, r->start_us, r->start_us, 0);
    }
end:
    if (s != FATHOM_OK) {
        fathom_video_reader_free(&r);
        return s;
    }
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
    ring_free(&r->ring);
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

/* Turn the scaled picture clockwise by rotation degrees into r->rotated, then mirror it. */
static void rotate(fathom_video_reader *r) {
    const int w = r->scaled_w, h = r->scaled_h, rot = r->info.rotation;
    const size_t ss = r->scaled_stride, ds = r->rot_stride;
    const uint8_t *src = r->scaled;
    uint8_t *dst = r->rotated;
    if (r->info.mirrored) {
        /* out(y, x) = in(sy, sx): swap axes for 90/270; flip the source rows (fy) / columns
         * (fx) as the rotation needs, the mirror toggles the axis that lands on out's x */
        const int tr = rot == 90 || rot == 270;
        const int fy = rot == 180 || rot == 270, fx = rot == 0 || rot == 270;
        const int ow = tr ? h : w, oh = tr ? w : h;
        for (int y = 0; y < oh; y++) {
            uint8_t *d = dst + (size_t)y * ds;
            for (int x = 0; x < ow; x++) {
                int sy = tr ? x : y, sx = tr ? y : x;
                if (fy) sy = h - 1 - sy;
                if (fx) sx = w - 1 - sx;
                memcpy(d + 3 * x, src + (size_t)sy * ss + 3 * (size_t)sx, 3);
            }
        }
        return;
    }
    if (rot == 180) {
        for (int y = 0; y < h; y++) {
            const uint8_t *s = src + (size_t)(h - 1 - y) * ss;
            uint8_t *d = dst + (size_t)y * ds;
            for (int x = 0; x < w; x++) memcpy(d + 3 * x, s + 3 * (w - 1 - x), 3);
        }
        return;
    }
    /* 90: out(y, x) = in(h-1-x, y); 270: out(y, x) = in(x, w-1-y); out is h wide, w tall */
    for (int y = 0; y < w; y++) {
        uint8_t *d = dst + (size_t)y * ds;
        for (int x = 0; x < h; x++) {
            const uint8_t *s = rot == 90 ? src + (size_t)(h - 1 - x) * ss + 3 * (size_t)y
                                         : src + (size_t)x * ss + 3 * (size_t)(w - 1 - y);
            memcpy(d + 3 * x, s, 3);
        }
    }
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
    int64_t t = packet_us(pkt, ps->time_base);
    int64_t limit = r->finished ? r->drain_until_us : r->end_us;
    if (t != INT64_MIN && (t < r->start_us || t >= limit)) return FATHOM_OK;
    pthread_mutex_lock(&r->lock);
    int bad = ring_push(&r->ring, pkt, pkt->stream_index);
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
        int64_t t = packet_us(r->pkt, r->fmt->streams[r->pkt->stream_index]->time_base);
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
    if (turned) rotate(r);
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
                snprintf(why, sizeof why, "no data for %g s (stalled input; --timeout sets the "
                         "limit)", r->opts.timeout_s);
                mark_end(r, 1, why);
            } else if (ret != AVERROR_EOF) {
                char why[160];
                snprintf(why, sizeof why, "read error: %s", av_err(ret, eb, sizeof eb));
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
