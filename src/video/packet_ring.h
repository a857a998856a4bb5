/* packet_ring.h - non-video packets the video reader demuxed, waiting for the writer.
 * Not thread-safe: the reader holds its lock around every call. */
#ifndef FATHOM_VIDEO_PACKET_RING_H
#define FATHOM_VIDEO_PACKET_RING_H

#include <libavformat/avformat.h>

/* Non-video packets waiting for the writer. A ring of AVPacket shells allocated once and reused;
 * it only grows when the consumer lags (bounded by the pipeline's queues). */
typedef struct packet_ring {
    AVPacket **slot; /* owned: cap shells */
    int *stream;     /* owned: input stream index per slot */
    int cap, head, count;
} packet_ring;

/* Take pkt's contents (it is left blank). 0, or -1 when out of memory. */
int fathom_packet_ring_push(packet_ring *q, AVPacket *pkt, int stream);
/* Move the oldest packet into pkt when its time (dts, else pts, in microseconds; streams' time
 * bases from fmt) is at most upto_us (INT64_MAX: any). 1 when one was moved, else 0. */
int fathom_packet_ring_pop(packet_ring *q, const AVFormatContext *fmt, int64_t upto_us,
                           AVPacket *pkt, int *stream_index);
/* Frees every shell; the ring is left empty and reusable. */
void fathom_packet_ring_free(packet_ring *q);
/* A packet's dts (else pts) in microseconds; INT64_MIN when it has neither. */
int64_t fathom_packet_us(const AVPacket *p, AVRational tb);

#endif
