/* video_writer.h - encode depth frames to a video file and carry the source's other streams.
 *
 * Default: lossless 16-bit grey FFV1 in Matroska. Previews: H.264/H.265 (libx264/libx265) in 8-
 * or 10-bit grey, or colorized RGB frames encoded as yuv420p. Every frame keeps the source
 * frame's timestamp (VFR survives) and the source frame rate is written as stream metadata.
 *
 * Other streams of the source (audio, subtitles, ...) are stream-copied packet for packet when the
 * container can hold their codec (avformat_query_codec); otherwise audio is re-encoded to AAC and
 * anything else is dropped with a warning naming the stream.
 *
 * The file is written as `<stem>.partial-<pid>.<ext>` (unique per process: two runs on the same
 * output never write into one file; the last rename decides) and renamed to its final name by
 * fathom_video_writer_finish; a writer freed without finish (error, Ctrl-C) closes the partial
 * file properly (playable up to the last frame) and leaves it under the partial name. */
#ifndef FATHOM_MEDIA_VIDEO_WRITER_H
#define FATHOM_MEDIA_VIDEO_WRITER_H

#include <stdint.h>
#include <libavformat/avformat.h>

#include "fathom.h"

typedef enum fathom_video_codec {
    FATHOM_VCODEC_FFV1 = 0, /* lossless; gray16le by default */
    FATHOM_VCODEC_H264,     /* libx264 */
    FATHOM_VCODEC_H265      /* libx265 */
} fathom_video_codec;

typedef struct fathom_video_writer_opts {
    fathom_video_codec codec;
    int crf;            /* x264/x265 quality; < 0: 18 */
    int color;          /* 1: frames are RGB24 (colorized), encoded as yuv420p / yuv420p10le */
    /* Pixel format name ("gray16le", "gray", "gray10le", "yuv420p", "yuv420p10le"); NULL or ""
     * picks gray16le for FFV1, gray for H.264/H.265, yuv420p when color. */
    const char *pix_fmt;
    int threads;        /* encoder threads; 0: automatic */
} fathom_video_writer_opts;

fathom_video_writer_opts fathom_video_writer_default_opts(void);

/* Codec from its CLI name ("ffv1", "h264"/"x264"/"libx264", "h265"/"hevc"/"x265"/"libx265"). */
fathom_status fathom_video_codec_parse(const char *name, fathom_video_codec *out);

/* Where the timing and the other streams come from. */
typedef struct fathom_video_source_desc {
    AVRational time_base;          /* of the pts given to write_* */
    AVRational frame_rate;         /* average; 0/1 when unknown */
    const AVFormatContext *input;  /* borrowed; NULL: no other streams */
    int video_stream;              /* index in input of the video being replaced */
} fathom_video_source_desc;

typedef struct fathom_video_writer fathom_video_writer;

/* Open `path` (container from its extension: .mkv, .mp4, .mov, ...) for width x height frames.
 * *out owned by the caller (fathom_video_writer_free). */
fathom_status fathom_video_writer_open(const char *path, int width, int height,
                                       const fathom_video_source_desc *src,
                                       const fathom_video_writer_opts *opts,
                                       fathom_video_writer **out);

/* One frame: grey (height, width) uint16 full-scale values 0..65535 (reduced to the pixel
 * format's depth), or with opts.color RGB24 rows of `stride` bytes. pts/duration in
 * src->time_base, increasing. */
fathom_status fathom_video_writer_write_gray16(fathom_video_writer *w, const uint16_t *gray,
                                               int64_t pts, int64_t duration);
fathom_status fathom_video_writer_write_rgb(fathom_video_writer *w, const uint8_t *rgb,
                                            size_t stride, int64_t pts, int64_t duration);

/* A packet of input stream `stream_index` (from the reader's passthrough). Takes the packet's
 * contents (it is left blank). Packets of dropped streams are discarded. */
fathom_status fathom_video_writer_write_packet(fathom_video_writer *w, AVPacket *pkt,
                                               int stream_index);

/* Flush encoders, write the trailer, rename to the final name. */
fathom_status fathom_video_writer_finish(fathom_video_writer *w);
/* Accepts NULL. Without a successful finish the output stays as `<stem>.partial-<pid>.<ext>`. */
void fathom_video_writer_free(fathom_video_writer **w);

/* The partial name used while writing (for reports). */
const char *fathom_video_writer_partial_path(const fathom_video_writer *w);
/* `<stem>.partial-<pid>.<ext>` (this process's id) for path into buf; 0 on success, -1 when it does not fit. */
int fathom_video_partial_name(const char *path, char *buf, size_t n);

#endif
