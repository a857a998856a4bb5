/* chunk_plan.c - chunk plan by frame index (see chunk_plan.h). */
#include "cluster/chunk_plan.h"

#include <libavformat/avformat.h>
#include <stdlib.h>

#include "core/status.h"

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

fathom_status fathom_chunk_scan(const char *input, int64_t **pts_us, int64_t *n_frames) {
    *pts_us = NULL;
    *n_frames = 0;
    AVFormatContext *fmt = NULL; /* owned */
    if (avformat_open_input(&fmt, input, NULL, NULL) < 0)
        return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: cannot open the video", input);
    fathom_status s = FATHOM_OK;
    AVPacket *pkt = av_packet_alloc(); /* owned */
    int64_t *t = NULL, n = 0, cap = 0;  /* owned until returned */
    int vs = -1;
    if (!pkt) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", input);
        goto out;
    }
    if (avformat_find_stream_info(fmt, NULL) < 0 ||
        (vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        s = fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: no video stream", input);
        goto out;
    }
    AVRational tb = fmt->streams[vs]->time_base;
    int64_t t0 = fmt->start_time != AV_NOPTS_VALUE ? fmt->start_time : 0;
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == vs) {
            if (pkt->pts == AV_NOPTS_VALUE) {
                s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: frame %lld has no timestamp: cannot "
                                "cut it into chunks (run it without n_chunks)", input, (long long)n);
                av_packet_unref(pkt);
                goto out;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                int64_t *nt = realloc(t, (size_t)cap * sizeof *nt);
                if (!nt) {
                    s = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", input);
                    av_packet_unref(pkt);
                    goto out;
                }
                t = nt;
            }
            t[n++] = av_rescale_q(pkt->pts, tb, AV_TIME_BASE_Q) - t0;
        }
        av_packet_unref(pkt);
    }
    qsort(t, (size_t)n, sizeof *t, cmp_i64); /* decode order -> presentation order */
out:
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (s != FATHOM_OK) {
        free(t);
        return s;
    }
    *pts_us = t;
    *n_frames = n;
    return FATHOM_OK;
}

fathom_status fathom_chunk_plan(const int64_t *pts_us, int64_t n_frames, int n_chunks, int k,
                                fathom_chunk **chunks, int *n_out) {
    return fathom_chunk_plan_tapered(pts_us, n_frames, n_chunks, k, 0, chunks, n_out);
}

/* Weight of chunk i in halves: 2, the last `taper` 1. */
static int64_t weight_before(int i, int n, int taper) {
    return i <= n - taper ? 2 * (int64_t)i : 2 * (int64_t)(n - taper) + (i - (n - taper));
}

fathom_status fathom_chunk_plan_tapered(const int64_t *pts_us, int64_t n_frames, int n_chunks,
                                        int k, int taper, fathom_chunk **chunks, int *n_out) {
    *chunks = NULL;
    *n_out = 0;
    if (n_chunks < 1 || k < 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "n_chunks must be >= 1 and overlap >= 0");
    if (n_frames < 1) return fathom_fail(FATHOM_ERR_FORMAT, "the video has no frames");
    int n = n_chunks > n_frames ? (int)n_frames : n_chunks;
    fathom_chunk *c = calloc((size_t)n, sizeof *c); /* owned until returned */
    if (!c) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the chunk plan");
    /* halves only where a half chunk stays long enough: 16 frames, 8x its overlap */
    const int64_t halves = 2 * (int64_t)(n - taper) + taper;
    if (taper < 1 || taper >= n || n_frames / halves < (k * 8 > 16 ? k * 8 : 16)) taper = 0;
    int64_t first = 0;
    for (int i = 0; i < n; i++) {
        c[i].first = first;
        if (taper) /* boundaries at F x (weight before) / (total weight) */
            c[i].count = n_frames * weight_before(i + 1, n, taper) / halves - first;
        else
            c[i].count = n_frames / n + (i < n_frames % n); /* the first F % n get one more */
        /* the overlap never reaches past the previous chunk's first frame */
        c[i].decode_from = i == 0 ? 0 : first - k > c[i - 1].first ? first - k : c[i - 1].first;
        first += c[i].count;
    }
    for (int i = 0; i < n; i++) {
        c[i].start_us = i == 0 ? 0 : pts_us[c[i].decode_from];
        c[i].end_us = i == n - 1 ? -1 : pts_us[c[i + 1].first];
    }
    *chunks = c;
    *n_out = n;
    return FATHOM_OK;
}
