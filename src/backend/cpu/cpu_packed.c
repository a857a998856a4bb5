/* cpu_packed.c - the backend's set of packed weights (bf16, int8 or q4) and the linear ops
 * that run on them.
 *
 * Ownership: weights a model loaded carry a share (fathom_weights.share, weights_release.c)
 * that owns one set per key (format and kernels); every engine of that key borrows it and
 * gives its reference back when its backend goes. Weights without one (made by hand) and the
 * harness's one-matrix sets (fathom_cpu_pack_one) give the backend a set of its own. */
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"
#include "core/alloc.h"
#include "core/status.h"
#include "model/weights.h"

typedef enum { KIND_BF16, KIND_INT8, KIND_Q4 } kind;

struct fathom_cpu_bf16_set {
    fathom_packed_share *share; /* borrowed: the share that owns this set; NULL: the backend owns it */
    kind kind;
    int kernel;     /* fathom_cpu_bf16_kernel (bf16, q4) or fathom_cpu_q8_kernel (int8) */
    int act_kernel; /* fathom_cpu_bf16_kernel for bf16 attention, or -1: fp32 attention */
    int n, cap;
    fathom_bf16_mat *mats; /* owned: cap entries, n used (bf16) */
    fathom_q8_mat *q8;     /* owned: cap entries, n used (int8) */
    fathom_q4_mat *q4;     /* owned: cap entries, n used (q4) */
    /* the DPT head's conv weights as GEMM matrices: bf16 and q4 sets hold them in mats / q4
     * above; int8 sets in bf16 here (see add_conv) */
    int nconv, capconv;
    fathom_bf16_mat *cmats; /* owned: capconv entries, nconv used (int8 sets) */
    unsigned char *is_conv; /* owned: cap flags, 1 for a conv entry of mats / q4 */
    /* owned: cap + capconv flags (entries of mats / q8 / q4, then of cmats), 1 where the
     * arrays are a quantized file's, borrowed from the share (fathom_packed_share_blob) */
    unsigned char *borrowed;
};

/* Frees s whole (the owner's call: the share's destroy, or the backend's for its own set) */
static void set_destroy(void *p) {
    fathom_cpu_bf16_set *s = p;
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        if (s->borrowed && s->borrowed[i]) continue;
        if (s->mats) fathom_cpu_bf16_mat_free(&s->mats[i]);
        if (s->q8) fathom_cpu_q8_mat_free(&s->q8[i]);
        if (s->q4) fathom_cpu_q4_mat_free(&s->q4[i]);
    }
    for (int i = 0; i < s->nconv; i++)
        if (!s->borrowed || !s->borrowed[s->cap + i]) fathom_cpu_bf16_mat_free(&s->cmats[i]);
    fathom_free_sized(s->borrowed, (size_t)s->cap + (size_t)s->capconv);
    fathom_free_sized(s->cmats, (size_t)s->capconv * sizeof *s->cmats);
    fathom_free_sized(s->is_conv, (size_t)s->cap);
    fathom_free_sized(s->mats, (size_t)s->cap * sizeof *s->mats);
    fathom_free_sized(s->q8, (size_t)s->cap * sizeof *s->q8);
    fathom_free_sized(s->q4, (size_t)s->cap * sizeof *s->q4);
    fathom_free_sized(s, sizeof *s);
}

void fathom_cpu_bf16_set_free(fathom_cpu_bf16_set *s) {
    if (s && s->share) fathom_packed_share_put(s->share, s); /* the model's: drop our reference */
    else set_destroy(s);
}

/* be holds s (NULL: none) from now on, in place of what it held */
static void attach(fathom_backend *be, fathom_cpu_bf16_set *s) {
    fathom_cpu_ctx *ctx = be->ctx;
    fathom_cpu_bf16_set_free(ctx->bf16);
    ctx->bf16 = s;
}

static int round_up(int v, int m) { return (v + m - 1) / m * m; }

/* Entry slot (an index of mats / q8 / q4, or cmats for an int8 set's convs) from a quantized
 * file: the share's packed twin of w, borrowed, when it holds one (quant_io_load.c); 1 when it
 * did (*st says whether it fit), 0 to pack w here. */
static int adopt(fathom_cpu_bf16_set *s, const float *w, int N, int K, int into_cmats, fathom_status *st) {
    const fathom_packed_blob *b = s->share ? fathom_packed_share_blob(s->share, w) : NULL;
    if (!b) return 0;
    const fathom_packed_kind want = into_cmats || s->kind == KIND_BF16 ? FATHOM_PACKED_BF16
                                    : s->kind == KIND_INT8 ? FATHOM_PACKED_INT8 : FATHOM_PACKED_Q4;
    static const char *const names[] = {"bf16", "int8", "q4"};
    const int Np = round_up(N, want == FATHOM_PACKED_BF16 ? FATHOM_BF16_NR : 32);
    const int Kp = round_up(K, want == FATHOM_PACKED_BF16 ? FATHOM_BF16_KR : want == FATHOM_PACKED_INT8
                                                                              ? FATHOM_Q8_KR : FATHOM_Q4_GROUP);
    *st = FATHOM_OK;
    if (b->kind != want)
        *st = fathom_fail(FATHOM_ERR_FORMAT, "tensor '%s' is packed as %s in the quantized file; this engine "
                          "packs it as %s", b->name, names[b->kind], names[want]);
    else if (b->N != N || b->K != K || b->Np != Np || b->Kp != Kp)
        *st = fathom_fail(FATHOM_ERR_FORMAT, "tensor '%s': %d x %d (padded %d x %d) in the quantized file; the "
                          "engine reads it as %d x %d (padded %d x %d)", b->name, b->N, b->K, b->Np, b->Kp, N, K, Np, Kp);
    if (*st != FATHOM_OK) return 1;
    const int i = into_cmats ? s->nconv : s->n;
    if (into_cmats) s->cmats[i] = (fathom_bf16_mat){w, b->a, N, K, Np, Kp};
    else if (want == FATHOM_PACKED_BF16) s->mats[i] = (fathom_bf16_mat){w, b->a, N, K, Np, Kp};
    else if (want == FATHOM_PACKED_INT8) s->q8[i] = (fathom_q8_mat){w, b->a, b->b, b->c, N, K, Np, Kp};
    else s->q4[i] = (fathom_q4_mat){w, b->a, b->b, N, K, Np, Kp};
    s->borrowed[into_cmats ? s->cap + i : i] = 1;
    return 1;
}

static fathom_status add(fathom_cpu_bf16_set *s, const float *w, int N, int K) {
    /* a row block of bf16 inputs must leave room in scratch for its output tile (and for q4
     * one dequantized panel: 64 bytes per k against the block's 192) */
    if (!w || (size_t)FATHOM_BF16_RB * K > FATHOM_CPU_SCRATCH) return FATHOM_OK; /* stays fp32 */
    if (s->n == s->cap) return fathom_fail(FATHOM_ERR_INVALID_ARG, "cpu: packed weight table full");
    fathom_status st;
    if (adopt(s, w, N, K, 0, &st)) {
        if (st == FATHOM_OK) s->n++;
        return st;
    }
    if (s->kind == KIND_INT8) FATHOM_TRY(fathom_cpu_q8_mat_pack(&s->q8[s->n], w, N, K));
    else if (s->kind == KIND_Q4) FATHOM_TRY(fathom_cpu_q4_mat_pack(&s->q4[s->n], w, N, K));
    else FATHOM_TRY(fathom_cpu_bf16_mat_pack(&s->mats[s->n], w, N, K));
    s->n++;
    return FATHOM_OK;
}

/* Pack conv weight w as the GEMM matrix (N, K) the conv runs (cpu_conv_bf16.c): a conv2d
 * weight (Co, Ci k k) is one already; a transposed conv's (Ci, Co k k) is transposed first
 * (tk: its kernel size, 0 for conv2d). Stays fp32: output_conv2.2 (Co 1: 31 of 32 panel
 * columns would be padding) and shapes whose tiles do not fit the scratch. int8 sets hold
 * their convs in bf16: quantizing im2col rows per pixel would cost a second pass over the
 * largest activations of the network, and the head's error would add to the encoder's; bf16
 * halves the memory and runs on the same kernels as the attention of int8 engines. */
static fathom_status add_conv(fathom_cpu_bf16_set *s, const float *w, int N, int K, int tk) {
    const int q4 = s->kind == KIND_Q4;
    if (!w || N < 16 || !fathom_cpu_conv_packed_fits(N, K, q4)) return FATHOM_OK;
    if (s->kind == KIND_INT8 && s->act_kernel < 0) return FATHOM_OK; /* no fast bf16 kernel */
    int into_cmats = s->kind == KIND_INT8;
    if (into_cmats ? s->nconv == s->capconv : s->n == s->cap)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "cpu: packed weight table full");
    fathom_status st;
    if (adopt(s, w, N, K, into_cmats, &st)) {
        if (st == FATHOM_OK && into_cmats) s->nconv++;
        else if (st == FATHOM_OK) s->is_conv[s->n++] = 1;
        return st;
    }
    float *tw = NULL; /* owned here: the transposed weight, freed once packed */
    const float *src = w;
    if (tk) {
        tw = fathom_alloc((size_t)N * K * sizeof *tw);
        if (!tw) return fathom_fail(FATHOM_ERR_NOMEM, "cpu: cannot transpose a %d x %d conv weight", N, K);
        for (int ci = 0; ci < K; ci++)
            for (int r = 0; r < N; r++) tw[(size_t)r * K + ci] = w[(size_t)ci * N + r];
        src = tw;
    }
    if (into_cmats) {
        st = fathom_cpu_bf16_mat_pack(&s->cmats[s->nconv], src, N, K);
        if (st == FATHOM_OK) s->cmats[s->nconv++].src = w;
    } else {
        st = q4 ? fathom_cpu_q4_mat_pack(&s->q4[s->n], src, N, K)
                : fathom_cpu_bf16_mat_pack(&s->mats[s->n], src, N, K);
        if (st == FATHOM_OK) {
            if (q4) s->q4[s->n].src = w;
            else s->mats[s->n].src = w;
            s->is_conv[s->n++] = 1;
        }
    }
    fathom_free_sized(tw, tw ? (size_t)N * K * sizeof *tw : 0);
    return st;
}

/* Every conv of the DPT head (fields of weights.h) */
static fathom_status add_head(fathom_cpu_bf16_set *s, const fathom_weights *w) {
    const fathom_arch *a = &w->arch;
    const int D = a->embed_dim, F = a->features, *O = a->out_ch;
    fathom_status st = FATHOM_OK;
    for (int k = 0; k < 4 && st == FATHOM_OK; k++) st = add_conv(s, w->proj_w[k], O[k], D, 0);
    if (st == FATHOM_OK) st = add_conv(s, w->resize0_w, O[0] * 16, O[0], 4);
    if (st == FATHOM_OK) st = add_conv(s, w->resize1_w, O[1] * 4, O[1], 2);
    if (st == FATHOM_OK) st = add_conv(s, w->resize3_w, O[3], O[3] * 9, 0);
    for (int k = 0; k < 4 && st == FATHOM_OK; k++) st = add_conv(s, w->rn_w[k], F, O[k] * 9, 0);
    for (int k = 0; k < 4 && st == FATHOM_OK; k++) {
        const fathom_fusion_weights *f = &w->fusion[k];
        const float *c[5] = {f->rcu1_c1_w, f->rcu1_c2_w, f->rcu2_c1_w, f->rcu2_c2_w, f->out_w};
        for (int i = 0; i < 5 && st == FATHOM_OK; i++) st = add_conv(s, c[i], F, i < 4 ? F * 9 : F, 0);
    }
    if (st == FATHOM_OK) st = add_conv(s, w->out1_w, F / 2, F * 9, 0);
    if (st == FATHOM_OK) st = add_conv(s, w->out2_w, a->head_hidden, F / 2 * 9, 0);
    return st;
}

enum { HEAD_CONVS = 4 + 3 + 4 + 4 * 5 + 2 };

/* The GEMM and attention kernels of a kd set (FATHOM_CPU_KERNEL) */
static void pick_kernels(kind kd, int *kernel, int *act_kernel) {
    *kernel = kd == KIND_INT8 ? (int)fathom_cpu_q8_kernel_pick() : (int)fathom_cpu_bf16_kernel_pick();
    /* attention in bf16 too; int8 engines only where it is fast (AVX512-BF16) or forced
     * portable (FATHOM_CPU_KERNEL=portable: everything on the reference kernels) */
    *act_kernel = kd == KIND_INT8 ? (int)fathom_cpu_bf16_kernel_pick() : *kernel;
    if (kd == KIND_INT8 && *act_kernel == FATHOM_CPU_BF16_PORTABLE && *kernel != FATHOM_CPU_Q8_PORTABLE)
        *act_kernel = -1;
}

/* An empty set of kind kd with room for cap entries (int8: capconv bf16 convs beside),
 * its kernels picked (FATHOM_CPU_KERNEL). */
static fathom_status new_set(kind kd, int cap, int capconv, fathom_packed_share *share,
                             fathom_cpu_bf16_set **out) {
    fathom_cpu_bf16_set *s = *out = fathom_calloc(sizeof *s); /* the caller's until attached */
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "cpu: cannot allocate the packed weight table");
    s->share = share;
    s->kind = kd;
    pick_kernels(kd, &s->kernel, &s->act_kernel);
    s->cap = cap + (kd == KIND_INT8 ? 0 : capconv);
    s->capconv = kd == KIND_INT8 ? capconv : 0;
    if (kd == KIND_INT8) s->q8 = fathom_calloc((size_t)s->cap * sizeof *s->q8);
    else if (kd == KIND_Q4) s->q4 = fathom_calloc((size_t)s->cap * sizeof *s->q4);
    else s->mats = fathom_calloc((size_t)s->cap * sizeof *s->mats);
    s->is_conv = fathom_calloc((size_t)s->cap);
    if (s->capconv) s->cmats = fathom_calloc((size_t)s->capconv * sizeof *s->cmats);
    s->borrowed = fathom_calloc((size_t)s->cap + (size_t)s->capconv);
    return (s->mats || s->q8 || s->q4) && s->is_conv && s->borrowed && (!s->capconv || s->cmats)
               ? FATHOM_OK
               : fathom_fail(FATHOM_ERR_NOMEM, "cpu: cannot allocate the packed weight table");
}

static void entry(const fathom_cpu_bf16_set *s, int i, const float **src, int *N, int *K, size_t *bytes);

/* A quantized file's every matrix must be in s: its fp32 tensor was never loaded */
static fathom_status all_adopted(const fathom_cpu_bf16_set *s) {
    const fathom_packed_blob *b;
    size_t nb = s->share ? fathom_packed_share_blobs(s->share, &b) : 0, used = 0;
    for (int i = 0; i < s->cap + s->capconv; i++) used += s->borrowed[i];
    if (used == nb) return FATHOM_OK;
    for (size_t j = 0; j < nb; j++) {
        int found = 0;
        for (int i = 0; i < s->n + s->nconv && !found; i++) {
            const float *src;
            int N, K;
            size_t bytes;
            entry(s, i, &src, &N, &K, &bytes);
            found = src == b[j].src;
        }
        if (!found)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED,
                               "tensor '%s' of the quantized file has no place in this engine (its format "
                               "on this CPU leaves it fp32): quantize at load from the fp32 model instead",
                               b[j].name);
    }
    return FATHOM_OK;
}

/* Every packed weight of w (encoder linears, then the head's convs) in a new set *out */
static fathom_status pack_all(const fathom_weights *w, kind kd, fathom_cpu_bf16_set **out) {
    const fathom_arch *a = &w->arch;
    const int D = a->embed_dim, Hm = a->mlp_hidden, P = a->patch;
    fathom_cpu_bf16_set *s;
    fathom_status st = new_set(kd, 1 + 4 * a->depth, HEAD_CONVS, w->share, &s);
    if (st == FATHOM_OK) st = add(s, w->patch_w, D, 3 * P * P);
    for (int i = 0; i < a->depth && st == FATHOM_OK; i++) {
        const fathom_block_weights *b = &w->blocks[i];
        if ((st = add(s, b->qkv_w, 3 * D, D)) != FATHOM_OK) break;
        if ((st = add(s, b->proj_w, D, D)) != FATHOM_OK) break;
        /* SwiGLU (vitg): fc1 is w12 (2 Hs, D), mlp_hidden = Hs */
        if ((st = add(s, b->fc1_w, a->swiglu ? 2 * Hm : Hm, D)) != FATHOM_OK) break;
        st = add(s, b->fc2_w, D, Hm);
    }
    if (st == FATHOM_OK) st = add_head(s, w);
    if (st == FATHOM_OK) st = all_adopted(s);
    if (st != FATHOM_OK) {
        set_destroy(s);
        s = NULL;
    }
    *out = s;
    return st;
}

typedef struct build_arg {
    const fathom_weights *w;
    kind kd;
} build_arg;

static fathom_status build(void *arg, void **set) {
    const build_arg *b = arg;
    fathom_cpu_bf16_set *s = NULL;
    fathom_status st = pack_all(b->w, b->kd, &s);
    *set = s;
    return st;
}

/* be's set for w in kind kd: the model's shared one (made by the first engine), or, for
 * weights without a share, one of its own */
static fathom_status prepare(fathom_backend *be, const fathom_weights *w, kind kd) {
    attach(be, NULL);
    if (!w->share) {
        fathom_cpu_bf16_set *s = NULL;
        FATHOM_TRY(pack_all(w, kd, &s));
        attach(be, s);
        return FATHOM_OK;
    }
    int kernel, act;
    pick_kernels(kd, &kernel, &act);
    build_arg b = {w, kd};
    void *set = NULL;
    FATHOM_TRY(fathom_packed_share_get(w->share, (int)kd * 64 + (kernel + 1) * 8 + act + 1,
                                       kd == KIND_BF16 ? FATHOM_PACKED_BF16 : kd == KIND_INT8 ? FATHOM_PACKED_INT8
                                                                                 : FATHOM_PACKED_Q4,
                                       build, &b, set_destroy, &set));
    attach(be, set);
    return FATHOM_OK;
}

fathom_status fathom_cpu_pack_one(fathom_backend *be, fathom_weight_format format, const float *w, int N,
                                  int K, int conv) {
    kind kd = format == FATHOM_WEIGHTS_INT8 ? KIND_INT8 : format == FATHOM_WEIGHTS_Q4 ? KIND_Q4 : KIND_BF16;
    fathom_cpu_bf16_set *s;
    attach(be, NULL);
    fathom_status st = new_set(kd, 1, 1, NULL, &s);
    if (st == FATHOM_OK) st = conv < 0 ? add(s, w, N, K) : add_conv(s, w, N, K, conv);
    if (st != FATHOM_OK) {
        set_destroy(s);
        return st;
    }
    attach(be, s);
    return FATHOM_OK;
}

fathom_status fathom_cpu_pack_pair(fathom_backend *be, fathom_weight_format format, const float *w1, int N1,
                                   int K1, const float *w2, int N2, int K2) {
    kind kd = format == FATHOM_WEIGHTS_INT8 ? KIND_INT8 : format == FATHOM_WEIGHTS_Q4 ? KIND_Q4 : KIND_BF16;
    fathom_cpu_bf16_set *s;
    attach(be, NULL);
    fathom_status st = new_set(kd, 2, 0, NULL, &s);
    if (st == FATHOM_OK) st = add(s, w1, N1, K1);
    if (st == FATHOM_OK) st = add(s, w2, N2, K2);
    if (st != FATHOM_OK) {
        set_destroy(s);
        return st;
    }
    attach(be, s);
    return FATHOM_OK;
}

fathom_status fathom_cpu_bf16_prepare(fathom_backend *be, const fathom_weights *w) {
    return prepare(be, w, KIND_BF16);
}

fathom_status fathom_cpu_q8_prepare(fathom_backend *be, const fathom_weights *w) {
    return prepare(be, w, KIND_INT8);
}

fathom_status fathom_cpu_q4_prepare(fathom_backend *be, const fathom_weights *w) {
    return prepare(be, w, KIND_Q4);
}

fathom_status fathom_cpu_prepare_weights(fathom_backend *be, const fathom_weights *w,
                                         fathom_precision precision, fathom_weight_format format) {
    if (format == FATHOM_WEIGHTS_INT8) return prepare(be, w, KIND_INT8);
    if (format == FATHOM_WEIGHTS_Q4) return prepare(be, w, KIND_Q4);
    if (format != FATHOM_WEIGHTS_DEFAULT)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "cpu: unknown weight format %d", (int)format);
    if (precision == FATHOM_PRECISION_BF16) return prepare(be, w, KIND_BF16);
    attach(be, NULL); /* fp32: the weights as given, which must all be there */
    size_t gone = w->share ? fathom_packed_share_released(w->share) : 0;
    if (gone)
        return fathom_fail(FATHOM_ERR_INVALID_ARG,
                           "%.1f MiB of this model's fp32 weights were released (release_fp32) for its "
                           "packed engines; an fp32 engine needs them: load the model again",
                           gone / 1048576.0);
    return FATHOM_OK;
}

static const fathom_cpu_bf16_set *set_of(fathom_backend *be, kind kd) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    return s && s->kind == kd ? s : NULL;
}

const fathom_bf16_mat *fathom_cpu_bf16_find(fathom_backend *be, const float *w) {
    const fathom_cpu_bf16_set *s = set_of(be, KIND_BF16);
    for (int i = 0; s && i < s->n; i++)
        if (s->mats[i].src == w) return &s->mats[i];
    return NULL;
}

const fathom_q8_mat *fathom_cpu_q8_find(fathom_backend *be, const float *w) {
    const fathom_cpu_bf16_set *s = set_of(be, KIND_INT8);
    for (int i = 0; s && i < s->n; i++)
        if (s->q8[i].src == w) return &s->q8[i];
    return NULL;
}

const fathom_q4_mat *fathom_cpu_q4_find(fathom_backend *be, const float *w) {
    const fathom_cpu_bf16_set *s = set_of(be, KIND_Q4);
    for (int i = 0; s && i < s->n; i++)
        if (s->q4[i].src == w) return &s->q4[i];
    return NULL;
}

int fathom_cpu_conv_find(fathom_backend *be, const float *w, const fathom_bf16_mat **wb,
                         const fathom_q4_mat **w4, int *kern) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    *wb = NULL, *w4 = NULL;
    if (!s || !w) return 0;
    if (s->kind == KIND_INT8) {
        for (int i = 0; i < s->nconv; i++)
            if (s->cmats[i].src == w) *wb = &s->cmats[i];
        *kern = s->act_kernel;
    } else {
        for (int i = 0; i < s->n; i++)
            if (s->is_conv[i] && (s->kind == KIND_Q4 ? s->q4[i].src : s->mats[i].src) == w) {
                if (s->kind == KIND_Q4) *w4 = &s->q4[i];
                else *wb = &s->mats[i];
            }
        *kern = s->kernel;
    }
    return *wb || *w4;
}

int fathom_cpu_bf16_kernel_of(fathom_backend *be) {
    const fathom_cpu_bf16_set *s = set_of(be, KIND_BF16);
    return s ? s->kernel : -1;
}

int fathom_cpu_q8_kernel_of(fathom_backend *be) {
    const fathom_cpu_bf16_set *s = set_of(be, KIND_INT8);
    return s ? s->kernel : -1;
}

int fathom_cpu_q4_kernel_of(fathom_backend *be) {
    const fathom_cpu_bf16_set *s = set_of(be, KIND_Q4);
    return s ? s->kernel : -1;
}

int fathom_cpu_bf16_act_kernel(fathom_backend *be) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    return s ? s->act_kernel : -1;
}

/* Entry i of s, i < s->n + s->nconv: the fp32 weight it stands for, its shape and bytes held */
static void entry(const fathom_cpu_bf16_set *s, int i, const float **src, int *N, int *K, size_t *bytes) {
    const fathom_bf16_mat *b = i >= s->n ? &s->cmats[i - s->n] : s->kind == KIND_BF16 ? &s->mats[i] : NULL;
    if (b) {
        *src = b->src, *N = b->N, *K = b->K;
        *bytes = (size_t)b->Np * b->Kp * sizeof(uint16_t);
    } else if (s->kind == KIND_Q4) {
        *src = s->q4[i].src, *N = s->q4[i].N, *K = s->q4[i].K;
        *bytes = fathom_cpu_q4_mat_bytes(&s->q4[i]);
    } else {
        const fathom_q8_mat *m = &s->q8[i];
        *src = m->src, *N = m->N, *K = m->K;
        *bytes = (size_t)m->Np * m->Kp + (size_t)m->Np * (sizeof *m->scale + sizeof *m->colsum);
    }
}

void fathom_cpu_packed_bytes(fathom_backend *be, size_t *packed, size_t *fp32) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    *packed = *fp32 = 0;
    for (int i = 0; s && i < s->n + s->nconv; i++) {
        const float *src;
        int N, K;
        size_t b;
        entry(s, i, &src, &N, &K, &b);
        *packed += b;
        *fp32 += (size_t)N * K * sizeof(float);
    }
}

size_t fathom_cpu_packed_sources(fathom_backend *be, const float **src, size_t *floats, size_t cap) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    size_t n = 0;
    for (int i = 0; s && i < s->n + s->nconv; i++, n++) {
        const float *w;
        int N, K;
        size_t b;
        entry(s, i, &w, &N, &K, &b);
        if (n < cap) src[n] = w, floats[n] = (size_t)N * K;
    }
    return n;
}

size_t fathom_cpu_packed_blobs(fathom_backend *be, fathom_packed_blob *out, size_t cap) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    size_t n = 0;
    for (int i = 0; s && i < s->n + s->nconv; i++, n++) {
        if (n >= cap) continue;
        fathom_packed_blob *b = &out[n];
        memset(b, 0, sizeof *b);
        const fathom_bf16_mat *m = i >= s->n ? &s->cmats[i - s->n] : s->kind == KIND_BF16 ? &s->mats[i] : NULL;
        if (m) {
            *b = (fathom_packed_blob){.src = m->src, .kind = FATHOM_PACKED_BF16, .N = m->N, .K = m->K, .Np = m->Np,
                                      .Kp = m->Kp, .a = m->w, .na = (size_t)m->Np * m->Kp * sizeof(uint16_t)};
        } else if (s->kind == KIND_Q4) {
            const fathom_q4_mat *q = &s->q4[i];
            *b = (fathom_packed_blob){.src = q->src, .kind = FATHOM_PACKED_Q4, .N = q->N, .K = q->K, .Np = q->Np,
                                      .Kp = q->Kp, .a = q->q, .na = (size_t)q->Np * q->Kp / 2, .b = q->scale,
                                      .nb = (size_t)q->Np * (q->Kp / FATHOM_Q4_GROUP) * sizeof(uint16_t)};
        } else {
            const fathom_q8_mat *q = &s->q8[i];
            *b = (fathom_packed_blob){.src = q->src, .kind = FATHOM_PACKED_INT8, .N = q->N, .K = q->K, .Np = q->Np,
                                      .Kp = q->Kp, .a = q->w, .na = (size_t)q->Np * q->Kp, .b = q->scale,
                                      .nb = (size_t)q->Np * sizeof(float), .c = q->colsum,
                                      .nc = (size_t)q->Np * sizeof(int32_t)};
        }
    }
    return n;
}

/* rows of ir (row stride K) in the GEMM's form: bf16 rows at a, or int8 rows at aq and their
 * scales at sa (row stride Kp) */
static void convert(uint16_t *a, int8_t *aq, float *sa, const float *ir, int rows, int K, int Kp, int fast) {
    if (a && fast) fathom_cpu_bf16_rows_avx512(a, ir, rows, K, Kp); /* fast kernels: AVX512-BF16 */
    else if (a) fathom_cpu_bf16_rows(a, ir, rows, K, Kp);
    else if (fast) fathom_cpu_q8_rows_avx512(aq, sa, ir, rows, K, Kp); /* fast kernels: AVX-512 */
    else fathom_cpu_q8_rows(aq, sa, ir, rows, K, Kp);
}

/* This task's input rows in the GEMM's form (bf16, or int8 and their scales) at sc, zero rows
 * past `rows` up to pad (<= FATHOM_BF16_RB), as the kernels read whole tiles. With ln, each
 * row is normalized first into lnrow (K floats, stays in L1) and converted from there. */
static void convert_rows(void *sc, const float *ir, int rows, int pad, int K, int Kp, int int8, int fast,
                         const fathom_cpu_ln *ln, float *lnrow) {
    const int RB = FATHOM_BF16_RB;
    uint16_t *a = int8 ? NULL : sc;
    int8_t *aq = int8 ? sc : NULL;
    float *sa = int8 ? (float *)((char *)sc + (size_t)RB * Kp) : NULL;
    if (!ln) convert(a, aq, sa, ir, rows, K, Kp, fast);
    for (int r = 0; ln && r < rows; r++) {
        const float *xr = ir + (size_t)r * K;
        if (fast) fathom_cpu_layernorm_row_avx512(lnrow, xr, ln->w, ln->b, K, ln->eps);
        else fathom_cpu_layernorm_row(lnrow, xr, ln->w, ln->b, K, ln->eps);
        convert(a ? a + (size_t)r * Kp : NULL, aq ? aq + (size_t)r * Kp : NULL, sa ? sa + r : NULL, lnrow, 1, K,
                Kp, fast);
    }
    if (rows < pad && a) memset(a + (size_t)rows * Kp, 0, (size_t)(pad - rows) * Kp * sizeof *a);
    if (rows < pad && aq) memset(aq + (size_t)rows * Kp, 0, (size_t)(pad - rows) * Kp);
}

/* Where a packed linear's rows come from and go besides the plain fp32 in / out */
typedef struct lp_io {
    const fathom_cpu_ln *ln; /* normalize each input row first (ln_linear) */
    const uint16_t *abf;     /* input rows already bf16 (row stride Kp, zero rows up to RB) */
    uint16_t *obf;           /* output rows as bf16 (row stride ldob, zeros from N to ldob) */
    int ldob;
} lp_io;

/* The epilogue of one task's tile (rows x cols fp32 at o, ld ldo): bias and act in place, then
 * out as bf16 rows (io->obf), or gamma-scaled into the residual out */
static void epilogue(const lp_io *io, float *out, float *o, size_t ldo, const float *b, const float *gamma,
                     int m0, int n0, int rows, int cols, int N, fathom_act act, int fast) {
    for (int r = 0; r < rows && !gamma; r++) {
        float *orow = o + (size_t)r * ldo;
        /* AVX-512 GELU, erf to 3e-7 (the next GEMM rounds to bf16 / int8 steps): the fp32
         * one's erff cost int8's fc1 more than its GEMM */
        if (fast && act == FATHOM_ACT_GELU) fathom_cpu_bias_gelu_avx512(orow, b ? b + n0 : NULL, cols);
        else if (b || act != FATHOM_ACT_NONE) fathom_cpu_bias_act(orow, b ? b + n0 : NULL, cols, act);
        if (!io->obf) continue;
        uint16_t *hr = io->obf + (size_t)(m0 + r) * io->ldob;
        if (fast) fathom_cpu_bf16_rows_avx512(hr + n0, orow, 1, cols, cols);
        else fathom_cpu_bf16_rows(hr + n0, orow, 1, cols, cols);
        if (n0 + cols == N) memset(hr + N, 0, (size_t)(io->ldob - N) * sizeof *hr);
    }
    for (int r = 0; r < rows && gamma; r++) {
        float *xr = out + (size_t)(m0 + r) * N + n0;
        const float *tr = o + (size_t)r * ldo, *br = b ? b + n0 : NULL;
        if (fast) fathom_cpu_residual_avx512(xr, tr, br, gamma + n0, (size_t)cols);
        else fathom_cpu_residual(xr, tr, br, gamma + n0, (size_t)cols);
    }
}

/* The epilogue as the GEMM's per-block callback (fathom_gemm_ep): ctx is the task's lp_task */
typedef struct lp_task {
    const lp_io *io;
    float *out;
    const float *b, *gamma;
    int m0, n0, N, fast;
    fathom_act act;
} lp_task;

static void task_block(const fathom_gemm_ep *ep, float *blk, size_t ld, int row, int col, int rows, int cols) {
    const lp_task *t = ep->ctx;
    epilogue(t->io, t->out, blk, ld, t->b, t->gamma, t->m0 + row, t->n0 + col, rows, cols, t->N, t->act, t->fast);
}

/* Row blocks (tasks) of FATHOM_BF16_RB rows, 32 on the AMX kernels (their tile height; 43
 * tasks at L 1370 leave two threads no tail): the block's rows are converted in scratch once
 * (or read as bf16 from io->abf), then the whole of N (or a column chunk that leaves room for
 * the output tile). The epilogue runs inside the GEMM, on each 32 x 32 block as its tiles are
 * stored on AMX, else on the task's tile after it. Scratch: converted rows, [q4: one
 * dequantized panel], [residual or bf16 out: rows x nc tile; ln: the row being normalized]. */
static void linear_packed(fathom_backend *be, float *out, const float *in, const lp_io *io,
                          const fathom_bf16_mat *w, const fathom_q8_mat *wq, const fathom_q4_mat *w4,
                          const float *b, const float *gamma, int M, int N, int K, fathom_act act) {
    const int kern = ((fathom_cpu_ctx *)be->ctx)->bf16->kernel;
    const int RB = FATHOM_BF16_RB, Kp = w ? w->Kp : wq ? wq->Kp : w4->Kp;
    const int fast = wq ? kern != FATHOM_CPU_Q8_PORTABLE : kern != FATHOM_CPU_BF16_PORTABLE;
    const size_t abytes = !wq ? ((size_t)RB * Kp * sizeof(uint16_t) + 63) / 64 * 64
                              : ((size_t)RB * Kp + RB * sizeof(float) + 63) / 64 * 64;
    const size_t pbytes = w4 ? (size_t)Kp * 32 * sizeof(uint16_t) : 0;
    const int tiled = gamma || io->obf;
    int nc = N;
    if (tiled) {
        size_t room = FATHOM_CPU_SCRATCH - (abytes + pbytes) / sizeof(float);
        size_t fit = room / RB / FATHOM_BF16_NR * FATHOM_BF16_NR;
        if ((size_t)nc > fit) nc = (int)fit;
    }
    /* q4 stays at RB rows: each task dequantizes every panel it runs */
    const int amx = !w4 && (wq ? kern == FATHOM_CPU_Q8_AMX : kern == FATHOM_CPU_BF16_AMX);
    const int rb = amx ? 32 : RB, block_ep = tiled && !w4;
    const int nrow = (M + rb - 1) / rb, ncol = (N + nc - 1) / nc;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < nrow * ncol; t++) {
        int m0 = (t / ncol) * rb, n0 = (t % ncol) * nc;
        int rows = M - m0 < rb ? M - m0 : rb, cols = N - n0 < nc ? N - n0 : nc;
        void *sc = fathom_cpu_scratch(be);
        float *tile = (float *)((char *)sc + abytes + pbytes);
        /* ln: the row being normalized sits where the tile goes after the conversion */
        if (!io->abf) convert_rows(sc, in + (size_t)m0 * K, rows, rb, K, Kp, wq != NULL, fast, io->ln, tile);
        const uint16_t *a = io->abf ? io->abf + (size_t)m0 * Kp : sc;
        const int8_t *aq = sc;
        const float *sa = (const float *)((char *)sc + (size_t)RB * Kp);
        uint16_t *panel = (uint16_t *)((char *)sc + abytes);
        float *o = tiled ? tile : out + (size_t)m0 * N + n0;
        size_t ldo = tiled ? (size_t)cols : (size_t)N;
        const lp_task task = {io, out, b, gamma, m0, n0, N, fast, act};
        const fathom_gemm_ep ep = {task_block, &task, 0}, *e = block_ep ? &ep : NULL;
        if (w) fathom_cpu_gemm_bf16_ep(kern, o, ldo, a, w, n0, cols, rows, e);
        else if (wq) fathom_cpu_gemm_q8_ep(kern, o, ldo, aq, sa, wq, n0, cols, rows, e);
        else fathom_cpu_gemm_q4(kern, o, ldo, a, w4, n0, cols, rows, panel);
        if (!block_ep) epilogue(io, out, o, ldo, b, gamma, m0, n0, rows, cols, N, act, fast);
    }
}

void fathom_cpu_linear_packed(fathom_backend *be, float *out, const float *in,
                              const fathom_bf16_mat *w, const fathom_q8_mat *wq,
                              const fathom_q4_mat *w4, const float *b, const float *gamma, int M,
                              int N, int K, fathom_act act) {
    const lp_io io = {0};
    linear_packed(be, out, in, &io, w, wq, w4, b, gamma, M, N, K, act);
}

void fathom_cpu_ln_linear_packed(fathom_backend *be, float *out, const float *x, const fathom_cpu_ln *ln,
                                 const fathom_bf16_mat *w, const fathom_q8_mat *wq,
                                 const fathom_q4_mat *w4, const float *b, int M, int N, int K,
                                 fathom_act act) {
    const lp_io io = {ln, NULL, NULL, 0};
    linear_packed(be, out, x, &io, w, wq, w4, b, NULL, M, N, K, act);
}

size_t fathom_cpu_mlp_hidden_bytes(int M, int Kp) {
    const int RB = FATHOM_BF16_RB;
    return (size_t)((M + RB - 1) / RB * RB) * (size_t)Kp * sizeof(uint16_t);
}

void fathom_cpu_ln_mlp_packed(fathom_backend *be, float *x, uint16_t *hb, const fathom_cpu_ln *ln,
                              const fathom_bf16_mat *w1, const fathom_q4_mat *q1, const float *b1,
                              const fathom_bf16_mat *w2, const fathom_q4_mat *q2, const float *b2,
                              const float *gamma, int M, int D, int H) {
    const int RB = FATHOM_BF16_RB, Kp = w2 ? w2->Kp : q2->Kp, Mp = (M + RB - 1) / RB * RB;
    memset(hb + (size_t)M * Kp, 0, (size_t)(Mp - M) * Kp * sizeof *hb); /* rows the tiles read past M */
    const lp_io io1 = {ln, NULL, hb, Kp}, io2 = {NULL, hb, NULL, 0};
    linear_packed(be, NULL, x, &io1, w1, NULL, q1, b1, NULL, M, H, D, FATHOM_ACT_GELU);
    linear_packed(be, x, NULL, &io2, w2, NULL, q2, b2, gamma, M, D, H, FATHOM_ACT_NONE);
}
