/* vda_engine.c - fathom_vda: Video Depth Anything over a frame stream.
 *
 * Offline (spec section 5) without holding the video: frames are preprocessed into the 32
 * window slots as they arrive; a full window runs, its depth is resized to the frame size,
 * fitted to the two references (relative models), clamped, cross-faded into the 8 frames
 * still pending from the previous window, and every frame that no later window can touch is
 * emitted at once. Held: window inputs and outputs, 8 pending frames, R0, R1.
 *
 * Streaming (spec section 6): one frame per pass, T = 1; the temporal attention reads the
 * pre-PE LayerNorm outputs cached for frame 0 and a ring of the last 42 frames. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/status.h"
#include "model/model.h"
#include "model/posembed.h"
#include "model/vda_head.h"

#define STRIDE 22
#define OVERLAP 10
#define INTERP 8
#define RING 42                    /* streaming: frames k-41 .. k-1 */

static const int KEYFRAMES[OVERLAP] = {0, 12, 24, 25, 26, 27, 28, 29, 30, 31};

struct fathom_vda {
    const fathom_model *m;       /* borrowed */
    fathom_model base;           /* shallow copy without vda: what the engine is created from */
    fathom_engine *e;            /* owned */
    fathom_vda_params p;
    int metric;
    fathom_vda_emit_fn emit;
    void *user;
    int fh, fw, nh, nw;          /* frame and network size, fixed by the first frame */
    int64_t n_in, n_out;         /* frames pushed, frames emitted */
    fathom_tap tap_user;         /* for the vda.* taps (host data) */
    size_t chunk_floats, row_floats; /* budgets (vda_head.h) */

    /* activations (backend memory): the window plan's arena; the temporal modules' scratch
     * lies in its work region (free while they run), extending the arena if it is larger */
    fathom_vda_plan plan;
    float *arena;                /* owned */
    size_t arena_floats;
    fathom_vda_bufs bufs;
    int chunk[4], mh[4], mw[4];  /* per module: chunk positions and grid */

    /* offline (host) */
    int win;                     /* current window index */
    int fill;                    /* next slot to fill in the current window */
    size_t n_slots, n_net, n_D;  /* floats in slots, net, D (32 frames offline, 1 streaming) */
    float *slots;                /* owned: 32 x (3, nh, nw) */
    float *last;                 /* owned: (3, nh, nw) of the last frame */
    float *net;                  /* owned: 32 x (nh, nw) network output */
    float *D;                    /* owned: 32 x (fh, fw) window output at frame size */
    float *pend;                 /* owned: 8 x (fh, fw) frames 22w+24 .. 22w+31 of the last window */
    float *R0, *R1;              /* owned: (fh, fw) references */
    /* streaming (backend memory) */
    float *cache;                /* owned: (1 + RING) frames x 8 entries */
    size_t cache_floats, entry_off[4][2], frame_floats;
    /* device backends: the temporal weights uploaded once, network input/output staging */
    const fathom_vda_weights *tw; /* borrowed: m->vda (CPU) or &dev_w */
    fathom_vda_weights dev_w;    /* view of dev_arena through the slot table */
    void *dev_arena;             /* owned (backend memory): copy of m->vda->arena */
    float *x_dev, *net_dev;      /* owned (backend memory): n_slots, n_net floats */
};

fathom_vda_params fathom_vda_default_params(void) {
    fathom_vda_params p = {0, 518, -1};
    return p;
}

void fathom_vda_set_tap(fathom_vda *v, fathom_tap_fn fn, void *user) {
    if (!v) return;
    fathom_engine_set_tap(v->e, fn, user);
    v->tap_user.fn = fn;
    v->tap_user.user = user;
}

static size_t fsz(int h, int w) { return (size_t)h * w; }

void fathom_vda_set_budgets(fathom_vda *v, size_t chunk_floats, size_t row_floats) {
    if (!v || v->n_in > 0) return;
    if (chunk_floats) v->chunk_floats = chunk_floats;
    if (row_floats) v->row_floats = row_floats;
}

/* The buffers of one video (made by setup at its first frame). */
static void free_video(fathom_vda *v) {
    if (v->e) {
        const fathom_backend_ops *op = v->e->be->ops;
        op->free(v->e->be, v->arena, v->arena_floats * sizeof(float));
        op->free(v->e->be, v->cache, v->cache_floats * sizeof(float));
        op->free(v->e->be, v->x_dev, v->n_slots * sizeof(float));
        op->free(v->e->be, v->net_dev, v->n_net * sizeof(float));
    }
    size_t in = 3 * fsz(v->nh, v->nw), fr = fsz(v->fh, v->fw);
    fathom_free_sized(v->slots, v->n_slots * sizeof(float));
    fathom_free_sized(v->last, in * sizeof(float));
    fathom_free_sized(v->net, v->n_net * sizeof(float));
    fathom_free_sized(v->D, v->n_D * sizeof(float));
    fathom_free_sized(v->pend, INTERP * fr * sizeof(float));
    fathom_free_sized(v->R0, fr * sizeof(float));
    fathom_free_sized(v->R1, fr * sizeof(float));
}

void fathom_vda_free(fathom_vda **pv) {
    if (!pv || !*pv) return;
    fathom_vda *v = *pv;
    free_video(v);
    if (v->e) v->e->be->ops->free(v->e->be, v->dev_arena, v->m->vda->arena_bytes);
    fathom_free_sized(v->tap_user.host, v->tap_user.host_cap * sizeof(float)); /* device taps */
    fathom_engine_free(&v->e);
    fathom_free_sized(v, sizeof *v);
    *pv = NULL;
}

fathom_status fathom_vda_reset(fathom_vda *v, fathom_vda_emit_fn emit, void *user) {
    if (!v || !emit) return fathom_fail(FATHOM_ERR_INVALID_ARG, "vda: NULL session or emit callback");
    free_video(v);
    /* what fathom_vda_create made is kept: the engine, the uploaded temporal weights, the
     * params, taps and budgets; everything of the last video starts over as at creation */
    fathom_vda keep = *v;
    memset(v, 0, sizeof *v);
    v->m = keep.m, v->base = keep.base, v->e = keep.e, v->p = keep.p, v->metric = keep.metric;
    v->tap_user = keep.tap_user;
    v->chunk_floats = keep.chunk_floats, v->row_floats = keep.row_floats;
    v->dev_w = keep.dev_w, v->dev_arena = keep.dev_arena;
    v->tw = keep.tw; /* m->vda, or &v->dev_w (same address, restored above) */
    v->emit = emit, v->user = user;
    return FATHOM_OK;
}

/* The temporal ops (ops.def) on top of the DA-V2 ones the engine checked. */
static fathom_status check_temporal_ops(const fathom_backend *be) {
    static const fathom_op_id used[] = {FATHOM_OP_group_norm, FATHOM_OP_nchw_to_seq,
                                        FATHOM_OP_seq_to_nchw_add, FATHOM_OP_add_pe,
                                        FATHOM_OP_geglu, FATHOM_OP_copy_rows};
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        if (!fathom_backend_supports(be, used[i]))
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "vda: the %s backend has no kernel for op '%s'",
                               be->ops->name, fathom_op_names[used[i]]);
    return FATHOM_OK;
}

/* Device backends: the temporal arena once, and a view of it through the slot table (the
 * rebase refuses a field left pointing at host memory). */
static fathom_status upload_temporal(fathom_vda *v) {
    fathom_backend *be = v->e->be;
    const fathom_vda_weights *h = v->m->vda;
    FATHOM_TRY(be->ops->alloc(be, &v->dev_arena, h->arena_bytes));
    FATHOM_TRY(be->ops->upload(be, v->dev_arena, h->arena, h->arena_bytes));
    FATHOM_TRY(fathom_vda_weights_rebase(h, v->dev_arena, &v->dev_w));
    v->tw = &v->dev_w;
    return FATHOM_OK;
}

fathom_status fathom_vda_create(const fathom_model *m, const fathom_engine_params *ep,
                                const fathom_vda_params *vp, fathom_vda_emit_fn emit,
                                void *user, fathom_vda **out) {
    if (!out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "vda: NULL output pointer");
    *out = NULL;
    if (!m || !m->w || !emit) return fathom_fail(FATHOM_ERR_INVALID_ARG, "vda: no model or no emit callback");
    if (!m->vda)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED,
                           "%s: a Depth Anything V2 (image) checkpoint without temporal modules; video depth "
                           "with Video Depth Anything needs video_depth_anything_{vits,vitb,vitl}.pth "
                           "(or metric_video_depth_anything_*.pth)", m->path);
    fathom_vda *v = fathom_calloc(sizeof *v); /* owned by the caller on success */
    if (!v) return fathom_fail(FATHOM_ERR_NOMEM, "vda: out of memory");
    v->m = m;
    v->base = *m;
    v->base.vda = NULL;
    v->p = vp ? *vp : fathom_vda_default_params();
    if (v->p.input_size <= 0) v->p.input_size = 518;
    v->metric = v->p.metric >= 0 ? v->p.metric != 0 : m->vda_metric;
    v->emit = emit;
    v->user = user;
    v->tw = m->vda;
    v->chunk_floats = FATHOM_VDA_CHUNK_FLOATS;
    v->row_floats = FATHOM_VDA_ROW_FLOATS;
    fathom_status s = fathom_engine_create(&v->base, ep, &v->e);
    if (s == FATHOM_OK) s = check_temporal_ops(v->e->be);
    if (s == FATHOM_OK && v->e->be->kind != FATHOM_DEVICE_CPU) s = upload_temporal(v);
    if (s != FATHOM_OK) {
        fathom_vda_free(&v);
        return s;
    }
    v->tap_user.be = v->e->be;
    *out = v;
    return FATHOM_OK;
}

/* Wide videos: the official run.py lowers input_size when max/min > 1.78. */
static int video_input_size(int input_size, int h, int w) {
    double ratio = (double)(h > w ? h : w) / (h < w ? h : w);
    if (ratio <= 1.78) return input_size;
    int s = (int)(input_size * 1.777 / ratio);
    return (int)nearbyint(s / 14.0) * 14;
}

/* First frame: sizes, host buffers, temporal scratch, streaming cache. */
static fathom_status setup(fathom_vda *v, int h, int w) {
    v->fh = h, v->fw = w;
    int is = video_input_size(v->p.input_size, h, w);
    if (is < 14) is = 14;
    fathom_network_size(h, w, is, &v->nh, &v->nw);
    if (v->nh <= 0 || v->nw <= 0)
        return fathom_fail(FATHOM_ERR_SHAPE, "vda: cannot size the network input for %d x %d frames", w, h);
    const fathom_arch *a = &v->m->w->arch;
    const int T = v->p.streaming ? 1 : FATHOM_VDA_T;
    FATHOM_TRY(fathom_vda_plan_make(a, T, v->nh, v->nw, v->e->be->threads,
                                    v->tap_user.fn ? 0 : v->chunk_floats,
                                    &v->plan));
    const fathom_plan pl = v->plan.enc;
    /* the engine keeps the position embeddings and the op scratch; one frame's arena */
    FATHOM_TRY(fathom_engine_reserve(v->e, 1, v->nh, v->nw));
    const int hh[4] = {pl.gh, pl.hk[3], pl.gh, 2 * pl.gh}, ww[4] = {pl.gw, pl.wk[3], pl.gw, 2 * pl.gw};
    size_t gn = 0, rows = 0;
    for (int k = 0; k < 4; k++) {
        const int C = v->m->vda->mm[k].C, HW = hh[k] * ww[k];
        v->mh[k] = hh[k], v->mw[k] = ww[k];
        int chunk = (int)(v->row_floats / ((size_t)FATHOM_VDA_T * C));
        if (chunk < 1) chunk = 1;
        if (chunk > HW || v->tap_user.fn) chunk = HW; /* taps see whole tensors */
        v->chunk[k] = chunk;
        size_t g = (size_t)T * C * HW, r = fathom_vda_rows_floats(chunk, C);
        if (g > gn) gn = g;
        if (r > rows) rows = r;
    }
    const fathom_backend_ops *op = v->e->be->ops;
    void *mem = NULL;
    const size_t tneed = gn + 21 * rows;
    v->arena_floats = v->plan.work_floats < tneed ? v->plan.work + tneed : v->plan.total;
    FATHOM_TRY(op->alloc(v->e->be, &mem, v->arena_floats * sizeof(float)));
    v->arena = mem;
    float *q = v->arena + v->plan.work;
    v->bufs.gn = q, q += gn;
    float **one[6] = {&v->bufs.r, &v->bufs.u, &v->bufs.tmp, &v->bufs.row, &v->bufs.v, &v->bufs.att};
    for (int i = 0; i < 6; i++) *one[i] = q, q += rows;
    v->bufs.qkv = q, q += 3 * rows;
    v->bufs.hid = q, q += 8 * rows;
    v->bufs.gg = q;
    const size_t in = 3 * fsz(v->nh, v->nw), fr = fsz(h, w);
    if (v->p.streaming) {
        size_t off = 0;
        for (int k = 0; k < 4; k++)
            for (int b = 0; b < 2; b++)
                v->entry_off[k][b] = off, off += (size_t)hh[k] * ww[k] * v->m->vda->mm[k].C;
        v->frame_floats = off;
        v->cache_floats = (1 + RING) * off;
        FATHOM_TRY(op->alloc(v->e->be, &mem, v->cache_floats * sizeof(float)));
        v->cache = mem;
    }
    const size_t frames = v->p.streaming ? 1 : FATHOM_VDA_T;
    v->n_slots = frames * in, v->n_net = frames * fsz(v->nh, v->nw), v->n_D = frames * fr;
    v->slots = fathom_alloc(v->n_slots * sizeof(float));
    v->net = fathom_alloc(v->n_net * sizeof(float));
    v->D = fathom_alloc(v->n_D * sizeof(float));
    if (!v->slots || !v->net || !v->D) return fathom_fail(FATHOM_ERR_NOMEM, "vda: out of memory for %d x %d frames", w, h);
    if (v->e->be->kind != FATHOM_DEVICE_CPU) { /* network input and output on the device */
        FATHOM_TRY(op->alloc(v->e->be, &mem, v->n_slots * sizeof(float)));
        v->x_dev = mem;
        FATHOM_TRY(op->alloc(v->e->be, &mem, v->n_net * sizeof(float)));
        v->net_dev = mem;
    }
    if (v->p.streaming) return FATHOM_OK;
    v->last = fathom_alloc(in * sizeof(float));
    v->pend = fathom_alloc(INTERP * fr * sizeof(float));
    v->R0 = fathom_alloc(fr * sizeof(float));
    v->R1 = fathom_alloc(fr * sizeof(float));
    if (!v->last || !v->pend || !v->R0 || !v->R1)
        return fathom_fail(FATHOM_ERR_NOMEM, "vda: out of memory for %d x %d frames", w, h);
    return FATHOM_OK;
}

/* x (T, 3, nh, nw) -> net (T, nh, nw); io: streaming cache views or NULL. */
static fathom_status run_net(fathom_vda *v, const float *x, int T, float *net,
                             const fathom_vda_stream_io *io) {
    fathom_engine *e = v->e;
    if (T != v->plan.T) return fathom_fail(FATHOM_ERR_INTERNAL, "vda: %d frames for a %d-frame plan", T, v->plan.T);
    FATHOM_TRY(fathom_engine_ensure_pos(e, v->plan.enc.gh, v->plan.enc.gw));
    const fathom_backend_ops *op = e->be->ops;
    const int device = e->be->kind != FATHOM_DEVICE_CPU;
    const size_t nin = (size_t)T * 3 * fsz(v->nh, v->nw), nout = (size_t)T * fsz(v->nh, v->nw);
    if (device) FATHOM_TRY(op->upload(e->be, v->x_dev, x, nin * sizeof(float)));
    fathom_vda_forward(e->be, &e->w, v->tw, &v->plan, v->arena, device ? v->x_dev : x, e->pos,
                       device ? v->net_dev : net, &v->bufs, v->chunk, io, &e->tap);
    FATHOM_TRY(op->sync(e->be));
    if (device) FATHOM_TRY(op->download(e->be, net, v->net_dev, nout * sizeof(float)));
    return FATHOM_OK;
}

static fathom_status emit(fathom_vda *v, const float *depth) {
    fathom_status s = v->emit(v->user, v->n_out, depth, v->fh, v->fw);
    v->n_out++;
    return s;
}

/* ---------------------------------------------------------------- offline */

/* Least squares s * c + t ~ r over the two fit frames, sums in double (spec section 5). */
static void fit(const float *c0, const float *c1, const float *r0, const float *r1, size_t n,
                float *s, float *t) {
    double a00 = 0, a01 = 0, b0 = 0, b1 = 0;
    const float *cs[2] = {c0, c1}, *rs[2] = {r0, r1};
    for (int f = 0; f < 2; f++)
        for (size_t i = 0; i < n; i++) {
            double c = cs[f][i], r = rs[f][i];
            a00 += c * c, a01 += c, b0 += c * r, b1 += r;
        }
    double a11 = 2.0 * (double)n, det = a00 * a11 - a01 * a01;
    if (det == 0.0) {
        *s = 1.0f, *t = 0.0f;
        return;
    }
    *s = (float)((a11 * b0 - a01 * b1) / det);
    *t = (float)((-a01 * b0 + a00 * b1) / det);
}

static fathom_status run_window(fathom_vda *v, int64_t total) {
    const size_t fr = fsz(v->fh, v->fw), nn = fsz(v->nh, v->nw);
    FATHOM_TRY(run_net(v, v->slots, FATHOM_VDA_T, v->net, NULL));
    for (int j = 0; j < FATHOM_VDA_T; j++)
        fathom_resize_depth(v->net + j * nn, v->nh, v->nw, v->D + j * fr, v->fh, v->fw);
    if (v->tap_user.fn) {
        int64_t sh[3] = {FATHOM_VDA_T, v->fh, v->fw};
        v->tap_user.fn(v->tap_user.user, "vda.window_raw", v->D, 3, sh);
    }
    const int w = v->win;
    const int64_t base = (int64_t)STRIDE * w;
    float st[2] = {1.0f, 0.0f};
    if (w == 0) {
        memcpy(v->R0, v->D, fr * sizeof(float));
        memcpy(v->R1, v->D + 12 * fr, fr * sizeof(float));
    } else {
        if (!v->metric) fit(v->D, v->D + fr, v->R0, v->R1, fr, &st[0], &st[1]);
        for (int j = 0; j < FATHOM_VDA_T; j++) { /* aligned, clamped at 0 */
            float *d = v->D + j * fr;
            for (size_t i = 0; i < fr; i++) {
                float y = st[0] * d[i] + st[1];
                d[i] = y < 0.0f ? 0.0f : y;
            }
        }
        for (int i = 0; i < INTERP; i++) { /* cross-fade frames 22w+2+i */
            const float a = (float)i * (1.0f / 7.0f);
            float *y = v->pend + i * fr;
            const float *n = v->D + (2 + i) * fr;
            for (size_t k = 0; k < fr; k++) y[k] = y[k] * (1.0f - a) + n[k] * a;
            if (base + 2 + i < total && v->n_out == base + 2 + i) FATHOM_TRY(emit(v, y));
        }
        memcpy(v->R1, v->D + 12 * fr, fr * sizeof(float));
    }
    if (v->tap_user.fn) {
        int64_t s2[1] = {2};
        v->tap_user.fn(v->tap_user.user, "vda.scale_shift", st, 1, s2);
    }
    /* frames no later window touches: window 0: 0..23, window w: 22w+10..22w+23 */
    for (int j = w == 0 ? 0 : OVERLAP; j < FATHOM_VDA_T - INTERP; j++)
        if (base + j < total && v->n_out == base + j) FATHOM_TRY(emit(v, v->D + j * fr));
    memcpy(v->pend, v->D + (FATHOM_VDA_T - INTERP) * fr, INTERP * fr * sizeof(float));
    /* next window: slots 0..9 <- this window's KEYFRAMES (KEYFRAMES[j] >= j: ascending is safe) */
    const size_t in = 3 * nn;
    for (int j = 0; j < OVERLAP; j++)
        if (KEYFRAMES[j] != j) memcpy(v->slots + j * in, v->slots + KEYFRAMES[j] * in, in * sizeof(float));
    v->win++;
    v->fill = OVERLAP;
    return FATHOM_OK;
}

/* ---------------------------------------------------------------- streaming */

static float *entry(fathom_vda *v, int64_t frame, int m, int a) {
    size_t slot = frame == 0 ? 0 : 1 + (size_t)((frame - 1) % RING);
    return v->cache + slot * v->frame_floats + v->entry_off[m][a];
}

/* Frame ids at PE positions 0..30 for step k >= 1 (spec section 6). */
static void context(int64_t k, int64_t ids[FATHOM_VDA_T - 1]) {
    int n = 0;
    if (k <= 29) {
        for (int64_t i = 0; i < 32 - k; i++) ids[n++] = 0;
        for (int64_t f = 1; f < k; f++) ids[n++] = f;
    } else {
        ids[n++] = 0;
        ids[n++] = k >= 42 ? k - 41 : 0;
        for (int64_t f = k - 29; f < k; f++) ids[n++] = f;
    }
}

static fathom_status stream_frame(fathom_vda *v, const float *x) {
    const int64_t k = v->n_in;
    fathom_vda_stream_io io[4];
    int64_t ids[FATHOM_VDA_T - 1];
    if (k > 0) context(k, ids);
    for (int m = 0; m < 4; m++) {
        io[m].nctx = k > 0 ? FATHOM_VDA_T - 1 : 0;
        for (int a = 0; a < 2; a++) {
            io[m].store[a] = entry(v, k, m, a);
            for (int s = 0; k > 0 && s < FATHOM_VDA_T - 1; s++) io[m].ctx[a][s] = entry(v, ids[s], m, a);
        }
    }
    FATHOM_TRY(run_net(v, x, 1, v->net, io));
    if (v->tap_user.fn)
        for (int m = 0; m < 4; m++)
            for (int a = 0; a < 2; a++) {
                char name[32];
                snprintf(name, sizeof name, "cache.mm%d.attn%d", m, a);
                fathom_tap_emit(&v->tap_user, name, entry(v, k, m, a), 2,
                                (int64_t)v->mh[m] * v->mw[m], v->m->vda->mm[m].C, 0, 0); /* backend memory */
            }
    fathom_resize_depth(v->net, v->nh, v->nw, v->D, v->fh, v->fw);
    return emit(v, v->D);
}

/* ---------------------------------------------------------------- frames in */

typedef struct push_call {
    fathom_vda *v;
    const uint8_t *rgb;
    int height, width;
    size_t stride;
} push_call;

static fathom_status push_frame(fathom_vda *v, const uint8_t *rgb, int height, int width,
                                size_t stride);
static fathom_status push_entry(void *arg) {
    const push_call *c = arg;
    return push_frame(c->v, c->rgb, c->height, c->width, c->stride);
}
static fathom_status finish_entry(void *arg);

/* BLAS stays serial outside the backend's own regions (core/blas.h) */
fathom_status fathom_vda_push(fathom_vda *v, const uint8_t *rgb, int height, int width,
                              size_t stride) {
    if (!v || !rgb) return fathom_fail(FATHOM_ERR_INVALID_ARG, "vda: NULL %s", !v ? "session" : "frame");
    push_call c = {v, rgb, height, width, stride};
    return fathom_blas_serial_call(push_entry, &c);
}

fathom_status fathom_vda_finish(fathom_vda *v) {
    if (!v) return fathom_fail(FATHOM_ERR_INVALID_ARG, "vda: NULL session");
    return fathom_blas_serial_call(finish_entry, v);
}

static fathom_status push_frame(fathom_vda *v, const uint8_t *rgb, int height, int width,
                                size_t stride) {
    if (v->n_in == 0) {
        FATHOM_TRY(setup(v, height, width));
    } else if (height != v->fh || width != v->fw) {
        return fathom_fail(FATHOM_ERR_SHAPE,
                           "vda: frame %lld is %d x %d but the video started at %d x %d (Video Depth "
                           "Anything needs one frame size per video)",
                           (long long)v->n_in, width, height, v->fw, v->fh);
    }
    const size_t in = 3 * fsz(v->nh, v->nw);
    float *x = v->slots + (v->p.streaming ? 0 : (size_t)v->fill * in);
    FATHOM_TRY(fathom_preprocess(rgb, height, width, stride, v->nh, v->nw, x));
    if (v->p.streaming) {
        fathom_status s = stream_frame(v, x);
        v->n_in++;
        return s;
    }
    memcpy(v->last, x, in * sizeof(float));
    v->n_in++;
    if (++v->fill == FATHOM_VDA_T) return run_window(v, INT64_MAX);
    return FATHOM_OK;
}

static fathom_status finish_entry(void *arg) {
    fathom_vda *v = arg;
    const int64_t L = v->n_in;
    if (v->p.streaming || L == 0) return FATHOM_OK;
    const size_t in = 3 * fsz(v->nh, v->nw), fr = fsz(v->fh, v->fw);
    /* the padded windows that still change a frame < L (official: ceil(L/22) windows; a
     * window w only writes frames >= 22w+2) */
    while (v->win == 0 || (int64_t)STRIDE * v->win + 2 < L) {
        for (; v->fill < FATHOM_VDA_T; v->fill++) memcpy(v->slots + (size_t)v->fill * in, v->last, in * sizeof(float));
        FATHOM_TRY(run_window(v, L));
    }
    /* pending frames of the last window, then nothing else is held */
    const int64_t base = (int64_t)STRIDE * (v->win - 1);
    for (int i = 0; i < INTERP; i++)
        if (base + FATHOM_VDA_T - INTERP + i < L && v->n_out == base + FATHOM_VDA_T - INTERP + i)
            FATHOM_TRY(emit(v, v->pend + i * fr));
    if (v->n_out != L)
        return fathom_fail(FATHOM_ERR_INTERNAL, "vda: emitted %lld of %lld frames", (long long)v->n_out, (long long)L);
    return FATHOM_OK;
}
