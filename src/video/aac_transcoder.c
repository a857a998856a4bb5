/* aac_transcoder.c - audio re-encoded to AAC (aac_transcoder.h). */
#include "video/aac_transcoder.h"

#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>

#include "core/log.h"
#include "core/status.h"
#include "video/av_error.h"

struct fathom_aac {
    AVCodecContext *dec, *enc; /* owned */
    SwrContext *swr;           /* owned */
    AVAudioFifo *fifo;         /* owned: resampled samples waiting for a full AAC frame */
    AVFrame *in, *out;         /* owned, reused */
    AVPacket *pkt;             /* owned, reused */
    int64_t next_pts;          /* in 1/sample_rate; AV_NOPTS_VALUE until the first frame */
    AVFormatContext *oc;       /* borrowed: the output */
    int out_index;             /* the AAC stream in oc */
    const char *path, *partial; /* borrowed, for messages */
};

static fathom_status mux(fathom_aac *a) {
    char eb[128];
    int ret = av_interleaved_write_frame(a->oc, a->pkt); /* takes the packet's reference */
    if (ret < 0)
        return fathom_fail(fathom_av_status(ret), "%s: cannot write an audio packet: %s",
                           a->partial, fathom_av_err(ret, eb, sizeof eb));
    return FATHOM_OK;
}

void fathom_aac_free(fathom_aac **pa) {
    if (!pa || !*pa) return;
    fathom_aac *a = *pa;
    avcodec_free_context(&a->dec);
    avcodec_free_context(&a->enc);
    swr_free(&a->swr);
    if (a->fifo) av_audio_fifo_free(a->fifo);
    av_frame_free(&a->in);
    av_frame_free(&a->out);
    av_packet_free(&a->pkt);
    av_free(a);
    *pa = NULL;
}

fathom_status fathom_aac_open(AVFormatContext *oc, const AVStream *ist, AVStream *ost,
                              const char *path, const char *partial, fathom_aac **out) {
    char eb[128];
    fathom_status s = FATHOM_OK;
    int ret;
    const AVCodec *dc = avcodec_find_decoder(ist->codecpar->codec_id);
    const AVCodec *ec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!dc || !ec)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: no %s for audio stream #%d", path,
                           dc ? "AAC encoder" : "decoder", ist->index);
    fathom_aac *a = av_mallocz(sizeof *a);
    if (!a) return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate an audio encoder", path);
    a->next_pts = AV_NOPTS_VALUE;
    a->oc = oc;
    a->out_index = ost->index;
    a->path = path;
    a->partial = partial;
    a->dec = avcodec_alloc_context3(dc);
    a->enc = avcodec_alloc_context3(ec);
    a->in = av_frame_alloc();
    a->out = av_frame_alloc();
    a->pkt = av_packet_alloc();
    if (!a->dec || !a->enc || !a->in || !a->out || !a->pkt) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate an audio encoder", a->path);
        goto done;
    }
    if ((ret = avcodec_parameters_to_context(a->dec, ist->codecpar)) < 0 ||
        (a->dec->pkt_timebase = ist->time_base, ret = avcodec_open2(a->dec, dc, NULL)) < 0) {
        s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot decode audio stream #%d (%s): %s",
                        a->path, ist->index, dc->name, fathom_av_err(ret, eb, sizeof eb));
        goto done;
    }
    a->enc->sample_rate = a->dec->sample_rate > 0 ? a->dec->sample_rate : 48000;
    if (a->dec->ch_layout.nb_channels > 0 && a->dec->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC)
        ret = av_channel_layout_copy(&a->enc->ch_layout, &a->dec->ch_layout);
    else
        av_channel_layout_default(&a->enc->ch_layout,
                                  a->dec->ch_layout.nb_channels > 0 ? a->dec->ch_layout.nb_channels : 2);
    a->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    a->enc->bit_rate = 64000 * (a->enc->ch_layout.nb_channels < 2 ? 1 : 2);
    a->enc->time_base = (AVRational){1, a->enc->sample_rate};
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(a->enc, ec, NULL)) < 0 ||
        (ret = avcodec_parameters_from_context(ost->codecpar, a->enc)) < 0) {
        s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot open the AAC encoder: %s", a->path,
                        fathom_av_err(ret, eb, sizeof eb));
        goto done;
    }
    ost->time_base = a->enc->time_base;
    a->fifo = av_audio_fifo_alloc(a->enc->sample_fmt, a->enc->ch_layout.nb_channels,
                                  a->enc->frame_size > 0 ? a->enc->frame_size : 1024);
    if (!a->fifo) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate an audio FIFO", a->path);
        goto done;
    }
done:
    if (s != FATHOM_OK) fathom_aac_free(&a);
    *out = a;
    return s;
}

/* Encode whole AAC frames from the FIFO (all that remain when flushing). */
static fathom_status drain(fathom_aac *a, int flush) {
    char eb[128];
    const int fs = a->enc->frame_size > 0 ? a->enc->frame_size : 1024;
    for (;;) {
        int n = av_audio_fifo_size(a->fifo);
        int ret;
        if (n >= fs || (flush && n > 0)) {
            int take = n < fs ? n : fs;
            av_frame_unref(a->out);
            a->out->nb_samples = take;
            a->out->format = a->enc->sample_fmt;
            a->out->sample_rate = a->enc->sample_rate;
            if (av_channel_layout_copy(&a->out->ch_layout, &a->enc->ch_layout) < 0 ||
                av_frame_get_buffer(a->out, 0) < 0)
                return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate audio", a->partial);
            av_audio_fifo_read(a->fifo, (void **)a->out->data, take);
            a->out->pts = a->next_pts;
            a->next_pts += take;
            ret = avcodec_send_frame(a->enc, a->out);
        } else if (flush) {
            ret = avcodec_send_frame(a->enc, NULL);
            flush = 2;
        } else {
            return FATHOM_OK;
        }
        if (ret < 0 && ret != AVERROR_EOF)
            return fathom_fail(FATHOM_ERR_INTERNAL, "%s: AAC encoder: %s", a->partial,
                               fathom_av_err(ret, eb, sizeof eb));
        while ((ret = avcodec_receive_packet(a->enc, a->pkt)) == 0) {
            a->pkt->stream_index = a->out_index;
            av_packet_rescale_ts(a->pkt, a->enc->time_base, a->oc->streams[a->out_index]->time_base);
            FATHOM_TRY(mux(a));
        }
        if (flush == 2) return FATHOM_OK;
    }
}

fathom_status fathom_aac_packet(fathom_aac *a, AVPacket *pkt) {
    char eb[128];
    int ret = avcodec_send_packet(a->dec, pkt);
    if (ret < 0) {
        fathom_log(FATHOM_LOG_WARN, "%s: skipped a corrupt audio packet: %s", a->path,
                   fathom_av_err(ret, eb, sizeof eb));
        return FATHOM_OK;
    }
    while ((ret = avcodec_receive_frame(a->dec, a->in)) == 0) {
        if (!a->swr) {
            ret = swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, a->enc->sample_fmt,
                                      a->enc->sample_rate, &a->in->ch_layout, a->in->format,
                                      a->in->sample_rate, 0, NULL);
            if (ret < 0 || (ret = swr_init(a->swr)) < 0)
                return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: cannot resample audio: %s",
                                   a->path, fathom_av_err(ret, eb, sizeof eb));
        }
        if (a->next_pts == AV_NOPTS_VALUE) {
            int64_t t = a->in->best_effort_timestamp;
            a->next_pts = t == AV_NOPTS_VALUE ? 0
                          : av_rescale_q(t, a->dec->pkt_timebase, a->enc->time_base);
        }
        int cap = swr_get_out_samples(a->swr, a->in->nb_samples);
        if (cap < 0 || av_audio_fifo_realloc(a->fifo, av_audio_fifo_size(a->fifo) + cap) < 0)
            return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot grow the audio FIFO", a->path);
        /* Write straight into the FIFO's planes past its current end. */
        uint8_t *planes[AV_NUM_DATA_POINTERS] = {0};
        av_frame_unref(a->out);
        a->out->nb_samples = cap;
        a->out->format = a->enc->sample_fmt;
        if (av_channel_layout_copy(&a->out->ch_layout, &a->enc->ch_layout) < 0 ||
            av_frame_get_buffer(a->out, 0) < 0)
            return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate audio", a->path);
        for (int c = 0; c < AV_NUM_DATA_POINTERS; c++) planes[c] = a->out->data[c];
        int got = swr_convert(a->swr, planes, cap, (const uint8_t **)a->in->extended_data,
                              a->in->nb_samples);
        av_frame_unref(a->in);
        if (got < 0)
            return fathom_fail(FATHOM_ERR_INTERNAL, "%s: resampling failed", a->path);
        if (got > 0 && av_audio_fifo_write(a->fifo, (void **)planes, got) < got)
            return fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot grow the audio FIFO", a->path);
        FATHOM_TRY(drain(a, 0));
    }
    return FATHOM_OK;
}

fathom_status fathom_aac_flush(fathom_aac *a) {
    return drain(a, 1);
}
