/* prepare.c - the network input (official cubic resize and normalization, as `fathom run`
 * makes it), and the prepare thread: RGB frames of a file played as fast as possible -> their
 * network input -> the analyser's queue.
 *
 * Decoding and preparing on two threads lets the source decode frame n+1 while frame n is
 * prepared, as `fathom run`'s decode workers overlap (bench_serve.py: one thread doing both
 * could not feed the tiny model's engine at 112; it waited for the source 14-19 % of the time).
 * Frames keep their order: one thread takes them from one queue, and none is dropped (the
 * source waits for room). Live frames do not come here (source.c): the source prepares them. */
#include <stdlib.h>

#include "serve/priv.h"

void sv_frame_prepare(sv_server *s, sv_frame *f, int input_size) {
    /* a VDA session prepares its own input (a live switch is caught by the analyser, which
     * checks x_size and the network size). Not under engine_mu: the analyser holds it for
     * the whole forward pass, and waiting for it here serialized preparing with the engine
     * (perf and the stage timers: the source's preparation took longer than the engine) */
    if (atomic_load(&s->video)) return;
    fathom_network_size(f->h, f->w, input_size, &f->nh, &f->nw);
    f->x = malloc((size_t)3 * f->nh * f->nw * sizeof(float));
    if (f->x && fathom_preprocess(f->rgb, f->h, f->w, (size_t)f->w * 3, f->nh, f->nw, f->x) != FATHOM_OK) {
        free(f->x);
        f->x = NULL;
    }
    f->x_size = input_size;
}

void *sv_prepare_main(void *arg) {
    sv_server *s = arg;
    while (!atomic_load(&s->stop)) {
        sv_frame *f = sv_queue_take(&s->prep, 0.2, &s->stop);
        if (!f) continue;
        sv_config cfg;
        sv_get_config(s, &cfg);
        double t = sv_mono();
        sv_frame_prepare(s, f, cfg.input_size);
        sv_stage_busy(s, SV_STAGE_PREPARE, sv_mono() - t);
        /* a file played as fast as possible loses no frame: wait for room */
        while (f->keep && !atomic_load(&s->stop) && !sv_queue_wait_room(&s->in, 0.1)) {
        }
        sv_queue_put(&s->in, f);
        sv_frame_unref(&f);
    }
    return NULL;
}
