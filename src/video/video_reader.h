/* video_reader.h - demux and decode one video stream into RGB24 frames.
 *
 * Anything libavformat/libavcodec opens (files, pipes, network streams). Decoding is threaded
 * (frame + slice threads). Rotation from the display-matrix side data is applied, so frames come
 * out upright as players show them. A time range (start/end) and a frame limit select frames;
 * every frame decoded in range is delivered, in presentation order, with its own timestamp (no
 * frame-rate conversion: VFR survives).
 *
 * Non-video packets (audio, subtitles, ...) in range can be kept in a passthrough FIFO that a
 * writer on another thread drains (fathom_video_reader_pop_packet); its memory is bounded by how
 * far the consumer lags behind the reader.
 *
 * Corrupt packets are counted and skipped; a stream that ends early is reported through
 * fathom_video_stats.truncated. Memory is constant: one RGB buffer per reader, reused. */
#ifndef FATHOM_MEDIA_VIDEO_READER_H
#define FATHOM_MEDIA_VIDEO_READER_H

#include <stdatomic.h>
#include <stdint.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "fathom.h"

typedef struct fathom_video_reader fathom_video_reader;

typedef struct fathom_video_reader_opts {
    double start;        /* seconds; <= 0: from the beginning */
    double end;          /* seconds; <= 0 or <= start: to the end */
    int64_t max_frames;  /* 0: no limit */
    int max_res;         /* longest side of delivered frames (after rotation); 0: source size */
    int threads;         /* decoder threads; 0: automatic */
    int passthrough;     /* 1: keep non-video packets in range for a writer */
    uint64_t max_pixels; /* coded and delivered frame size limit, checked before any frame
                            buffer or decoder is allocated; 0: FATHOM_VIDEO_MAX_PIXELS */
    double timeout_s;    /* longest wait for one open/read of the input (stalled network
                            streams, FIFOs); <= 0: FATHOM_VIDEO_TIMEOUT_S */
    const atomic_int *cancel; /* borrowed; non-zero interrupts a blocked open/read at once */
    int64_t skip_frames; /* frames in range decoded but not delivered (--resume); their indices
                            are used, so the first delivered frame has index skip_frames */
} fathom_video_reader_opts;

/* Default frame size limit: DCI 8K (8192 x 4320). A frame costs ~20 bytes a pixel along the
 * pipeline (RGB, preprocessed input, float depth, the look-ahead ring), so this bounds a run's
 * memory whatever a file's header claims; the max_pixels option raises it. */
#define FATHOM_VIDEO_MAX_PIXELS ((uint64_t)8192 * 4320)
#define FATHOM_VIDEO_TIMEOUT_S 30.0

fathom_video_reader_opts fathom_video_reader_default_opts(void);

typedef struct fathom_video_info {
    int width, height;         /* delivered frames: after rotation and max_res */
    int src_width, src_height; /* as coded */
    int rotation;              /* clockwise degrees applied to upright the frames: 0/90/180/270 */
    int mirrored;              /* then mirrored left-right (a display matrix with a flip) */
    int stream_index;          /* the video stream in the input */
    AVRational time_base;      /* of frame pts */
    AVRational frame_rate;     /* average (0/1 when unknown) */
    int64_t duration_us;       /* container duration; AV_NOPTS_VALUE when unknown */
    char codec[32];            /* decoder name */
} fathom_video_info;

typedef struct fathom_video_frame {
    const uint8_t *rgb;  /* borrowed: valid until the next fathom_video_reader_next */
    size_t stride;       /* bytes per row */
    int width, height;
    int64_t pts;         /* in info.time_base */
    int64_t duration;    /* in info.time_base (> 0) */
    int64_t index;       /* 0-based among delivered frames */
} fathom_video_frame;

typedef struct fathom_video_stats {
    int64_t frames;         /* delivered */
    int64_t decode_errors;  /* packets or frames the decoder rejected (skipped) */
    int64_t packets_kept;   /* non-video packets put in the passthrough FIFO */
    int truncated;          /* input ended early (read error, short of its duration or of
                               its declared frame count) */
    int interrupted;        /* a cancel or the I/O timeout stopped reading */
    int64_t ts_jumps;       /* backwards timestamp jumps smoothed over (discontinuities) */
    char end_reason[160];   /* why reading stopped early, "" when it did not */
} fathom_video_stats;

/* Open `url` and its best video stream. Fails with FATHOM_ERR_NOT_FOUND naming the input when
 * it has no video stream. opts may be NULL. *out owned by the caller (fathom_video_reader_free). */
fathom_status fathom_video_reader_open(const char *url, const fathom_video_reader_opts *opts,
                                       fathom_video_reader **out);
void fathom_video_reader_free(fathom_video_reader **r);

const fathom_video_info *fathom_video_reader_info(const fathom_video_reader *r);
/* The demuxer, for a writer to mirror the other streams (borrowed, read-only). */
const AVFormatContext *fathom_video_reader_format(const fathom_video_reader *r);

/* Next frame in range: *got = 1 and *frame filled, or *got = 0 at the end. Decode errors do not
 * fail the call (they are counted); only I/O setup and memory failures do, and a cancel or an
 * I/O timeout (FATHOM_ERR_INTERRUPTED / FATHOM_ERR_TIMEOUT, also recorded in the stats). */
fathom_status fathom_video_reader_next(fathom_video_reader *r, fathom_video_frame *frame,
                                       int *got);

/* Move the oldest passthrough packet to the caller if its time (dts, else pts, in
 * microseconds) is <= upto_us; INT64_MAX takes any. Returns 1 with *pkt (caller owns; unref)
 * and its input stream index, 0 when none qualifies. Thread-safe against the reading thread. */
int fathom_video_reader_pop_packet(fathom_video_reader *r, int64_t upto_us, AVPacket *pkt,
                                   int *stream_index);
/* Has reading ended (no more packets will be queued)? Thread-safe. */
int fathom_video_reader_done(fathom_video_reader *r);

/* A second flag that interrupts a blocked read (the pipeline's stop). Set before reading
 * starts on another thread. */
void fathom_video_reader_add_cancel(fathom_video_reader *r, const atomic_int *flag);

void fathom_video_reader_stats(fathom_video_reader *r, fathom_video_stats *out);

/* Microseconds of a timestamp in a time base (AV_NOPTS_VALUE passes through). */
int64_t fathom_video_ts_us(int64_t ts, AVRational tb);

#endif
