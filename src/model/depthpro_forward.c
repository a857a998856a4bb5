/* depthpro_forward.c - the Depth Pro network through the backend op table.
 *
 * Order and shapes: ../shared/spec/depth-pro.md sections 3-5. The 35 crops run through the
 * patch encoder as one batch. Buffers are taken from the backend per stage and released as
 * soon as the stage's consumers are done, so the peak is the ViT batch or the 1536^2 head,
 * never both. Taps carry the golden-depthpro intermediate names. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/depthpro.h"

#define G FATHOM_DP_GRID
#define L (1 + G * G)
#define S FATHOM_DP_SIZE

typedef struct dp_run {
    fathom_backend *be;
    const fathom_backend_ops *op;
    fathom_dp_tap_fn tap;
    void *user;
    float *host;     /* owned: tap staging on device backends */
    size_t host_cap;
    fathom_status st;
} dp_run;

typedef struct dp_buf { float *p; size_t n; } dp_buf;

static float *take(dp_run *r, dp_buf *b, size_t n) {
    b->p = NULL, b->n = 0;
    if (r->st != FATHOM_OK) return NULL;
    void *p = NULL;
    r->st = r->op->alloc(r->be, &p, n * sizeof(float));
    if (r->st != FATHOM_OK) return NULL;
    b->p = p, b->n = n;
    return b->p;
}

static void give(dp_run *r, dp_buf *b) {
    if (b->p) r->op->free(r->be, b->p, b->n * sizeof(float));
    b->p = NULL, b->n = 0;
}

static void emit(dp_run *r, const char *name, const float *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    if (!r->tap || r->st != FATHOM_OK) return;
    int64_t shape[4] = {d0, d1, d2, d3};
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (r->be->kind == FATHOM_DEVICE_CPU) {
        r->tap(r->user, name, t, ndim, shape);
        return;
    }
    if (n > r->host_cap) {
        fathom_free_sized(r->host, r->host_cap * sizeof(float));
        r->host = fathom_alloc(n * sizeof(float));
        r->host_cap = r->host ? n : 0;
        if (!r->host) return;
    }
    if (r->op->download(r->be, r->host, t, n * sizeof(float)) == FATHOM_OK) r->tap(r->user, name, r->host, ndim, shape);
}

/* DINOv2 on B images (B, 3, 384, 384). Normed tokens (B, L, D) land in *out (taken here).
 * hooks: raw block outputs of blocks hk[0], hk[1] for the first nh images, as
 * (nh, D, G, G) into hook[0], hook[1] (NULL: none). */
static void vit_run(dp_run *r, const fathom_dp_vit *v, const float *img, int B, dp_buf *out, const int *hk,
                    float *const *hook, int nh) {
    const fathom_backend_ops *op = r->op;
    const int D = v->D, M = B * L;
    dp_buf bx = {0}, bbig = {0}, batt = {0};
    float *x = take(r, &bx, (size_t)M * D), *y = take(r, out, (size_t)M * D), *att = take(r, &batt, (size_t)M * D);
    size_t bign = (size_t)M * (size_t)(v->mlp > 3 * D ? v->mlp : 3 * D);
    if ((size_t)B * G * G * 3 * 256 > bign) bign = (size_t)B * G * G * 3 * 256;
    float *big = take(r, &bbig, bign);
    if (r->st == FATHOM_OK) {
        op->patchify(r->be, big, img, B, S, S, 16);
        op->linear(r->be, att, big, v->patch_w, v->patch_b, B * G * G, D, 3 * 256, FATHOM_ACT_NONE);
        op->assemble_tokens(r->be, x, att, v->cls, v->pos, B, G * G, D);
        const float scale = (float)pow((double)(D / v->heads), -0.5);
        for (int i = 0; i < v->depth; i++) {
            const fathom_block_weights *bw = &v->blocks[i];
            op->layernorm(r->be, y, x, bw->norm1_w, bw->norm1_b, M, D, v->eps);
            op->linear(r->be, big, y, bw->qkv_w, bw->qkv_b, M, 3 * D, D, FATHOM_ACT_NONE);
            op->attention(r->be, att, big, B, L, D, v->heads, scale);
            op->linear_residual(r->be, x, att, bw->proj_w, bw->proj_b, bw->ls1, M, D, D);
            op->layernorm(r->be, y, x, bw->norm2_w, bw->norm2_b, M, D, v->eps);
            op->linear(r->be, big, y, bw->fc1_w, bw->fc1_b, M, v->mlp, D, FATHOM_ACT_GELU);
            op->linear_residual(r->be, x, big, bw->fc2_w, bw->fc2_b, bw->ls2, M, D, v->mlp);
            for (int k = 0; k < 2 && hook; k++)
                if (hk[k] == i) op->tokens_to_nchw(r->be, hook[k], x, nh, G, G, D);
        }
        op->layernorm(r->be, y, x, v->norm_w, v->norm_b, M, D, v->eps);
    }
    give(r, &bx), give(r, &batt), give(r, &bbig);
}

/* x (Ci, H, W) -> 1x1 conv (no bias) to Co -> n ConvTs (no bias) with widths ct[0..n-1] */
static void upsample_chain(dp_run *r, dp_buf *out, const float *x, int Ci, int H, float *const *w, const int *ch, int n) {
    const fathom_backend_ops *op = r->op;
    dp_buf cur = {0}, nxt = {0};
    float *c = take(r, &cur, (size_t)ch[0] * H * H);
    if (r->st == FATHOM_OK) op->conv2d(r->be, c, x, w[0], NULL, NULL, 1, Ci, H, H, ch[0], 1, 1, 0, 0);
    for (int i = 1; i <= n && r->st == FATHOM_OK; i++) {
        float *o = take(r, &nxt, (size_t)ch[i] * (2 * H) * (2 * H));
        if (!o) break;
        op->conv_transpose(r->be, o, cur.p, w[i], NULL, 1, ch[i - 1], H, H, ch[i], 2);
        give(r, &cur);
        cur = nxt;
        H *= 2;
    }
    if (r->st != FATHOM_OK) give(r, &cur);
    *out = cur;
}

/* Residual conv unit: out = x + conv2(relu(conv1(relu(x)))); tmp (C, H, W). */
static void rcu(dp_run *r, float *out, const float *x, float *tmp, const fathom_dp_rcu *u, int C, int H, int W) {
    r->op->conv2d(r->be, tmp, x, u->c1_w, u->c1_b, NULL, 1, C, H, W, C, 3, 1, 1, FATHOM_CONV_RELU_IN);
    r->op->conv2d(r->be, out, tmp, u->c2_w, u->c2_b, x, 1, C, H, W, C, 3, 1, 1, FATHOM_CONV_RELU_IN);
}

/* Fusion block up to its residual units: a (C, H, H) [+ RCU1(b)] -> RCU2 -> *mid (C, H, H).
 * Consumes a and b. */
static void fusion_rcu(dp_run *r, dp_buf *mid, dp_buf *a, dp_buf *b, const fathom_dp_fusion *f, int C, int H) {
    size_t n = (size_t)C * H * H;
    dp_buf t1 = {0};
    take(r, &t1, n), take(r, mid, n);
    if (r->st == FATHOM_OK && b && b->p) {
        rcu(r, mid->p, b->p, t1.p, &f->rcu1, C, H, H);
        r->op->add(r->be, a->p, a->p, mid->p, n);
    }
    if (r->st == FATHOM_OK) rcu(r, mid->p, a->p, t1.p, &f->rcu2, C, H, H);
    give(r, a), give(r, &t1);
    if (b) give(r, b);
    if (r->st != FATHOM_OK) give(r, mid);
}

/* The rest of the block: ConvT (if any), then the 1x1 out conv: mid (C, H, H) -> *out (C, Ho, Ho). */
static void fusion_out(dp_run *r, dp_buf *out, const float *mid, const fathom_dp_fusion *f, int C, int H) {
    const fathom_backend_ops *op = r->op;
    int Ho = f->deconv ? 2 * H : H;
    dp_buf up = {0};
    if (f->deconv && take(r, &up, (size_t)C * Ho * Ho)) op->conv_transpose(r->be, up.p, mid, f->deconv, NULL, 1, C, H, H, C, 2);
    if (take(r, out, (size_t)C * Ho * Ho))
        op->conv2d(r->be, out->p, f->deconv ? up.p : mid, f->out_w, f->out_b, NULL, 1, C, Ho, Ho, C, 1, 1, 0, 0);
    give(r, &up);
}

/* Whole fusion block: consumes a and b. */
static void fusion(dp_run *r, dp_buf *out, dp_buf *a, dp_buf *b, const fathom_dp_fusion *f, int C, int H) {
    dp_buf mid = {0};
    fusion_rcu(r, &mid, a, b, f, C, H);
    if (r->st == FATHOM_OK) fusion_out(r, out, mid.p, f, C, H);
    give(r, &mid);
}

/* 3x3 projection (no bias) of enc (Ci, H, H) to dec channels. */
static void project(dp_run *r, dp_buf *out, const float *enc, const float *w, int Ci, int Co, int H) {
    if (take(r, out, (size_t)Co * H * H)) r->op->conv2d(r->be, out->p, enc, w, NULL, NULL, 1, Ci, H, H, Co, 3, 1, 1, 0);
}

/* ---- decoder tail in row bands ----
 * fusions[0] and the head run at 768^2 and 1536^2, where one 256-channel map is 604 MB. On
 * the CPU they run in bands of DP_BAND output rows (768 scale), from the two 384^2 inputs
 * (fusion 1 before its ConvT, latent0 before its last ConvT): every op is row-local except
 * the 3x3 convs, which spoil one row per band edge each (4 RCU convs and the head conv at 768,
 * the last head conv at 1536 = half a row), so DP_HALO rows are recomputed at each inner
 * edge. Device backends take the whole map as one band. */
#define DP_BAND 64
#define DP_HALO 6

/* dst (C, hd, W) rows [d0, d0 + n) <- src (C, hs, W) rows [s0, s0 + n). Host copies: bands
 * are used on the CPU only. */
static void copy_rows(dp_run *r, float *dst, int hd, int d0, const float *src, int hs, int s0, int n, int C, int W) {
    for (int c = 0; c < C && r->st == FATHOM_OK; c++)
        r->st = r->op->upload(r->be, dst + ((size_t)c * hd + d0) * W, src + ((size_t)c * hs + s0) * W,
                              (size_t)n * W * sizeof(float));
}

typedef struct dp_tail {
    int C, hm, hh, rows;  /* dec, head widths, band rows */
    float *g[2];          /* band of the two 384^2 inputs: (C, rows / 2 + DP_HALO, 384) */
    float *p[4];          /* (cap, rows + 2 DP_HALO, 768), cap >= C, hm, 4 hh */
    float *h1;            /* (hm, 2 (rows + 2 DP_HALO), 1536) */
} dp_tail;

/* Output rows [a, b) of 768: canon rows [2a, 2b); fus0 (C, 768, 768) receives the decoder
 * output rows when not NULL. f1, l0: (C, 384, 384). */
static void tail_band(dp_run *r, const fathom_dp_weights *w, const dp_tail *t, const float *f1, const float *l0, int a, int b,
                      float *canon, float *fus0) {
    const fathom_backend_ops *op = r->op;
    const int C = t->C, N = 768, ha = a - DP_HALO < 0 ? 0 : a - DP_HALO, hb = b + DP_HALO > N ? N : b + DP_HALO;
    const int h = hb - ha, whole = ha == 0 && hb == N;
    const float *g0 = f1, *g1 = l0;
    if (!whole) {
        copy_rows(r, t->g[0], h / 2, 0, f1, N / 2, ha / 2, h / 2, C, N / 2);
        copy_rows(r, t->g[1], h / 2, 0, l0, N / 2, ha / 2, h / 2, C, N / 2);
        g0 = t->g[0], g1 = t->g[1];
    }
    if (r->st != FATHOM_OK) return;
    float *const *p = t->p;
    /* fusion 1's ConvT and 1x1 out conv: the decoder state at 768 */
    op->conv_transpose(r->be, p[0], g0, w->fus[1].deconv, NULL, 1, C, h / 2, N / 2, C, 2);
    op->conv2d(r->be, p[1], p[0], w->fus[1].out_w, w->fus[1].out_b, NULL, 1, C, h, N, C, 1, 1, 0, 0);
    /* latent0's last ConvT, then fusion 0 */
    op->conv_transpose(r->be, p[0], g1, w->lat0[3], NULL, 1, C, h / 2, N / 2, C, 2);
    rcu(r, p[2], p[0], p[3], &w->fus[0].rcu1, C, h, N);
    op->add(r->be, p[1], p[1], p[2], (size_t)C * h * N);
    rcu(r, p[2], p[1], p[3], &w->fus[0].rcu2, C, h, N);
    op->conv2d(r->be, p[0], p[2], w->fus[0].out_w, w->fus[0].out_b, NULL, 1, C, h, N, C, 1, 1, 0, 0);
    if (fus0 && !whole) copy_rows(r, fus0, N, a, p[0], h, a - ha, b - a, C, N);
    else if (fus0) emit(r, "decoder.fusion0", p[0], 4, 1, C, N, N);
    /* head */
    op->conv2d(r->be, p[1], p[0], w->head_w[0], w->head_b[0], NULL, 1, C, h, N, t->hm, 3, 1, 1, 0);
    op->conv_transpose(r->be, t->h1, p[1], w->head_w[1], w->head_b[1], 1, t->hm, h, N, t->hm, 2);
    op->conv2d(r->be, p[2], t->h1, w->head_w[2], w->head_b[2], NULL, 1, t->hm, 2 * h, 2 * N, t->hh, 3, 1, 1,
               FATHOM_CONV_RELU_OUT);
    float *cb = whole ? canon : p[3];
    op->conv2d(r->be, cb, p[2], w->head_w[3], w->head_b[3], NULL, 1, t->hh, 2 * h, 2 * N, 1, 1, 1, 0, 0);
    if (!whole) copy_rows(r, canon, 2 * N, 2 * a, cb, 2 * h, 2 * (a - ha), 2 * (b - a), 1, 2 * N);
}

/* fusions[0] and the head: f1 (fusion 1 after its residual units), l0 (latent0 before its
 * last ConvT), both (C, 384, 384) -> canon (1536, 1536), before the final ReLU. */
static void decoder_tail(dp_run *r, const fathom_dp_weights *w, const float *f1, const float *l0, float *canon) {
    const int N = 768, C = w->dec, whole = r->be->kind != FATHOM_DEVICE_CPU;
    dp_tail t = {.C = C, .hm = w->head_mid, .hh = w->head_hidden, .rows = whole ? N : DP_BAND};
    const int h = whole ? N : t.rows + 2 * DP_HALO;
    int cap = C > t.hm ? C : t.hm;
    if (4 * t.hh > cap) cap = 4 * t.hh;
    dp_buf bg[2] = {{0}}, bp[4] = {{0}}, bh1 = {0}, bf0 = {0};
    for (int i = 0; i < 2 && !whole; i++) t.g[i] = take(r, &bg[i], (size_t)C * (h / 2) * (N / 2));
    for (int i = 0; i < 4; i++) t.p[i] = take(r, &bp[i], (size_t)cap * h * N);
    t.h1 = take(r, &bh1, (size_t)t.hm * 4 * h * N);
    float *fus0 = NULL;
    if (r->tap) fus0 = whole ? bp[0].p : take(r, &bf0, (size_t)C * N * N);
    for (int a = 0; a < N && r->st == FATHOM_OK; a += t.rows)
        tail_band(r, w, &t, f1, l0, a, a + t.rows > N ? N : a + t.rows, canon, fus0);
    if (fus0 && !whole) emit(r, "decoder.fusion0", fus0, 4, 1, C, N, N);
    give(r, &bf0), give(r, &bh1);
    for (int i = 0; i < 4; i++) give(r, &bp[i]);
    for (int i = 0; i < 2; i++) give(r, &bg[i]);
}

/* The decoder from the global map and the encoder's outputs (all given back here), then
 * fusion 0 and the head in row bands: the canonical inverse depth in canon (N0 x N0). *low
 * keeps the low resolution map for the FOV head. */
static void decoder(dp_run *r, const fathom_dp_weights *w, dp_buf *bglob, dp_buf *e0, dp_buf *e1,
                    dp_buf *lat0, dp_buf *lat1, dp_buf *low, float *canon) {
    const int *d = w->d, dec = w->dec, N0 = 1536;
    dp_buf f = {0}, nf = {0}, pj = {0};
    project(r, low, bglob->p, w->convs[4], d[3], dec, 48);
    give(r, bglob);
    emit(r, "decoder.lowres", low->p, 4, 1, dec, 48, 48);
    /* fusions[4] takes a copy: lowres also feeds the FOV head */
    if (take(r, &nf, (size_t)dec * 48 * 48)) r->op->crop_tiles(r->be, nf.p, low->p, dec, 48, 48, 48, 48, 1);
    fusion(r, &f, &nf, NULL, &w->fus[4], dec, 48);
    emit(r, "decoder.fusion4", f.p, 4, 1, dec, 96, 96);
    project(r, &pj, e1->p, w->convs[3], d[2], dec, 96);
    give(r, e1);
    fusion(r, &nf, &f, &pj, &w->fus[3], dec, 96), f = nf;
    emit(r, "decoder.fusion3", f.p, 4, 1, dec, 192, 192);
    project(r, &pj, e0->p, w->convs[2], d[1], dec, 192);
    give(r, e0);
    fusion(r, &nf, &f, &pj, &w->fus[2], dec, 192), f = nf;
    emit(r, "decoder.fusion2", f.p, 4, 1, dec, 384, 384);
    project(r, &pj, lat1->p, w->convs[1], d[0], dec, 384);
    give(r, lat1);
    fusion_rcu(r, &nf, &f, &pj, &w->fus[1], dec, 384), f = nf;
    if (r->tap && r->st == FATHOM_OK) { /* the full fusion 1 output for the tap only */
        dp_buf full = {0};
        fusion_out(r, &full, f.p, &w->fus[1], dec, 384);
        emit(r, "decoder.fusion1", full.p, 4, 1, dec, 768, 768);
        give(r, &full);
    }

    /* ---- fusion 0 and the head, in row bands ---- */
    if (r->st == FATHOM_OK) decoder_tail(r, w, f.p, lat0->p, canon);
    give(r, &f), give(r, lat0);
    if (r->st == FATHOM_OK) {
        emit(r, "head.preact", canon, 4, 1, 1, N0, N0);
        r->op->depth_act(r->be, canon, (size_t)N0 * N0, 0, 0.0f);
    }
}

/* The FOV head: field of view in degrees from the FOV encoder's tokens and the decoder's low
 * resolution map (both given back here). */
static void fov_head(dp_run *r, const fathom_dp_weights *w, dp_buf *bfovt, dp_buf *low,
                     float *fov_deg) {
    const int Df = w->vit[2].D, dec = w->dec;
    dp_buf fe = {0}, fds = {0}, fmap = {0}, fh1 = {0}, fh2 = {0}, fdeg = {0};
    const int fc = w->fov_c;
    if (take(r, &fe, (size_t)L * fc)) r->op->linear(r->be, fe.p, bfovt->p, w->fov_lin_w, w->fov_lin_b, L, fc, Df, FATHOM_ACT_NONE);
    give(r, bfovt);
    emit(r, "fov.encoder.tokens", fe.p, 3, 1, L, fc, 0);
    if (take(r, &fds, (size_t)fc * G * G))
        r->op->conv2d(r->be, fds.p, low->p, w->fov_ds_w, w->fov_ds_b, NULL, 1, dec, 48, 48, fc, 3, 2, 1, FATHOM_CONV_RELU_OUT);
    give(r, low);
    emit(r, "fov.downsample", fds.p, 4, 1, fc, G, G);
    if (take(r, &fmap, (size_t)fc * G * G)) {
        r->op->tokens_to_nchw(r->be, fmap.p, fe.p, 1, G, G, fc);
        r->op->add(r->be, fmap.p, fmap.p, fds.p, (size_t)fc * G * G);
    }
    give(r, &fe), give(r, &fds);
    emit(r, "fov.sum", fmap.p, 4, 1, fc, G, G);
    if (take(r, &fh1, (size_t)w->fov_h1 * 12 * 12))
        r->op->conv2d(r->be, fh1.p, fmap.p, w->fov_head_w[0], w->fov_head_b[0], NULL, 1, fc, G, G, w->fov_h1, 3, 2, 1, FATHOM_CONV_RELU_OUT);
    give(r, &fmap);
    emit(r, "fov.head.1", fh1.p, 4, 1, w->fov_h1, 12, 12);
    if (take(r, &fh2, (size_t)w->fov_h2 * 6 * 6))
        r->op->conv2d(r->be, fh2.p, fh1.p, w->fov_head_w[1], w->fov_head_b[1], NULL, 1, w->fov_h1, 12, 12, w->fov_h2, 3, 2, 1, FATHOM_CONV_RELU_OUT);
    give(r, &fh1);
    emit(r, "fov.head.3", fh2.p, 4, 1, w->fov_h2, 6, 6);
    if (take(r, &fdeg, 16)) {
        r->op->conv2d(r->be, fdeg.p, fh2.p, w->fov_head_w[2], w->fov_head_b[2], NULL, 1, w->fov_h2, 6, 6, 1, 6, 1, 0, 0);
        emit(r, "fov.deg", fdeg.p, 4, 1, 1, 1, 1);
        if (r->st == FATHOM_OK) r->st = r->op->download(r->be, fov_deg, fdeg.p, sizeof(float));
    }
    give(r, &fh2), give(r, &fdeg);
}

fathom_status fathom_dp_forward(fathom_backend *be, const fathom_dp_weights *w, const float *x0, float *canon,
                                float *fov_deg, fathom_dp_tap_fn tap, void *user) {
    const fathom_backend_ops *op = be->ops;
    if (!op->resize_bilinear_pt || !op->crop_tiles || !op->merge_tiles)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "Depth Pro: the %s backend does not have the Depth Pro ops yet", op->name);
    dp_run r = {.be = be, .op = op, .tap = tap, .user = user};
    const int D = w->vit[0].D, Di = w->vit[1].D, Df = w->vit[2].D, dec = w->dec;
    const int *d = w->d;
    const int N0 = 1536, N1 = 768;
    const size_t crop = (size_t)3 * S * S;

    /* ---- pyramid and crops ---- */
    dp_buf bx1 = {0}, bx2 = {0}, bcrops = {0}, btok = {0}, bhook[2] = {{0}}, bfeat = {0};
    float *x1 = take(&r, &bx1, (size_t)3 * N1 * N1), *x2 = take(&r, &bx2, crop);
    float *crops = take(&r, &bcrops, FATHOM_DP_CROPS * crop);
    if (r.st == FATHOM_OK) {
        op->resize_bilinear_pt(be, x1, x0, 3, N0, N0, N1, N1, 2.0f, 2.0f);
        op->resize_bilinear_pt(be, x2, x0, 3, N0, N0, S, S, 4.0f, 4.0f);
        op->crop_tiles(be, crops, x0, 3, N0, N0, S, 288, 5);
        op->crop_tiles(be, crops + 25 * crop, x1, 3, N1, N1, S, 192, 3);
        op->crop_tiles(be, crops + 34 * crop, x2, 3, S, S, S, S, 1);
    }
    give(&r, &bx1);

    /* ---- patch encoder: 35 crops as one batch, hooks on the 25 x0 crops ---- */
    float *hooks[2] = {take(&r, &bhook[0], (size_t)25 * D * G * G), take(&r, &bhook[1], (size_t)25 * D * G * G)};
    if (r.st == FATHOM_OK) vit_run(&r, &w->vit[0], crops, FATHOM_DP_CROPS, &btok, w->hooks, hooks, 25);
    give(&r, &bcrops);
    emit(&r, "patch_encoder.tokens.x0", btok.p, 3, 25, L, D, 0);
    if (btok.p) {
        emit(&r, "patch_encoder.tokens.x1", btok.p + (size_t)25 * L * D, 3, 9, L, D, 0);
        emit(&r, "patch_encoder.tokens.x2", btok.p + (size_t)34 * L * D, 3, 1, L, D, 0);
    }
    if (take(&r, &bfeat, (size_t)FATHOM_DP_CROPS * D * G * G)) op->tokens_to_nchw(be, bfeat.p, btok.p, FATHOM_DP_CROPS, G, G, D);
    give(&r, &btok);

    /* ---- merges ---- */
    dp_buf bm0 = {0}, bm1 = {0}, bl0 = {0}, bl1 = {0};
    take(&r, &bl0, (size_t)D * 96 * 96), take(&r, &bl1, (size_t)D * 96 * 96);
    take(&r, &bm0, (size_t)D * 96 * 96), take(&r, &bm1, (size_t)D * 48 * 48);
    if (r.st == FATHOM_OK) {
        op->merge_tiles(be, bl0.p, hooks[0], D, G, 5, 3);
        op->merge_tiles(be, bl1.p, hooks[1], D, G, 5, 3);
        op->merge_tiles(be, bm0.p, bfeat.p, D, G, 5, 3);
        op->merge_tiles(be, bm1.p, bfeat.p + (size_t)25 * D * G * G, D, G, 3, 6);
    }
    give(&r, &bhook[0]), give(&r, &bhook[1]);
    emit(&r, "encoder.latent0.merged", bl0.p, 4, 1, D, 96, 96);
    emit(&r, "encoder.latent1.merged", bl1.p, 4, 1, D, 96, 96);
    emit(&r, "encoder.x0.merged", bm0.p, 4, 1, D, 96, 96);
    emit(&r, "encoder.x1.merged", bm1.p, 4, 1, D, 48, 48);

    /* ---- image encoder and FOV encoder on x2 ---- */
    dp_buf bimg = {0}, bfovt = {0};
    if (r.st == FATHOM_OK) vit_run(&r, &w->vit[1], x2, 1, &bimg, NULL, NULL, 0);
    emit(&r, "image_encoder.tokens", bimg.p, 3, 1, L, Di, 0);
    if (r.st == FATHOM_OK) vit_run(&r, &w->vit[2], x2, 1, &bfovt, NULL, NULL, 0);
    emit(&r, "fov.vit.tokens", bfovt.p, 3, 1, L, Df, 0);
    give(&r, &bx2);

    /* ---- projections and upsampling ---- */
    dp_buf lat0 = {0}, lat1 = {0}, e0 = {0}, e1 = {0}, bcat = {0}, bglob = {0}, bimgmap = {0};
    {
        float *wl0[4] = {w->lat0[0], w->lat0[1], w->lat0[2], w->lat0[3]};
        int cl0[4] = {d[0], dec, dec, dec};
        upsample_chain(&r, &lat0, bl0.p, D, 96, wl0, cl0, 2); /* the last ConvT runs in decoder_tail */
        give(&r, &bl0);
        float *wl1[3] = {w->lat1[0], w->lat1[1], w->lat1[2]};
        int cl1[3] = {d[0], d[0], d[0]};
        upsample_chain(&r, &lat1, bl1.p, D, 96, wl1, cl1, 2);
        give(&r, &bl1);
        int c0[2] = {d[1], d[1]}, c1[2] = {d[2], d[2]};
        upsample_chain(&r, &e0, bm0.p, D, 96, w->up[0], c0, 1);
        give(&r, &bm0);
        upsample_chain(&r, &e1, bm1.p, D, 48, w->up[1], c1, 1);
        give(&r, &bm1);
    }
    if (r.tap && r.st == FATHOM_OK) { /* the full latent0 for the tap only */
        dp_buf full = {0};
        if (take(&r, &full, (size_t)dec * 768 * 768))
            op->conv_transpose(be, full.p, lat0.p, w->lat0[3], NULL, 1, dec, 384, 384, dec, 2);
        emit(&r, "encoder.latent0", full.p, 4, 1, dec, 768, 768);
        give(&r, &full);
    }
    emit(&r, "encoder.latent1", lat1.p, 4, 1, d[0], 384, 384);
    emit(&r, "encoder.x0", e0.p, 4, 1, d[1], 192, 192);
    emit(&r, "encoder.x1", e1.p, 4, 1, d[2], 96, 96);
    /* x2 branch and the image encoder side by side in one (2 d3, 48, 48) buffer: the concat */
    take(&r, &bcat, (size_t)2 * d[3] * 48 * 48);
    {
        int c2[2] = {d[3], d[3]};
        dp_buf x2f;
        upsample_chain(&r, &x2f, bfeat.p + (size_t)34 * D * G * G, D, G, w->up[2], c2, 1);
        if (r.st == FATHOM_OK) op->crop_tiles(be, bcat.p, x2f.p, d[3], 48, 48, 48, 48, 1); /* a device copy */
        give(&r, &x2f);
    }
    give(&r, &bfeat);
    emit(&r, "encoder.x2", bcat.p, 4, 1, d[3], 48, 48);
    if (take(&r, &bimgmap, (size_t)Di * G * G)) {
        op->tokens_to_nchw(be, bimgmap.p, bimg.p, 1, G, G, Di);
        op->conv_transpose(be, bcat.p + (size_t)d[3] * 48 * 48, bimgmap.p, w->lowres_w, w->lowres_b, 1, Di, G, G, d[3], 2);
    }
    give(&r, &bimgmap), give(&r, &bimg);
    if (take(&r, &bglob, (size_t)d[3] * 48 * 48))
        op->conv2d(be, bglob.p, bcat.p, w->fuse_w, w->fuse_b, NULL, 1, 2 * d[3], 48, 48, d[3], 1, 1, 0, 0);
    give(&r, &bcat);
    emit(&r, "encoder.global", bglob.p, 4, 1, d[3], 48, 48);

    dp_buf low = {0};
    decoder(&r, w, &bglob, &e0, &e1, &lat0, &lat1, &low, canon);

    fov_head(&r, w, &bfovt, &low, fov_deg);
    if (r.st == FATHOM_OK) r.st = op->sync(be);
    fathom_free_sized(r.host, r.host_cap * sizeof(float));
    return r.st;
}
