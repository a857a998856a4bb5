/* engine.h - internals of fathom_engine: the context (borrowed, read-only weights) versus the
 * state (this engine's backend, activations, cached position embeddings, taps).
 *
 * Memory plan (docs/engine.md): one backend arena per engine, laid out for the largest
 * (batch, net_h, net_w) seen so far; the encoder scratch and the DPT scratch share one region
 * (they are never live at the same time), the four normalized feature maps sit behind it. */
#ifndef FATHOM_MODEL_ENGINE_H
#define FATHOM_MODEL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "fathom.h"
#include "model/weights.h"

/* Tap emitter shared by the encoder and the head. */
typedef struct fathom_tap {
    fathom_tap_fn fn; /* NULL: no taps */
    void *user;
    fathom_backend *be;  /* borrowed */
    float *host;         /* owned: staging for device backends, host_cap floats */
    size_t host_cap;
} fathom_tap;

/* The interpolated position embeddings for a gh x gw grid in e->pos (backend memory), made
 * once per grid size (Video Depth Anything's engine shares them: vda_engine.c). */
struct fathom_engine;
fathom_status fathom_engine_ensure_pos(struct fathom_engine *e, int gh, int gw);

/* Calls the tap with backend tensor `t` (downloaded first on device backends). Shape is
 * given as up to 4 dims; ndim says how many are used. */
void fathom_tap_emit(fathom_tap *tap, const char *name, const float *t, int ndim, int64_t d0,
                     int64_t d1, int64_t d2, int64_t d3);

/* Shape-dependent buffer plan (all sizes in floats, offsets into the arena). */
typedef struct fathom_plan {
    int B, H, W, gh, gw, N, L;
    int hk[4], wk[4];       /* spatial size of each reassembled level */
    /* encoder */
    size_t x, y, big, att;  /* residual stream, norm out, qkv / MLP hidden / patches, attn out */
    size_t feat[4];         /* (B, N, D) normalized taken layers; feat[0] > D: see dpt.c */
    /* DPT */
    size_t lrn[4];          /* layer_rn outputs (B, F, hk, wk) */
    size_t work[3];         /* work slots (dpt.c): [0] fusion-sized, [1], [2] head-sized */
    size_t wsize[3];        /* floats in each slot */
    size_t xin, out;        /* device backends only: uploaded input, depth output */
    size_t total;           /* floats */
    size_t scratch_bytes;   /* for the backend's reserve_scratch */
} fathom_plan;

struct fathom_engine {
    const fathom_weights *host_w; /* borrowed: the model's weights */
    fathom_weights w;             /* weights as backend pointers (== host_w on the CPU) */
    fathom_block_weights *dev_blocks; /* owned (device backends): translated block table */
    void *dev_weights;            /* owned (device backends): uploaded weight arena */
    size_t dev_weight_bytes;      /* its size (the arena less what runs on packed weights) */
    fathom_backend *be;           /* owned */
    fathom_engine_params params;

    int cap_b, cap_h, cap_w;      /* reserved shape (elementwise max of all requests) */
    float *arena;                 /* owned, backend memory */
    size_t arena_floats;
    size_t scratch_bytes;         /* reserved in the backend */

    float *pos;                   /* owned, backend memory: (1 + N, D) for pos_gh x pos_gw */
    size_t pos_cap;               /* floats */
    float *pos_host;              /* owned (device backends): host staging for pos */
    int pos_gh, pos_gw;           /* grid the cache holds; 0 = none */

    /* Backends with the optional entries (CUDA, docs/cuda.md): pinned staging, so the input
     * and depth copies run as DMA on the backend's copy queue; forward passes replay a graph
     * per (batch, H, W) */
    float *pin_in, *pin_out;      /* owned, pinned host memory (ops->host_alloc) */
    size_t pin_in_floats, pin_out_floats;
    long long warm[16];           /* graph keys that ran once uncaptured (ring) */
    int n_warm;

    fathom_tap tap;
    struct fathom_dp_state *dp;   /* owned: Depth Pro engines only (depthpro_engine.c) */
};

/* Buffer plan for a shape; FATHOM_ERR_TOO_LARGE when sizes overflow. */
fathom_status fathom_plan_make(const fathom_arch *a, int B, int H, int W, int threads,
                               fathom_plan *p);

#endif
