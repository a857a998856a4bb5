/* ws_frame.c - one WebSocket binary message per result, framed once by wslay and sent as is to
 * every client (server-to-client frames are unmasked, so the bytes are the same for all).
 * Before, each client built its own message and wslay copied it again: two copies of the depth
 * per client per frame (bench_serve.py, 50 clients: p99 +130 % over one client).
 *
 * Message: uint32 LE header length, a JSON header (id, pts_us, capture_ts, done_ts, send_ts,
 * width, height, min, max, units, dtype), then width*height depth values: uint16 (min..max ->
 * 0..65535, little-endian) or float32 (raw). send_ts is when the message was made, once for
 * every client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#include "serve/priv.h"

typedef struct membuf {
    uint8_t *p; /* borrowed: sized for the whole frame */
    size_t n, cap;
} membuf;

static ssize_t mem_send(const uint8_t *data, size_t len, int flags, void *u) {
    membuf *b = u;
    (void)flags;
    if (len > b->cap - b->n) return WSLAY_ERR_NOMEM;
    memcpy(b->p + b->n, data, len);
    b->n += len;
    return (ssize_t)len;
}

static ssize_t no_recv(uint8_t *buf, size_t len, int flags, void *u) {
    (void)buf, (void)len, (void)flags, (void)u;
    return WSLAY_ERR_INVALID_CALLBACK;
}

/* Caller holds f->mu. */
static int make(sv_frame *f, int float32) {
    size_t n = (size_t)f->w * f->h, vb = float32 ? 4 : 2;
    const void *v = float32 ? (const void *)f->depth : (const void *)sv_frame_u16_locked(f);
    if (!v) return -1;
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"id\":%lld,\"pts_us\":%lld,\"capture_ts\":%.6f,\"done_ts\":%.6f,"
                      "\"send_ts\":%.6f,\"width\":%d,\"height\":%d,\"min\":%.9g,\"max\":%.9g,"
                      "\"units\":\"%s\",\"dtype\":\"%s\"}",
                      (long long)f->id, (long long)f->pts_us, f->t_capture, f->t_done, sv_now(),
                      f->w, f->h, f->lo, f->hi, f->metric ? "meters" : "relative disparity",
                      float32 ? "float32" : "uint16");
    size_t total = 4 + (size_t)hl + n * vb;
    uint8_t *m = malloc(total); /* owned here: the payload, framed into f->ws below */
    membuf b = {malloc(total + 14), 0, total + 14}; /* 14: the longest frame header */
    if (!m || !b.p) {
        free(m);
        free(b.p);
        return -1;
    }
    m[0] = (uint8_t)hl, m[1] = (uint8_t)(hl >> 8), m[2] = 0, m[3] = 0;
    memcpy(m + 4, hdr, (size_t)hl);
    memcpy(m + 4 + hl, v, n * vb); /* little-endian hosts only (x86-64, aarch64) */
    struct wslay_frame_callbacks cb = {mem_send, no_recv, NULL};
    wslay_frame_context_ptr fc = NULL;
    struct wslay_frame_iocb io = {1, 0, WSLAY_BINARY_FRAME, total, 0, m, total};
    ssize_t r = -1;
    if (wslay_frame_context_init(&fc, &cb, &b) == 0) r = wslay_frame_send(fc, &io);
    wslay_frame_context_free(fc);
    free(m);
    if (r != (ssize_t)total) {
        free(b.p);
        return -1;
    }
    f->ws[float32] = b.p;
    f->ws_len[float32] = b.n;
    return 0;
}

const uint8_t *sv_frame_ws(sv_frame *f, int float32, size_t *len) {
    float32 = !!float32;
    pthread_mutex_lock(&f->mu);
    if (!f->ws[float32]) make(f, float32);
    const uint8_t *r = f->ws[float32];
    *len = f->ws_len[float32];
    pthread_mutex_unlock(&f->mu);
    return r;
}
