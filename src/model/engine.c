/* engine.c - fathom_engine: backend, activation arena, position-embedding cache, taps.
 *
 * Context vs state: the fathom_model (weights) is borrowed and read-only, so many engines can
 * share one model; everything a forward pass writes lives here. Reserve lays the arena out for
 * the elementwise-largest (batch, net_h, net_w) requested so far; every buffer size grows
 * monotonically with each of them, so any smaller shape fits the same arena and a forward pass
 * allocates nothing. */
#include "model/engine.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/status.h"
#include "cluster/sim_engine.h" /* FATHOM_SIM_ENGINE test builds */
#include "model/depthpro_engine.h"
#include "model/dpt.h"
#include "model/model.h"
#include "model/posembed.h"
#include "model/quant_io.h"
#include "model/vit.h"

#define ALIGN_F 16 /* floats: 64-byte alignment for every buffer */

static size_t up16(size_t n) { return (n + ALIGN_F - 1) / ALIGN_F * ALIGN_F; }
static size_t maxz(size_t a, size_t b) { return a > b ? a : b; }

/* Captured graphs replay the arena and position-buffer pointers they recorded: drop them
 * before either buffer is freed. */
static void drop_graphs(fathom_engine *e) {
    if (e->be->ops->graph_reset) e->be->ops->graph_reset(e->be);
}

/* Pinned staging for the input and depth copies (backends with host_alloc). */
static void free_staging(fathom_engine *e) {
    const fathom_backend_ops *op = e->be->ops;
    if (op->host_free) {
        op->host_free(e->be, e->pin_in);
        op->host_free(e->be, e->pin_out);
    }
    e->pin_in = e->pin_out = NULL, e->pin_in_floats = e->pin_out_floats = 0;
}

static fathom_status reserve_staging(fathom_engine *e, size_t n_out) {
    const fathom_backend_ops *op = e->be->ops;
    if (!op->host_alloc || n_out <= e->pin_out_floats) return FATHOM_OK;
    free_staging(e);
    void *in = NULL, *out = NULL;
    fathom_status s = op->host_alloc(e->be, &in, 3 * n_out * sizeof(float));
    if (s == FATHOM_OK) s = op->host_alloc(e->be, &out, n_out * sizeof(float));
    if (s != FATHOM_OK) {
        if (op->host_free) op->host_free(e->be, in);
        return fathom_fail(s, "engine: cannot pin %.1f MiB of host staging for %zu pixels",
                           n_out * 16.0 / 1048576.0, n_out);
    }
    e->pin_in = in, e->pin_out = out;
    e->pin_in_floats = 3 * n_out, e->pin_out_floats = n_out;
    return FATHOM_OK;
}

static const char *weight_format_name(fathom_weight_format f) {
    return f == FATHOM_WEIGHTS_INT8 ? "int8" : f == FATHOM_WEIGHTS_Q4 ? "q4" : "default";
}

fathom_engine_params fathom_engine_default_params(void) {
    fathom_engine_params p = {FATHOM_DEVICE_CPU, 0, 0, FATHOM_PRECISION_DEFAULT, 0,
                              FATHOM_WEIGHTS_DEFAULT, 0};
    return p;
}

fathom_status fathom_plan_make(const fathom_arch *a, int B, int H, int W, int threads,
                               fathom_plan *p) {
    memset(p, 0, sizeof *p);
    const int P = a->patch;
    if (B < 1 || H < P || W < P || H % P || W % P)
        return fathom_fail(FATHOM_ERR_SHAPE,
                           "engine: network input %d x %d x %d (batch x H x W) must be positive "
                           "multiples of the patch size %d",
                           B, H, W, P);
    /* every buffer is at most B * H * W * (a few thousand) floats: bound that product so no
     * size_t arithmetic below can overflow, and refuse absurd requests early */
    if ((double)B * H * W > (double)(1ull << 34) || H > (1 << 20) || W > (1 << 20))
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "engine: batch %d of %d x %d is too large", B,
                           H, W);
    const size_t D = a->embed_dim, F = a->features, Bz = B;
    p->B = B, p->H = H, p->W = W;
    p->gh = H / P, p->gw = W / P;
    p->N = p->gh * p->gw, p->L = p->N + 1;
    p->hk[0] = 4 * p->gh, p->wk[0] = 4 * p->gw;
    p->hk[1] = 2 * p->gh, p->wk[1] = 2 * p->gw;
    p->hk[2] = p->gh, p->wk[2] = p->gw;
    p->hk[3] = (p->gh - 1) / 2 + 1, p->wk[3] = (p->gw - 1) / 2 + 1;
    const size_t N = p->N, L = p->L, HW = (size_t)H * W;

    /* encoder region */
    size_t big = maxz(maxz(3 * D, (size_t)a->mlp_hidden) * L, N * 3 * P * P);
    size_t off = 0;
    p->x = off, off += up16(Bz * L * D);
    p->y = off, off += up16(Bz * L * D);
    p->att = off, off += up16(Bz * L * D);
    p->big = off, off += up16(Bz * big);
    size_t enc_end = off;

    /* DPT region, overlapping the encoder region (the encoder is done when it starts) */
    /* slot 0: reassemble and fusion tensors (largest: refinenet1's F x 8gh x 8gw);
     * slots 1, 2 also the output head's (F/2 x 8gh x 8gw, F/2 x H x W, 32 x H x W) */
    size_t ws = maxz(D * N, F * 4 * (size_t)p->hk[0] * p->wk[0]);
    for (int k = 0; k < 4; k++) {
        ws = maxz(ws, (size_t)a->out_ch[k] * N); /* projection */
        ws = maxz(ws, (size_t)a->out_ch[k] * p->hk[k] * p->wk[k]);
    }
    size_t wl = maxz(ws, maxz((size_t)a->head_hidden, F / 2) * HW);
    p->wsize[0] = Bz * ws, p->wsize[1] = p->wsize[2] = Bz * wl;
    off = 0;
    for (int k = 0; k < 4; k++) p->lrn[k] = off, off += up16(Bz * F * p->hk[k] * p->wk[k]);
    for (int k = 0; k < 3; k++) p->work[k] = off, off += up16(p->wsize[k]);
    off = maxz(off, enc_end);

    /* features behind the shared region: feat[0] - D stays inside the arena (dpt.c) */
    for (int k = 0; k < 4; k++) p->feat[k] = off, off += up16(Bz * N * D);
    p->xin = off, off += up16(Bz * 3 * HW);
    p->out = off, off += up16(Bz * HW);
    p->total = off;

    /* op scratch: per-thread attention tiles (64 queries x L keys, twice) and a conv im2col
     * tile of 64 output pixels x the widest 3x3 input */
    size_t t = threads > 0 ? (size_t)threads : 1;
    size_t cmax = maxz(maxz(F, D), (size_t)a->out_ch[3]);
    p->scratch_bytes = sizeof(float) * t * (2 * 64 * L + 64 * 9 * cmax);
    return FATHOM_OK;
}

void fathom_tap_emit(fathom_tap *tap, const char *name, const float *t, int ndim, int64_t d0,
                     int64_t d1, int64_t d2, int64_t d3) {
    if (!tap->fn) return;
    int64_t shape[4] = {d0, d1, d2, d3};
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (tap->be->kind == FATHOM_DEVICE_CPU) {
        tap->fn(tap->user, name, t, ndim, shape);
        return;
    }
    /* device backends: taps are a debugging aid, so staging grows here on demand */
    if (n > tap->host_cap) {
        fathom_free_sized(tap->host, tap->host_cap * sizeof(float));
        tap->host = fathom_alloc(n * sizeof(float));
        tap->host_cap = tap->host ? n : 0;
        if (!tap->host) return;
    }
    if (tap->be->ops->download(tap->be, tap->host, t, n * sizeof(float)) != FATHOM_OK) return;
    tap->fn(tap->user, name, tap->host, ndim, shape);
}

static fathom_status check_arch(const fathom_arch *a) {
    if (a->swiglu)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED,
                           "engine: SwiGLU MLP (%s) is not supported by the forward pass", a->name);
    if (a->embed_dim <= 0 || a->heads <= 0 || a->embed_dim % a->heads || a->depth <= 0 ||
        a->patch <= 0 || a->pos_grid <= 0 || a->features < 2 || a->features % 2 ||
        a->head_hidden <= 0 || a->mlp_hidden <= 0)
        return fathom_fail(FATHOM_ERR_FORMAT, "engine: inconsistent architecture '%s'", a->name);
    for (int k = 0; k < 4; k++) {
        if (a->layer_idx[k] < 0 || a->layer_idx[k] >= a->depth ||
            (k > 0 && a->layer_idx[k] <= a->layer_idx[k - 1]))
            return fathom_fail(FATHOM_ERR_FORMAT,
                               "engine: layer indices %d,%d,%d,%d must increase within %d blocks",
                               a->layer_idx[0], a->layer_idx[1], a->layer_idx[2],
                               a->layer_idx[3], a->depth);
        if (a->out_ch[k] <= 0)
            return fathom_fail(FATHOM_ERR_FORMAT, "engine: out_channels[%d] = %d", k,
                               a->out_ch[k]);
    }
    return FATHOM_OK;
}

/* Device backends: upload the weight arena once (less the fp32 copies of what runs on packed
 * int8 / q4 weights) and point a copy of the layout into it (quant_io_device.c). */
static fathom_status upload_weights(fathom_engine *e) {
    const fathom_weights *h = e->host_w;
    e->dev_blocks = fathom_alloc(sizeof(fathom_block_weights) * h->arch.depth);
    if (!e->dev_blocks) return fathom_fail(FATHOM_ERR_NOMEM, "engine: block table");
    return fathom_quant_device_upload(e->be, h, &e->params, &e->dev_weights, &e->dev_weight_bytes, &e->w,
                                      e->dev_blocks);
}

/* release_fp32: the model's fp32 copies of what the backend packed go back to the OS; the
 * packed set is the model's (weights.h, share), so its later engines of that format use it */
static fathom_status release_packed(fathom_engine *e, fathom_weights *w) {
    size_t n = e->be->ops->packed_sources(e->be, NULL, NULL, 0);
    if (!n) return FATHOM_OK;
    const float **src = fathom_alloc(n * sizeof *src); /* owned here */
    size_t *floats = fathom_alloc(n * sizeof *floats); /* owned here */
    fathom_status s = src && floats ? FATHOM_OK : fathom_fail(FATHOM_ERR_NOMEM, "engine: release table");
    if (s == FATHOM_OK) {
        e->be->ops->packed_sources(e->be, src, floats, n);
        s = fathom_weights_release(w, src, floats, n);
    }
    fathom_free_sized(src, src ? n * sizeof *src : 0);
    fathom_free_sized(floats, floats ? n * sizeof *floats : 0);
    return s;
}

/* A model loaded from a quantized file (`fathom quantize`) runs in the file's format (on a
 * device: its matrices dequantized into the fp32 slots, quant_io_device.c): the defaults
 * become it; another format is refused (its fp32 tensors are not there). */
static fathom_status quantized_file_format(const fathom_model *m, fathom_engine_params *ep) {
    int k = m->w->share ? fathom_packed_share_loaded(m->w->share) : -1;
    if (k < 0) return FATHOM_OK;
    static const char *const flag[] = {"--precision bf16", "--weights int8", "--weights q4"};
    fathom_weight_format f = k == FATHOM_PACKED_Q4 ? FATHOM_WEIGHTS_Q4 : k == FATHOM_PACKED_INT8 ? FATHOM_WEIGHTS_INT8
                                                                                              : FATHOM_WEIGHTS_DEFAULT;
    if (ep->weights == FATHOM_WEIGHTS_DEFAULT && ep->precision == FATHOM_PRECISION_DEFAULT) {
        ep->weights = f;
        if (k == FATHOM_PACKED_BF16) ep->precision = FATHOM_PRECISION_BF16;
        return FATHOM_OK;
    }
    if (ep->weights == f && (k != FATHOM_PACKED_BF16 || ep->precision == FATHOM_PRECISION_BF16)) return FATHOM_OK;
    return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: the file holds quantized weights (%s) without their fp32 "
                       "copies: run it with %s or no format flag, or use the fp32 model", m->path, flag[k], flag[k]);
}

fathom_status fathom_engine_params_resolve(const fathom_model *m, fathom_engine_params *ep) {
    if (!m || !ep) return fathom_fail(FATHOM_ERR_INVALID_ARG, "engine params: NULL model or params");
    return m->w && !m->dp ? quantized_file_format(m, ep) : FATHOM_OK;
}

/* The ops the Depth Anything V2 forward pass (vit.c, dpt.c) calls: refuse a backend lacking
 * one at create, not with a NULL call mid-pass. */
static fathom_status check_ops(const fathom_backend *be) {
    static const fathom_op_id used[] = {
        FATHOM_OP_linear,          FATHOM_OP_linear_residual, FATHOM_OP_layernorm,
        FATHOM_OP_attention,       FATHOM_OP_patchify,        FATHOM_OP_assemble_tokens,
        FATHOM_OP_tokens_to_nchw,  FATHOM_OP_conv2d,          FATHOM_OP_conv_transpose,
        FATHOM_OP_resize_bilinear, FATHOM_OP_add,             FATHOM_OP_depth_act,
        FATHOM_OP_ln_linear,       FATHOM_OP_ln_mlp_residual, FATHOM_OP_dpt_head_tail,
        FATHOM_OP_conv2d_resized,  FATHOM_OP_dpt_rcu,
    };
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        if (!fathom_backend_supports(be, used[i]))
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "engine: the %s backend has no kernel for op '%s'",
                               be->ops->name, fathom_op_names[used[i]]);
    return FATHOM_OK;
}

fathom_status fathom_engine_create(const fathom_model *m, const fathom_engine_params *params,
                                   fathom_engine **out) {
    if (!out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "engine: NULL output pointer");
    *out = NULL;
    if (m && m->dp) return fathom_dp_engine_create(m, params, out); /* Depth Pro */
    if (!m || !m->w) return fathom_fail(FATHOM_ERR_INVALID_ARG, "engine: no model");
    if (m->vda) /* its DPT head needs the temporal modules: src/model/vda_engine.c */
        return fathom_fail(FATHOM_ERR_UNSUPPORTED,
                           "%s: a Video Depth Anything checkpoint: it runs on videos only; for "
                           "images use a Depth Anything V2 model (e.g. the one named small)", m->path);
    FATHOM_TRY(check_arch(&m->w->arch));
    fathom_engine_params ep = params ? *params : fathom_engine_default_params();
    FATHOM_TRY(quantized_file_format(m, &ep));
    /* released fp32 weights read as zeros: only CPU engines of a packed set the model shares
     * (the backend's prepare_weights checks which) may use them */
    size_t gone = fathom_weights_released(m->w);
    const int from_file = m->w->share && fathom_packed_share_loaded(m->w->share) >= 0;
    if (gone && (!m->w->share || (ep.device != FATHOM_DEVICE_CPU && !from_file)))
        return fathom_fail(FATHOM_ERR_INVALID_ARG,
                           "%s: %.1f MiB of this model's fp32 weights were released for its packed CPU "
                           "engines (release_fp32); load the model again for this engine",
                           m->path, gone / 1048576.0);
    fathom_status s = FATHOM_OK;
    fathom_engine *e = fathom_calloc(sizeof *e); /* owned by the caller on success */
    if (!e) return fathom_fail(FATHOM_ERR_NOMEM, "engine: cannot allocate the engine");
    e->params = ep;
    e->host_w = m->w;
    if (e->params.device == FATHOM_DEVICE_CPU)
        s = fathom_backend_cpu_create(e->params.threads, &e->be);
    else if (e->params.device == FATHOM_DEVICE_CUDA)
        s = fathom_backend_cuda_create(e->params.device_index, e->params.precision,
                                       e->params.gpu_mem_limit, &e->be);
    else
        s = fathom_fail(FATHOM_ERR_INVALID_ARG, "engine: unknown device kind %d",
                        (int)e->params.device);
    if (s != FATHOM_OK) goto done;
    if ((s = check_ops(e->be)) != FATHOM_OK) goto done;
    e->tap.be = e->be;
    if (e->be->kind == FATHOM_DEVICE_CPU)
        e->w = *m->w; /* host weights are backend memory already */
    else if ((s = upload_weights(e)) != FATHOM_OK)
        goto done;
    /* reduced-precision weights in the backend's own form (cpu: bf16 / int8 / q4, packed once;
     * a device: int8 / q4 packed on the host in the CPU formats, loaded by upload_weights) */
    if (e->be->kind == FATHOM_DEVICE_CPU && e->be->ops->prepare_weights)
        s = e->be->ops->prepare_weights(e->be, &e->w, e->params.precision, e->params.weights);
    else if (e->be->kind == FATHOM_DEVICE_CPU && e->params.weights != FATHOM_WEIGHTS_DEFAULT)
        s = fathom_fail(FATHOM_ERR_UNSUPPORTED,
                        "engine: the %s backend has no %s weights (the CPU engine only for now)",
                        e->be->ops->name, weight_format_name(e->params.weights));
    if (s == FATHOM_OK && e->params.release_fp32 && e->be->ops->packed_sources)
        s = release_packed(e, m->w); /* once per model (weights_release.c) */
    if (s != FATHOM_OK) goto done;
    *out = e;
    e = NULL;
done:
    fathom_engine_free(&e);
    return s;
}

void fathom_engine_free(fathom_engine **pe) {
    if (!pe || !*pe) return;
    fathom_engine *e = *pe;
    *pe = NULL;
    if (e->dp) { /* Depth Pro */
        fathom_dp_engine_free(e);
        return;
    }
    if (e->be) {
        const fathom_backend_ops *op = e->be->ops;
        op->free(e->be, e->arena, e->arena_floats * sizeof(float));
        op->free(e->be, e->pos, e->pos_cap * sizeof(float));
        op->free(e->be, e->dev_weights, e->dev_weight_bytes);
        free_staging(e);
    }
    fathom_free_sized(e->pos_host, e->pos_cap * sizeof(float));
    fathom_free_sized(e->tap.host, e->tap.host_cap * sizeof(float));
    if (e->dev_blocks)
        fathom_free_sized(e->dev_blocks, sizeof(fathom_block_weights) * e->host_w->arch.depth);
    fathom_backend_free(&e->be);
    fathom_free_sized(e, sizeof *e);
}

fathom_status fathom_engine_reserve(fathom_engine *e, int batch, int net_h, int net_w) {
    if (!e) return fathom_fail(FATHOM_ERR_INVALID_ARG, "engine: NULL engine");
    if (e->dp) return fathom_dp_engine_reserve(e, batch, net_h, net_w); /* Depth Pro */
    const fathom_arch *a = &e->w.arch;
    int B = batch > e->cap_b ? batch : e->cap_b;
    int H = net_h > e->cap_h ? net_h : e->cap_h;
    int W = net_w > e->cap_w ? net_w : e->cap_w;
    fathom_plan p;
    FATHOM_TRY(fathom_plan_make(a, batch, net_h, net_w, e->be->threads, &p)); /* validates */
    FATHOM_TRY(fathom_plan_make(a, B, H, W, e->be->threads, &p));
    const fathom_backend_ops *op = e->be->ops;
    int device = e->be->kind != FATHOM_DEVICE_CPU;
    if (p.total > e->arena_floats) {
        drop_graphs(e);
        op->free(e->be, e->arena, e->arena_floats * sizeof(float));
        e->arena = NULL, e->arena_floats = 0;
        e->cap_b = e->cap_h = e->cap_w = 0;
        void *mem = NULL;
        fathom_status s = op->alloc(e->be, &mem, p.total * sizeof(float));
        if (s != FATHOM_OK)
            return fathom_fail(s, "engine: cannot reserve %.1f MiB of activations for %d x %d x %d",
                               p.total * 4.0 / 1048576.0, B, H, W);
        e->arena = mem, e->arena_floats = p.total;
    }
    size_t pos_need = (size_t)(p.N + 1) * a->embed_dim;
    if (pos_need > e->pos_cap) {
        drop_graphs(e);
        op->free(e->be, e->pos, e->pos_cap * sizeof(float));
        fathom_free_sized(e->pos_host, e->pos_cap * sizeof(float));
        e->pos = NULL, e->pos_host = NULL, e->pos_cap = 0, e->pos_gh = e->pos_gw = 0;
        void *mem = NULL;
        fathom_status s = op->alloc(e->be, &mem, pos_need * sizeof(float));
        if (s != FATHOM_OK)
            return fathom_fail(s, "engine: cannot reserve position embeddings for %d x %d", H, W);
        e->pos = mem;
        if (device && !(e->pos_host = fathom_alloc(pos_need * sizeof(float)))) {
            op->free(e->be, e->pos, pos_need * sizeof(float));
            e->pos = NULL;
            return fathom_fail(FATHOM_ERR_NOMEM, "engine: position embedding staging");
        }
        e->pos_cap = pos_need;
    }
    if (p.scratch_bytes > e->scratch_bytes) {
        FATHOM_TRY(op->reserve_scratch(e->be, p.scratch_bytes));
        e->scratch_bytes = p.scratch_bytes;
    }
    FATHOM_TRY(reserve_staging(e, (size_t)B * H * W)); /* < 2^34 (fathom_plan_make) */
    e->cap_b = B, e->cap_h = H, e->cap_w = W;
    return FATHOM_OK;
}

/* Interpolated position embeddings for the grid, computed once per grid size. */
fathom_status fathom_engine_ensure_pos(fathom_engine *e, int gh, int gw) {
    if (e->pos_gh == gh && e->pos_gw == gw) return FATHOM_OK;
    const fathom_weights *h = e->host_w;
    const int D = h->arch.embed_dim;
    if (e->be->kind == FATHOM_DEVICE_CPU) {
        fathom_posembed_interp(e->pos, h->pos_embed, h->arch.pos_grid, D, gh, gw);
    } else {
        fathom_posembed_interp(e->pos_host, h->pos_embed, h->arch.pos_grid, D, gh, gw);
        FATHOM_TRY(e->be->ops->upload(e->be, e->pos, e->pos_host,
                                      sizeof(float) * (size_t)(1 + gh * gw) * D));
    }
    e->pos_gh = gh, e->pos_gw = gw;
    return FATHOM_OK;
}

static void run_stages(fathom_engine *e, const fathom_plan *p, const float *img, float *out) {
    fathom_vit_forward(e->be, &e->w, p, e->arena, img, e->pos, &e->tap);
    fathom_dpt_forward(e->be, &e->w, p, e->arena, out, &e->tap);
}

/* 1 when `key` already ran uncaptured; otherwise records it and returns 0. */
static int warmed(fathom_engine *e, long long key) {
    const int cap = (int)(sizeof e->warm / sizeof e->warm[0]);
    for (int i = 0; i < e->n_warm && i < cap; i++)
        if (e->warm[i] == key) return 1;
    e->warm[e->n_warm % cap] = key; /* ring: the oldest key goes once all slots are taken */
    e->n_warm = e->n_warm + 1 < 2 * cap ? e->n_warm + 1 : cap; /* stays >= cap once full */
    return 0;
}

/* Backends with graphs replay one per (batch, net_h, net_w). The first pass at a shape runs
 * uncaptured (cuBLASLt plans and heuristic queries happen outside any capture, and a shape
 * seen once costs no capture); the second records the op sequence and launches it; later
 * ones only launch. With a tap set nothing is captured or replayed: a tap downloads mid-pass. */
static fathom_status run_graph(fathom_engine *e, const fathom_plan *p, const float *img,
                               float *out) {
    const fathom_backend_ops *op = e->be->ops;
    if (e->tap.fn || !op->graph_launch || !op->graph_begin || !op->graph_end) {
        run_stages(e, p, img, out);
        return FATHOM_OK;
    }
    long long key = fathom_graph_key(p->B, p->H, p->W);
    fathom_status s = op->graph_launch(e->be, key);
    if (s == FATHOM_ERR_NOT_FOUND && !warmed(e, key)) {
        run_stages(e, p, img, out);
    } else if (s == FATHOM_ERR_NOT_FOUND) {
        FATHOM_TRY(op->graph_begin(e->be));
        run_stages(e, p, img, out);
        FATHOM_TRY(op->graph_end(e->be, key));
        FATHOM_TRY(op->graph_launch(e->be, key));
    } else if (s != FATHOM_OK) {
        return s;
    }
    return FATHOM_OK;
}

/* One path for every backend. Host-memory backends (CPU) read x and write depth directly.
 * Device backends copy through the arena's xin / out; with pinned staging and async copies
 * (optional entries) the copies run as DMA on the backend's copy queue, else plainly. */
static fathom_status forward(fathom_engine *e, const fathom_plan *p, const float *x,
                             float *depth) {
    fathom_backend *be = e->be;
    const fathom_backend_ops *op = be->ops;
    if (be->kind == FATHOM_DEVICE_CPU) {
        run_stages(e, p, x, depth);
        return op->sync(be);
    }
    const size_t n_out = (size_t)p->B * p->H * p->W, n_in = 3 * n_out;
    if (op->host_alloc && n_out > e->pin_out_floats) /* an earlier reserve could not pin */
        FATHOM_TRY(fathom_engine_reserve(e, p->B, p->H, p->W));
    const int async = e->pin_in && op->upload_async && op->download_async && op->copy_wait;
    float *img = e->arena + p->xin, *out = e->arena + p->out;
    if (async) {
        memcpy(e->pin_in, x, n_in * sizeof(float));
        FATHOM_TRY(op->upload_async(be, img, e->pin_in, n_in * sizeof(float)));
    } else {
        FATHOM_TRY(op->upload(be, img, x, n_in * sizeof(float)));
    }
    FATHOM_TRY(run_graph(e, p, img, out));
    if (!async) {
        FATHOM_TRY(op->download(be, depth, out, n_out * sizeof(float)));
        return op->sync(be);
    }
    FATHOM_TRY(op->download_async(be, e->pin_out, out, n_out * sizeof(float)));
    FATHOM_TRY(op->sync(be));
    FATHOM_TRY(op->copy_wait(be));
    memcpy(depth, e->pin_out, n_out * sizeof(float));
    return FATHOM_OK;
}

typedef struct forward_call {
    fathom_engine *e;
    const float *x;
    int batch, net_h, net_w;
    float *depth;
} forward_call;

static fathom_status forward_entry(void *arg) {
    const forward_call *c = arg;
    fathom_engine *e = c->e;
    /* scaling benchmarks only (cluster/sim_engine.h): 0 in other builds */
    if (fathom_sim_forward(c->x, c->batch, c->net_h, c->net_w, c->depth)) return FATHOM_OK;
    if (e->dp) /* Depth Pro */
        return fathom_dp_engine_forward(e, c->x, c->batch, c->net_h, c->net_w, c->depth);
    fathom_plan p;
    FATHOM_TRY(fathom_plan_make(&e->w.arch, c->batch, c->net_h, c->net_w, e->be->threads, &p));
    if (c->batch > e->cap_b || c->net_h > e->cap_h || c->net_w > e->cap_w)
        FATHOM_TRY(fathom_engine_reserve(e, c->batch, c->net_h, c->net_w));
    FATHOM_TRY(fathom_engine_ensure_pos(e, p.gh, p.gw));
    return forward(e, &p, c->x, c->depth);
}

fathom_status fathom_engine_forward(fathom_engine *e, const float *x, int batch, int net_h,
                                    int net_w, float *depth) {
    if (!e || !x || !depth)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "engine forward: NULL %s",
                           !e ? "engine" : !x ? "input" : "output");
    /* BLAS stays serial outside the backend's own regions (core/blas.h) */
    forward_call c = {e, x, batch, net_h, net_w, depth};
    return fathom_blas_serial_call(forward_entry, &c);
}

void fathom_engine_set_tap(fathom_engine *e, fathom_tap_fn fn, void *user) {
    if (!e) return;
    e->tap.fn = fn;
    e->tap.user = user;
}

/* the kernel report for `fathom bench` */
void fathom_engine_kernels(const fathom_engine *e, char *buf, size_t n) {
    if (!buf || !n) return;
    if (!e) buf[0] = 0;
    else if (e->be->ops->describe) e->be->ops->describe(e->be, buf, n);
    else snprintf(buf, n, "%s", e->be->ops->name);
    size_t len = e ? strlen(buf) : n;
    if (e && e->dev_weights && len < n) /* what of the fp32 arena is resident on the device */
        snprintf(buf + len, n - len, "; fp32 weights on the device %.1f of %.1f MiB", e->dev_weight_bytes / 1048576.0,
                 e->host_w->arena_bytes / 1048576.0);
}

size_t fathom_engine_reserved_bytes(const fathom_engine *e) {
    if (!e) return 0;
    /* op scratch is the backend's (the CPU backend sizes its per-thread tiles at create) */
    return (e->arena_floats + e->pos_cap) * sizeof(float);
}
