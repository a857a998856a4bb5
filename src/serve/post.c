/* post.c - the post stage: the analyser's network output -> depth at the frame's size and its
 * min..max -> the sinks' slot, the recording / stream queue and the WebSocket and MJPEG
 * wakeups. On its own thread so the analyser's next forward pass runs beside it (as
 * `fathom run`'s write stage does); the sinks' encodings (uint16, colormap, JPEG) are made
 * once per frame, lazily, by the first sink that needs them (frame.c). */
#include <stdlib.h>

#include "media/normalize.h"
#include "serve/priv.h"

void *sv_post_main(void *arg) {
    sv_server *s = arg;
    while (!atomic_load(&s->stop)) {
        sv_frame *f = sv_queue_take(&s->post, 0.2, &s->stop);
        if (!f) continue;
        double t = sv_mono();
        size_t n = (size_t)f->w * f->h;
        if (!f->depth) {
            f->depth = malloc(n * sizeof(float));
            if (!f->depth) {
                sv_frame_unref(&f);
                continue;
            }
            fathom_resize_depth(f->net, f->nh, f->nw, f->depth, f->h, f->w);
        }
        free(f->net);
        f->net = NULL;
        fathom_norm_range(f->depth, n, NULL, &f->lo, &f->hi);
        sv_stage_busy(s, SV_STAGE_POST, sv_mono() - t);
        sv_slot_put(&s->out, f);
        sv_config cfg;
        sv_get_config(s, &cfg);
        if (cfg.record[0] || cfg.output_url[0]) sv_outputs_push(s, f);
        sv_frame_unref(&f);
        sv_ws_notify_all(s);
        sv_mjpeg_notify(s);
    }
    return NULL;
}
