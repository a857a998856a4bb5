/* depthpro_engine.c - Depth Pro behind the public engine and model calls: detection, info,
 * the engine hooks (engine.c hands Depth Pro models here) and the public pre/post-processing.
 *
 * A Depth Pro engine is a fathom_engine whose `dp` state is set; it keeps only the backend and
 * the FOV of each image of the last forward pass. Weights stay the model's (one copy, fp32). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/depthpro.h"
#include "model/depthpro_engine.h"
#include "model/engine.h"
#include "model/model.h"
#include "model/pth.h"
#include "model/safetensors.h"

struct fathom_dp_state {
    const fathom_dp_weights *w; /* the model's (CPU), or &dev (device backends) */
    float *fov;                 /* owned: FOV of each image of the last forward, fov_cap */
    int fov_cap, fov_n;
    /* device backends only */
    fathom_dp_weights dev;      /* view of the device arena; fields borrowed from the model's */
    void *dev_arena;            /* owned (backend memory): the one device copy of the weights */
    size_t dev_bytes;
    fathom_block_weights *dev_blocks[3]; /* owned: vit[v].depth entries each */
    float *io;                  /* owned (backend memory): input (3, 1536^2) + canon (1536^2) */
};

int fathom_dp_detect(const char *path) {
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return 0;
    char file[4200];
    if (S_ISDIR(sb.st_mode)) snprintf(file, sizeof file, "%s/model.safetensors", path);
    else snprintf(file, sizeof file, "%s", path);
    uint8_t head[16] = {0};
    FILE *f = fopen(file, "rb");
    if (!f) return 0;
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    fathom_tensor_set set;
    fathom_status st;
    if (fathom_pth_sniff(head, got)) st = fathom_pth_open_file(file, &set);
    else if (fathom_st_sniff(head, got)) st = fathom_st_open_file(file, &set);
    else return 0;
    if (st != FATHOM_OK) {
        fathom_clear_error();
        return 0;
    }
    int dp = fathom_dp_is_depthpro_set(&set);
    fathom_tensor_set_close(&set);
    return dp;
}

static double vit_flops(const fathom_dp_vit *v) {
    const double L = 577, D = v->D, N = 576;
    return 2.0 * N * D * 768 + v->depth * (2.0 * L * D * 3 * D + 4.0 * L * L * D + 2.0 * L * D * D + 4.0 * L * D * v->mlp);
}

static double conv(double hw, double ci, double co, double k) { return 2.0 * hw * ci * co * k * k; }

double fathom_dp_flops(const fathom_dp_weights *w) {
    const double D = w->vit[0].D, dec = w->dec;
    const int *d = w->d;
    double f = FATHOM_DP_CROPS * vit_flops(&w->vit[0]) + vit_flops(&w->vit[1]) + vit_flops(&w->vit[2]);
    /* projections and upsampling (ConvT k2 s2 = 4 MACs per input pixel and channel pair) */
    f += 2 * conv(96 * 96, D, d[0], 1) + conv(96 * 96, D, d[1], 1) + conv(48 * 48, D, d[2], 1) + conv(24 * 24, D, d[3], 1);
    f += conv(96 * 96, d[0], dec, 2) + conv(192 * 192, dec, dec, 2) + conv(384 * 384, dec, dec, 2);
    f += conv(96 * 96, d[0], d[0], 2) + conv(192 * 192, d[0], d[0], 2);
    f += conv(96 * 96, d[1], d[1], 2) + conv(48 * 48, d[2], d[2], 2) + conv(24 * 24, d[3], d[3], 2);
    f += conv(24 * 24, w->vit[1].D, d[3], 2) + conv(48 * 48, 2 * d[3], d[3], 1);
    /* decoder: projections, 4 RCU convs per fusion (3 for the first), deconvs, 1x1 outs */
    f += conv(48 * 48, d[3], dec, 3) + conv(96 * 96, d[2], dec, 3) + conv(192 * 192, d[1], dec, 3) + conv(384 * 384, d[0], dec, 3);
    static const double side[5] = {768, 384, 192, 96, 48};
    for (int k = 0; k < 5; k++) {
        double hw = side[k] * side[k], out = k ? 4 * hw : hw;
        f += (k == 4 ? 2 : 4) * conv(hw, dec, dec, 3) + (k ? conv(hw, dec, dec, 2) : 0) + conv(out, dec, dec, 1);
    }
    /* head */
    f += conv(768.0 * 768, dec, w->head_mid, 3) + conv(768.0 * 768, w->head_mid, w->head_mid, 2) +
         conv(1536.0 * 1536, w->head_mid, w->head_hidden, 3) + conv(1536.0 * 1536, w->head_hidden, 1, 1);
    return f;
}

void fathom_dp_get_info(const fathom_dp_weights *w, fathom_model_info *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->format, sizeof info->format, "%s", w->format);
    snprintf(info->arch, sizeof info->arch, "depth-pro");
    snprintf(info->dtype, sizeof info->dtype, "%s", w->dtype);
    snprintf(info->family, sizeof info->family, "depth-pro");
    info->params = w->params;
    info->unused_params = 0;
    info->metric = 1;
    info->embed_dim = w->vit[0].D;
    info->depth = w->vit[0].depth;
    info->heads = w->vit[0].heads;
    info->mlp_hidden = w->vit[0].mlp;
    info->features = w->dec;
    memcpy(info->out_channels, w->d, sizeof info->out_channels);
    info->layer_idx[0] = w->hooks[0], info->layer_idx[1] = w->hooks[1];
    info->layer_idx[2] = info->layer_idx[3] = -1;
    info->input_size = FATHOM_DP_NET;
    info->focal = 1;
}

int fathom_model_is_depthpro(const fathom_model *m) { return m && m->dp; }

/* ---------------------------------------------------------------- engine hooks */

/* Device backends: upload the weight arena once and point a view into it through the slot
 * table (fathom_dp_rebase), so no host pointer reaches a kernel. */
static fathom_status upload_weights(struct fathom_dp_state *s, fathom_backend *be, const fathom_dp_weights *h) {
    FATHOM_TRY(be->ops->alloc(be, &s->dev_arena, h->arena_bytes));
    s->dev_bytes = h->arena_bytes;
    FATHOM_TRY(be->ops->upload(be, s->dev_arena, h->arena, h->arena_bytes));
    for (int v = 0; v < 3; v++) {
        s->dev_blocks[v] = calloc((size_t)h->vit[v].depth, sizeof *s->dev_blocks[v]);
        if (!s->dev_blocks[v]) return fathom_fail(FATHOM_ERR_NOMEM, "engine: block table");
    }
    FATHOM_TRY(fathom_dp_rebase(h, s->dev_arena, &s->dev, s->dev_blocks));
    s->w = &s->dev;
    return FATHOM_OK;
}

static fathom_status check_ops(const fathom_backend *be) {
    static const fathom_op_id used[] = {
        FATHOM_OP_linear,         FATHOM_OP_linear_residual,    FATHOM_OP_layernorm,  FATHOM_OP_attention,
        FATHOM_OP_patchify,       FATHOM_OP_assemble_tokens,    FATHOM_OP_tokens_to_nchw, FATHOM_OP_conv2d,
        FATHOM_OP_conv_transpose, FATHOM_OP_add,                FATHOM_OP_depth_act,  FATHOM_OP_resize_bilinear_pt,
        FATHOM_OP_crop_tiles,     FATHOM_OP_merge_tiles,
    };
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        if (!fathom_backend_supports(be, used[i]))
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "Depth Pro: the %s backend has no kernel for op '%s'", be->ops->name,
                               fathom_op_names[used[i]]);
    return FATHOM_OK;
}

fathom_status fathom_dp_engine_create(const fathom_model *m, const fathom_engine_params *params, fathom_engine **out) {
    fathom_engine_params p = params ? *params : fathom_engine_default_params();
    if (p.device == FATHOM_DEVICE_CPU && p.precision != FATHOM_PRECISION_DEFAULT && p.precision != FATHOM_PRECISION_FP32)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "Depth Pro on the CPU runs in fp32 only (precision fp32)");
    if (p.weights != FATHOM_WEIGHTS_DEFAULT) /* its forward reads the fp32 tensors: refuse, never ignore */
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "Depth Pro runs with float weights only (no --weights int8 or q4)");
    fathom_engine *e = fathom_calloc(sizeof *e); /* owned by the caller on success */
    struct fathom_dp_state *s = calloc(1, sizeof *s); /* owned by e */
    if (!e || !s) {
        fathom_free_sized(e, e ? sizeof *e : 0);
        free(s);
        return fathom_fail(FATHOM_ERR_NOMEM, "engine: cannot allocate the engine");
    }
    e->params = p;
    e->dp = s;
    s->w = m->dp;
    fathom_status st;
    if (p.device == FATHOM_DEVICE_CPU) st = fathom_backend_cpu_create(p.threads, &e->be);
    else if (p.device == FATHOM_DEVICE_CUDA)
        st = fathom_backend_cuda_create(p.device_index, p.precision, p.gpu_mem_limit, &e->be);
    else st = fathom_fail(FATHOM_ERR_INVALID_ARG, "engine: unknown device kind %d", (int)p.device);
    if (st == FATHOM_OK) st = check_ops(e->be);
    if (st == FATHOM_OK && e->be->kind != FATHOM_DEVICE_CPU) st = upload_weights(s, e->be, m->dp);
    if (st != FATHOM_OK) {
        fathom_dp_engine_free(e);
        return st;
    }
    e->tap.be = e->be;
    *out = e;
    return FATHOM_OK;
}

void fathom_dp_engine_free(fathom_engine *e) {
    struct fathom_dp_state *s = e->dp;
    if (e->be) {
        const size_t px = (size_t)FATHOM_DP_NET * FATHOM_DP_NET;
        e->be->ops->free(e->be, s->io, 4 * px * sizeof(float));
        e->be->ops->free(e->be, s->dev_arena, s->dev_bytes);
    }
    for (int v = 0; v < 3; v++) free(s->dev_blocks[v]);
    free(s->fov);
    free(s);
    fathom_backend_free(&e->be);
    fathom_free_sized(e, sizeof *e);
}

static fathom_status check_shape(int batch, int net_h, int net_w) {
    if (batch < 1 || net_h != FATHOM_DP_NET || net_w != FATHOM_DP_NET)
        return fathom_fail(FATHOM_ERR_SHAPE, "Depth Pro: the network input must be %d x %d (got batch %d of %d x %d)",
                           FATHOM_DP_NET, FATHOM_DP_NET, batch, net_h, net_w);
    return FATHOM_OK;
}

fathom_status fathom_dp_engine_reserve(fathom_engine *e, int batch, int net_h, int net_w) {
    FATHOM_TRY(check_shape(batch, net_h, net_w));
    struct fathom_dp_state *s = e->dp;
    if (batch > s->fov_cap) {
        float *f = realloc(s->fov, (size_t)batch * sizeof *f);
        if (!f) return fathom_fail(FATHOM_ERR_NOMEM, "engine: out of memory");
        s->fov = f, s->fov_cap = batch;
    }
    if (e->be->kind != FATHOM_DEVICE_CPU && !s->io) { /* one image at a time on the device */
        void *p = NULL;
        FATHOM_TRY(e->be->ops->alloc(e->be, &p, (size_t)4 * FATHOM_DP_NET * FATHOM_DP_NET * sizeof(float)));
        s->io = p;
    }
    return FATHOM_OK;
}

fathom_status fathom_dp_engine_forward(fathom_engine *e, const float *x, int batch, int net_h, int net_w, float *depth) {
    FATHOM_TRY(fathom_dp_engine_reserve(e, batch, net_h, net_w));
    struct fathom_dp_state *s = e->dp;
    const fathom_backend_ops *op = e->be->ops;
    const size_t px = (size_t)FATHOM_DP_NET * FATHOM_DP_NET;
    s->fov_n = 0;
    /* images one after another: each is already a batch of 35 crops */
    for (int i = 0; i < batch; i++) {
        const float *xi = x + (size_t)i * 3 * px;
        float *di = depth + (size_t)i * px;
        if (s->io) { /* device: input and canon through the engine's device buffer */
            FATHOM_TRY(op->upload(e->be, s->io, xi, 3 * px * sizeof(float)));
            FATHOM_TRY(fathom_dp_forward(e->be, s->w, s->io, s->io + 3 * px, &s->fov[i], e->tap.fn, e->tap.user));
            FATHOM_TRY(op->download(e->be, di, s->io + 3 * px, px * sizeof(float)));
        } else {
            FATHOM_TRY(fathom_dp_forward(e->be, s->w, xi, di, &s->fov[i], e->tap.fn, e->tap.user));
        }
        s->fov_n = i + 1;
    }
    return FATHOM_OK;
}

float fathom_engine_fov_deg(const fathom_engine *e, int i) {
    if (!e || !e->dp || i < 0 || i >= e->dp->fov_n) return NAN;
    return e->dp->fov[i];
}

/* ---------------------------------------------------------------- public pre/post */

fathom_status fathom_depthpro_preprocess(const uint8_t *rgb, int h0, int w0, size_t stride, float *x) {
    return fathom_dp_preprocess(rgb, h0, w0, stride, x);
}

fathom_status fathom_depthpro_postprocess(const float *canon, float fov_deg, double f_px, int h0, int w0, float *depth,
                                          double *f_used) {
    return fathom_dp_postprocess(canon, fov_deg, f_px, h0, w0, depth, f_used);
}

double fathom_depthpro_focal_from_f35(int w0, int h0, double f35_mm) { return fathom_dp_focal_from_f35(w0, h0, f35_mm); }

double fathom_depthpro_fov_from_focal(double f_px, int w0) {
    if (!(f_px > 0)) return NAN;
    return 2.0 * atan(0.5 * w0 / f_px) * 180.0 / M_PI;
}
