/* packet_ring.c - the video reader's passthrough packet queue (packet_ring.h). */
#include "video/packet_ring.h"

#include <stdint.h>
#include <string.h>

int fathom_packet_ring_push(packet_ring *q, AVPacket *pkt, int stream) {
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

void fathom_packet_ring_free(packet_ring *q) {
    for (int i = 0; i < q->cap; i++) av_packet_free(&q->slot[i]);
    av_free(q->slot);
    av_free(q->stream);
    memset(q, 0, sizeof *q);
}


int64_t fathom_packet_us(const AVPacket *p, AVRational tb) {
    int64_t t = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
    return t == AV_NOPTS_VALUE ? INT64_MIN : av_rescale_q(t, tb, AV_TIME_BASE_Q);
}

int fathom_packet_ring_pop(packet_ring *q, const AVFormatContext *fmt, int64_t upto_us,
                           AVPacket *pkt, int *stream_index) {
    if (q->count == 0) return 0;
    AVPacket *p = q->slot[q->head];
    int si = q->stream[q->head];
    if (upto_us != INT64_MAX && fathom_packet_us(p, fmt->streams[si]->time_base) > upto_us)
        return 0;
    av_packet_move_ref(pkt, p);
    *stream_index = si;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return 1;
}
