/* ffimage.c - every other still-image format (BMP, TIFF, GIF, PPM, QOI, AVIF...) through FFmpeg:
 * libavformat reads from memory via a custom AVIOContext, libavcodec decodes the first frame,
 * libswscale converts it to RGB24. Only image demuxers are accepted, so a video or a text file
 * handed over as an image is refused instead of silently yielding a frame. */
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/status.h"
#include "media/image.h"

#define AVIO_BUF 65536

typedef struct mem_reader {
    const uint8_t *data;
    size_t size, pos;
} mem_reader;

static int mem_read(void *opaque, uint8_t *buf, int n) {
    mem_reader *m = opaque;
    size_t left = m->size - m->pos;
    if (left == 0) return AVERROR_EOF;
    if ((size_t)n > left) n = (int)left;
    memcpy(buf, m->data + m->pos, (size_t)n);
    m->pos += (size_t)n;
    return n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    mem_reader *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->size; break;
    default: return AVERROR(EINVAL);
    }
    if (off > (int64_t)m->size - base || base + off < 0) return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

static int is_image_demuxer(const char *n) {
    size_t len = strlen(n);
    return (len > 5 && strcmp(n + len - 5, "_pipe") == 0) || strcmp(n, "gif") == 0 ||
           strcmp(n, "image2") == 0;
}

static fathom_status av_fail(fathom_status s, const char *name, const char *what, int err) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(err, buf, sizeof buf);
    return fathom_fail(s, "%s: %s: %s", name, what, buf);
}

/* Every frame buffer of the decoder is requested here, after the decoder has parsed the
 * dimensions and before it allocates: the place to apply max_pixels and the hard cap. */
typedef struct size_guard {
    const char *name;
    uint64_t max_pixels;
    int refused; /* the refusal's message is recorded */
} size_guard;

static int guarded_get_buffer(AVCodecContext *cc, AVFrame *frame, int flags) {
    size_guard *g = cc->opaque;
    if (fathom_image_check_dims(g->name, frame->width, frame->height, g->max_pixels) != FATHOM_OK) {
        g->refused = 1;
        return AVERROR(ERANGE);
    }
    return avcodec_default_get_buffer2(cc, frame, flags);
}

static fathom_status frame_fail(const size_guard *g, int err) {
    if (g->refused) return FATHOM_ERR_TOO_LARGE;
    return av_fail(FATHOM_ERR_FORMAT, g->name, "corrupt image data", err);
}

/* Send packets until one frame comes out. */
static fathom_status decode_first_frame(AVFormatContext *fc, AVCodecContext *cc, int stream,
                                        AVPacket *pkt, AVFrame *frame, const size_guard *g) {
    const char *name = g->name;
    int eof = 0;
    for (;;) {
        int r = avcodec_receive_frame(cc, frame);
        if (r == 0) return FATHOM_OK;
        if (r == AVERROR_EOF) return fathom_fail(FATHOM_ERR_FORMAT, "%s: no image in the data", name);
        if (r != AVERROR(EAGAIN)) return frame_fail(g, r);
        if (eof) return fathom_fail(FATHOM_ERR_FORMAT, "%s: no image in the data", name);
        r = av_read_frame(fc, pkt);
        if (r == AVERROR_EOF) {
            eof = 1;
            r = avcodec_send_packet(cc, NULL);
        } else if (r < 0) {
            return av_fail(FATHOM_ERR_FORMAT, name, "corrupt or truncated image", r);
        } else {
            r = pkt->stream_index == stream ? avcodec_send_packet(cc, pkt) : 0;
            av_packet_unref(pkt);
        }
        if (r < 0 && r != AVERROR_EOF) return frame_fail(g, r);
    }
}

/* One decode: everything FFmpeg allocates for it, freed by ffdec_close. */
typedef struct ffdec {
    const char *name;            /* borrowed, for messages */
    uint64_t max_pixels;
    mem_reader mem;
    AVIOContext *io;             /* owned (with its buffer) */
    AVFormatContext *fc;         /* owned */
    AVCodecContext *cc;          /* owned */
    AVPacket *pkt;               /* owned */
    AVFrame *frame;              /* owned */
    struct SwsContext *sws;      /* owned */
    uint8_t *wide;               /* owned: RGB48 frame of deep sources */
    int stream;
    size_guard guard;
} ffdec;

static void ffdec_close(ffdec *d) {
    av_free(d->wide);
    sws_freeContext(d->sws);
    av_frame_free(&d->frame);
    av_packet_free(&d->pkt);
    avcodec_free_context(&d->cc);
    avformat_close_input(&d->fc);
    if (d->io) av_freep(&d->io->buffer);
    avio_context_free(&d->io);
}

/* The demuxer over the bytes in memory. */
static fathom_status open_demuxer(ffdec *d) {
    uint8_t *iobuf = av_malloc(AVIO_BUF); /* owned by io once created */
    if (iobuf) d->io = avio_alloc_context(iobuf, AVIO_BUF, 0, &d->mem, mem_read, NULL, mem_seek);
    if (!d->io) {
        av_free(iobuf);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate FFmpeg I/O", d->name);
    }
    d->fc = avformat_alloc_context();
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->fc || !d->pkt || !d->frame)
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate FFmpeg contexts", d->name);
    d->fc->pb = d->io;
    d->fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    int r = avformat_open_input(&d->fc, NULL, NULL, NULL); /* frees fc on failure */
    if (r < 0) return av_fail(FATHOM_ERR_FORMAT, d->name, "not a recognized image format", r);
    return FATHOM_OK;
}

/* The decoder of the one still image, its size checked where the header gives it. */
static fathom_status open_decoder(ffdec *d) {
    const char *name = d->name;
    const AVCodec *codec = NULL;
    AVFormatContext *fc = d->fc;
    d->stream = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    /* image demuxers, or a container holding exactly one frame (AVIF in the mov demuxer) */
    if (!is_image_demuxer(fc->iformat->name) &&
        !(d->stream >= 0 && fc->streams[d->stream]->nb_frames == 1))
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: '%s' data is not a still-image format",
                           name, fc->iformat->name);
    if (d->stream < 0 || !codec)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: no decoder for this '%s' image", name,
                           fc->iformat->name);
    AVCodecParameters *par = fc->streams[d->stream]->codecpar;
    if (par->width > 0 && par->height > 0)
        FATHOM_TRY(fathom_image_check_dims(name, par->width, par->height, d->max_pixels));
    if (!(d->cc = avcodec_alloc_context3(codec)))
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a decoder", name);
    int r = avcodec_parameters_to_context(d->cc, par);
    if (r < 0) return av_fail(FATHOM_ERR_FORMAT, name, "bad codec parameters", r);
    d->guard = (size_guard){name, d->max_pixels, 0};
    d->cc->opaque = &d->guard;
    d->cc->get_buffer2 = guarded_get_buffer;
    d->cc->max_pixels = (int64_t)(FATHOM_IMAGE_MAX_BYTES / 3); /* FFmpeg's own early check */
    d->cc->thread_count = 1;
    r = avcodec_open2(d->cc, codec, NULL);
    if (r < 0) return av_fail(FATHOM_ERR_UNSUPPORTED, name, "cannot open the decoder", r);
    return FATHOM_OK;
}

/* The decoded frame as 8-bit RGB in a new *out. */
static fathom_status to_rgb(ffdec *d, fathom_image *out) {
    const char *name = d->name;
    const AVFrame *frame = d->frame;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(frame->format);
    if (!desc) return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: unknown pixel format", name);
    /* Deep sources (16-bit TIFF, ...) go through RGB48 and keep the high byte, as
     * cv2.imread(IMREAD_COLOR) does; swscale's own 16 -> 8 conversion rounds instead. */
    int deep = desc->comp[0].depth > 8;
    d->sws = sws_getContext(frame->width, frame->height, frame->format, frame->width,
                            frame->height, deep ? AV_PIX_FMT_RGB48 : AV_PIX_FMT_RGB24,
                            SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!d->sws)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot convert pixel format %s to RGB",
                           name, desc->name);
    FATHOM_TRY(fathom_image_alloc(name, frame->width, frame->height, out));
    size_t row48 = (size_t)frame->width * 6;
    if (deep && !(d->wide = av_malloc(row48 * (size_t)frame->height)))
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a %dx%d 16-bit buffer", name,
                           frame->width, frame->height);
    uint8_t *dst[4] = {deep ? d->wide : out->rgb, NULL, NULL, NULL};
    int dst_stride[4] = {deep ? (int)row48 : (int)out->stride, 0, 0, 0};
    sws_scale(d->sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, dst,
              dst_stride);
    for (int y = 0; deep && y < frame->height; y++) {
        const uint16_t *src = (const uint16_t *)(d->wide + (size_t)y * row48);
        uint8_t *o = out->rgb + (size_t)y * out->stride;
        for (int i = 0; i < 3 * frame->width; i++) o[i] = (uint8_t)(src[i] >> 8);
    }
    out->src_bits = deep ? 16 : 8;
    out->src_channels = desc->nb_components;
    return FATHOM_OK;
}

fathom_status fathom_ffimage_decode(const uint8_t *data, size_t size, const char *name,
                                    uint64_t max_pixels, fathom_image *out) {
    ffdec d = {.name = name, .max_pixels = max_pixels, .mem = {data, size, 0}};
    fathom_status s = open_demuxer(&d);
    if (s == FATHOM_OK) s = open_decoder(&d);
    if (s == FATHOM_OK) {
        s = decode_first_frame(d.fc, d.cc, d.stream, d.pkt, d.frame, &d.guard);
        if (s == FATHOM_ERR_FORMAT) { /* FFmpeg says "invalid data" also for what it cannot do */
            const char *why = fathom_tiff_unsupported(data, size);
            if (why) s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: unsupported TIFF: %s", name, why);
        }
    }
    if (s == FATHOM_OK)
        s = fathom_image_check_dims(name, d.frame->width, d.frame->height, max_pixels);
    if (s == FATHOM_OK) s = to_rgb(&d, out);
    ffdec_close(&d);
    return s;
}
