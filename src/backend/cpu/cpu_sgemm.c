/* cpu_sgemm.c - the fp32 encoder linears on our own AVX-512 GEMM (cpu_sgemm.h): weight panels
 * made once at load, then per call one task per block of MC rows (and, for small M, per
 * range of panels) on the backend's OpenMP team. A task normalizes its rows into its scratch
 * (ln_linear; the same LayerNorm row as the layernorm op), then runs every panel over its
 * rows in 14 x 32 register tiles: the panel (K x 32) is reused by MC / 14 tiles while in L2,
 * the rows by every panel. Bias and the LayerScale residual are added in the tile store;
 * GELU runs over the task's rows right after, while they are still in L2. Against OpenBLAS
 * this saves its per-call packing of both operands (~9 % of an fp32 pass), the separate
 * layernorm, bias + GELU and residual passes. */
#include "backend/cpu/cpu_sgemm.h"

#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "core/alloc.h"
#include "core/status.h"
#include "model/weights.h"

enum {
    MR = FATHOM_SGEMM_MR,
    NR = FATHOM_SGEMM_NR,
    MC = 4 * MR,      /* rows per task: a panel serves 4 register tiles from L2 */
    PACK_PANELS = 24, /* a task of this many panels packs its rows first */
};

struct fathom_cpu_sgemm_set {
    fathom_packed_share *share; /* borrowed: the share that owns this set; NULL: the backend owns it */
    fathom_sgemm_mat *m;        /* owned: n of cap */
    int n, cap;
    size_t bytes; /* panels held */
};

/* Frees s whole (the owner's call: the share's destroy, or the backend's for its own set) */
static void set_destroy(void *p) {
    fathom_cpu_sgemm_set *s = p;
    if (!s) return;
    for (int i = 0; i < s->n; i++) fathom_free_sized(s->m[i].p, (size_t)s->m[i].Np * s->m[i].K * sizeof(float));
    free(s->m);
    free(s);
}

void fathom_cpu_sgemm_set_free(fathom_cpu_sgemm_set *s) {
    if (s && s->share) fathom_packed_share_put(s->share, s); /* the model's: drop our reference */
    else set_destroy(s);
}

static void attach(fathom_backend *be, fathom_cpu_sgemm_set *s) {
    fathom_cpu_ctx *ctx = be->ctx;
    fathom_cpu_sgemm_set_free(ctx->sgemm);
    ctx->sgemm = s;
}

/* one weight (N, K) into the next slot of s as panels, on the backend's team (as every op:
 * a one-thread engine stays on its own thread) */
static fathom_status add(fathom_backend *be, fathom_cpu_sgemm_set *s, const float *w, int N, int K) {
    if (!w || N <= 0 || K <= 0) return FATHOM_OK; /* absent (a model without it): nothing to pack */
    fathom_sgemm_mat *m = &s->m[s->n];
    m->src = w, m->N = N, m->K = K, m->Np = (N + NR - 1) / NR * NR;
    const size_t bytes = (size_t)m->Np * K * sizeof(float);
    m->p = fathom_alloc(bytes);
    if (!m->p) return fathom_fail(FATHOM_ERR_NOMEM, "cpu: cannot allocate %zu bytes of fp32 weight panels", bytes);
    s->n++;
    s->bytes += bytes;
    float *p = m->p;
    const int np = m->Np / NR;
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int j = 0; j < np; j++) {
        float *pj = p + (size_t)j * K * NR;
        for (int c = 0; c < NR; c++) {
            const int n = j * NR + c;
            if (n < N)
                for (int k = 0; k < K; k++) pj[(size_t)k * NR + c] = w[(size_t)n * K + k];
            else
                for (int k = 0; k < K; k++) pj[(size_t)k * NR + c] = 0.0f;
        }
    }
    return FATHOM_OK;
}

static fathom_status new_set(int cap, fathom_cpu_sgemm_set **out) {
    fathom_cpu_sgemm_set *s = *out = calloc(1, sizeof *s); /* the caller's */
    if (s) s->m = calloc((size_t)cap, sizeof *s->m), s->cap = cap;
    if (!s || !s->m) return fathom_fail(FATHOM_ERR_NOMEM, "cpu: cannot allocate the fp32 panel set");
    return FATHOM_OK;
}

fathom_status fathom_cpu_sgemm_pack(fathom_backend *be, const float *const *w, const int *N, const int *K, int n) {
    fathom_cpu_sgemm_set *s = NULL;
    fathom_status st = new_set(n, &s);
    for (int i = 0; i < n && st == FATHOM_OK; i++) st = add(be, s, w[i], N[i], K[i]);
    if (st != FATHOM_OK) {
        fathom_cpu_sgemm_set_free(s);
        s = NULL;
    }
    attach(be, s);
    return st;
}

/* every encoder linear of w as panels, packed on be's team */
static fathom_status pack_encoder(fathom_backend *be, const fathom_weights *w, fathom_cpu_sgemm_set **out) {
    const fathom_arch *a = &w->arch;
    const int D = a->embed_dim, Hm = a->mlp_hidden, P = a->patch;
    fathom_cpu_sgemm_set *s = NULL;
    fathom_status st = new_set(1 + 4 * a->depth, &s);
    if (st == FATHOM_OK) st = add(be, s, w->patch_w, D, 3 * P * P);
    for (int i = 0; i < a->depth && st == FATHOM_OK; i++) {
        const fathom_block_weights *b = &w->blocks[i];
        if ((st = add(be, s, b->qkv_w, 3 * D, D)) != FATHOM_OK) break;
        if ((st = add(be, s, b->proj_w, D, D)) != FATHOM_OK) break;
        if ((st = add(be, s, b->fc1_w, a->swiglu ? 2 * Hm : Hm, D)) != FATHOM_OK) break; /* vitg: w12 */
        st = add(be, s, b->fc2_w, D, Hm);
    }
    if (st != FATHOM_OK) {
        set_destroy(s);
        s = NULL;
    } else {
        s->share = w->share;
    }
    *out = s;
    return st;
}

typedef struct {
    fathom_backend *be;
    const fathom_weights *w;
} build_arg;

static fathom_status build(void *arg, void **set) {
    const build_arg *b = arg;
    fathom_cpu_sgemm_set *s = NULL;
    fathom_status st = pack_encoder(b->be, b->w, &s);
    *set = s;
    return st;
}

/* The share's key for the fp32 panels: past the packed sets' keys (cpu_packed.c: kind * 64 +
 * kernels, kinds 0-2); the format -1 is no packed kind (a model loaded quantized has no fp32
 * weights to pack, and the share refuses it). */
enum { SHARE_KEY = 4 * 64, SHARE_FORMAT = -1 };

/* The panels are as large as the fp32 encoder weights (ViT-L: 1.2 GiB), so all engines of one
 * model share one set (made by the first, read-only afterwards), as the packed formats do. */
fathom_status fathom_cpu_sgemm_prepare(fathom_backend *be, const fathom_weights *w) {
    attach(be, NULL);
    /* OpenBLAS on the fp32 weights: no AVX-512, or the portable kernels forced */
    const char *env = getenv("FATHOM_CPU_KERNEL");
    if (!fathom_cpu_has_avx512() || (env && !strcmp(env, "portable"))) return FATHOM_OK;
    if (!w->share) {
        fathom_cpu_sgemm_set *s = NULL;
        FATHOM_TRY(pack_encoder(be, w, &s));
        attach(be, s);
        return FATHOM_OK;
    }
    build_arg b = {be, w};
    void *set = NULL;
    FATHOM_TRY(fathom_packed_share_get(w->share, SHARE_KEY, SHARE_FORMAT, build, &b, set_destroy, &set));
    attach(be, set);
    return FATHOM_OK;
}

size_t fathom_cpu_sgemm_bytes(fathom_backend *be) {
    const fathom_cpu_sgemm_set *s = ((fathom_cpu_ctx *)be->ctx)->sgemm;
    return s ? s->bytes : 0;
}

const fathom_sgemm_mat *fathom_cpu_sgemm_find(fathom_backend *be, const float *w, int N, int K) {
    const fathom_cpu_sgemm_set *s = ((fathom_cpu_ctx *)be->ctx)->sgemm;
    if (!s || !fathom_cpu_has_avx512()) return NULL;
    /* a task's rows (MC x K, packed or normalized) and one LayerNorm row must fit its scratch */
    if ((size_t)(MC + 1) * K > FATHOM_CPU_SCRATCH) return NULL;
    for (int i = 0; i < s->n; i++)
        if (s->m[i].src == w && s->m[i].N == N && s->m[i].K == K) return &s->m[i];
    return NULL;
}

/* A task's rows [0, rows) of a (or their LayerNorm, through row) packed k-major in tiles of
 * 14: ap[(r / 14) 14 K + k 14 + r % 14], zero rows up to a multiple of 14 */
static void pack_rows(float *ap, const float *a, int rows, int K, const fathom_cpu_ln *ln, float *row) {
    for (int r = 0; r < (rows + MR - 1) / MR * MR; r++) {
        float *d = ap + (size_t)(r / MR) * MR * K + r % MR;
        const float *src = a + (size_t)r * K;
        if (r >= rows) {
            for (int k = 0; k < K; k++) d[(size_t)k * MR] = 0.0f;
            continue;
        }
        if (ln) fathom_cpu_layernorm_row(row, src, ln->w, ln->b, K, ln->eps), src = row;
        for (int k = 0; k < K; k++) d[(size_t)k * MR] = src[k];
    }
}

/* One task: rows [m0, m0 + rows) x panels [p0, p1), in this thread's scratch. Many panels:
 * the rows are packed first (one A stream for the tiles instead of 14; the packing is paid
 * back from ~24 panels on, measured); few: the tiles read the rows in place (LayerNorm
 * written to the scratch first). */
static void task(fathom_backend *be, float *out, const float *in, const fathom_cpu_ln *ln,
                 const fathom_sgemm_mat *w, const float *b, const float *gamma, fathom_act act, int m0, int rows,
                 int p0, int p1) {
    const int N = w->N, K = w->K;
    float *s = fathom_cpu_scratch(be);
    const float *a = in + (size_t)m0 * K;
    const int packed = p1 - p0 >= PACK_PANELS;
    if (packed) {
        pack_rows(s, a, rows, K, ln, s + (size_t)MC * K);
        a = s;
    } else if (ln) {
        for (int r = 0; r < rows; r++)
            fathom_cpu_layernorm_row(s + (size_t)r * K, a + (size_t)r * K, ln->w, ln->b, K, ln->eps);
        a = s;
    }
    for (int p = p0; p < p1; p++) {
        const int n0 = p * NR, cols = N - n0 < NR ? N - n0 : NR;
        const float *bp = w->p + (size_t)p * K * NR;
        const fathom_sgemm_epi e = {b ? b + n0 : NULL, gamma ? gamma + n0 : NULL, act};
        for (int r0 = 0; r0 < rows; r0 += MR) {
            float *c = out + (size_t)(m0 + r0) * N + n0;
            const int mr = rows - r0 < MR ? rows - r0 : MR;
            if (packed) fathom_cpu_sgemm_tile_packed_avx512(c, N, a + (size_t)r0 * K, bp, K, mr, cols, &e);
            else fathom_cpu_sgemm_tile_avx512(c, N, a + (size_t)r0 * K, K, bp, K, mr, cols, &e);
        }
    }
}

void fathom_cpu_sgemm_linear(fathom_backend *be, float *out, const float *in, const fathom_cpu_ln *ln,
                             const fathom_sgemm_mat *w, const float *b, const float *gamma, int M,
                             fathom_act act) {
    const int panels = w->Np / NR, rblocks = (M + MC - 1) / MC;
    /* few row blocks (small M): split the panels too, so every thread has work */
    int split = 1;
    while (rblocks * split < 4 * be->threads && panels >= 2 * split) split *= 2;
    const int per = (panels + split - 1) / split;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < rblocks * split; t++) {
        const int m0 = t / split * MC, rows = M - m0 < MC ? M - m0 : MC;
        const int p0 = t % split * per, p1 = p0 + per < panels ? p0 + per : panels;
        if (p0 >= p1) continue;
        task(be, out, in, ln, w, b, gamma, act, m0, rows, p0, p1);
    }
}
