/* stream_out.h - the output_url sink: colorized depth frames encoded with libx264 (ultrafast,
 * zerolatency, a keyframe every 15 frames so late viewers join quickly) and published by
 * libavformat: MPEG-TS for udp:// and srt://, FLV for rtmp://, by extension for files. */
#ifndef FATHOM_SERVE_STREAM_OUT_H
#define FATHOM_SERVE_STREAM_OUT_H

#include <stdatomic.h>
#include <stdint.h>

#include "fathom.h"

typedef struct sv_stream sv_stream;

/* Open url for w x h RGB24 frames. Blocking network calls give up when *stop is set. *out
 * owned by the caller (sv_stream_close). */
fathom_status sv_stream_open(const char *url, int w, int h, const atomic_int *stop, sv_stream **out);
/* One frame (h, w, 3); pts_us increasing. */
fathom_status sv_stream_write(sv_stream *st, const uint8_t *rgb, int64_t pts_us);
/* Flush the encoder, write the trailer, close. Accepts NULL. */
void sv_stream_close(sv_stream **st);

#endif
