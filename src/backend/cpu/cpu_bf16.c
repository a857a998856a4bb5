/* cpu_bf16.c - bf16 weight packing, the portable kernel, dispatch and the bf16 linear ops.
 *
 * Layout of a packed matrix (w (N, K) -> panels): element (n, k) sits at
 *   ((n / 32) * (Kp / 2) + k / 2) * 64 + (n % 32) * 2 + (k % 2)
 * so one k-pair row of a panel is 32 columns x 2 bf16 = 128 bytes: two zmm operands of
 * vdpbf16ps, or two AMX B-tile rows (16 columns each) at a 128-byte stride. */
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_q8.h"
#include "core/alloc.h"
#include "core/status.h"
#include "model/weights.h"

static inline size_t at(const fathom_bf16_mat *m, int n, int k) {
    return ((size_t)(n / FATHOM_BF16_NR) * (m->Kp / 2) + k / 2) * (2 * FATHOM_BF16_NR) +
           (n % FATHOM_BF16_NR) * 2 + (k % 2);
}

fathom_status fathom_cpu_bf16_mat_pack(fathom_bf16_mat *m, const float *w, int N, int K) {
    memset(m, 0, sizeof *m);
    if (N <= 0 || K <= 0) return fathom_fail(FATHOM_ERR_INVALID_ARG, "bf16 pack: %d x %d", N, K);
    m->src = w, m->N = N, m->K = K;
    m->Np = (N + FATHOM_BF16_NR - 1) / FATHOM_BF16_NR * FATHOM_BF16_NR;
    m->Kp = (K + FATHOM_BF16_KR - 1) / FATHOM_BF16_KR * FATHOM_BF16_KR;
    m->w = fathom_calloc((size_t)m->Np * m->Kp * sizeof(uint16_t));
    if (!m->w)
        return fathom_fail(FATHOM_ERR_NOMEM, "bf16 pack: cannot allocate %d x %d weights", N, K);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) m->w[at(m, n, k)] = fathom_f32_to_bf16(w[(size_t)n * K + k]);
    return FATHOM_OK;
}

void fathom_cpu_bf16_mat_free(fathom_bf16_mat *m) {
    if (m->w) fathom_free_sized(m->w, (size_t)m->Np * m->Kp * sizeof(uint16_t));
    m->w = NULL;
}

void fathom_cpu_bf16_rows(uint16_t *a, const float *in, int rows, int K, int Kp) {
    for (int r = 0; r < rows; r++) {
        uint16_t *ar = a + (size_t)r * Kp;
        const float *ir = in + (size_t)r * K;
        for (int k = 0; k < K; k++) ar[k] = fathom_f32_to_bf16(ir[k]);
        for (int k = K; k < Kp; k++) ar[k] = 0;
    }
}

/* The reference: every product of two bf16 values is exact in fp32, and pairs are summed
 * as vdpbf16ps does (two products per step into an fp32 lane), in k order. */
void fathom_cpu_gemm_bf16_portable(float *c, size_t ldc, const uint16_t *a,
                                   const fathom_bf16_mat *w, int n0, int ncols, int M) {
    const int Kp = w->Kp, NR = FATHOM_BF16_NR;
    for (int j0 = 0; j0 < ncols; j0 += NR) {
        const uint16_t *panel = w->w + (size_t)((n0 + j0) / NR) * Kp * NR;
        int nv = ncols - j0 < NR ? ncols - j0 : NR;
        for (int m = 0; m < M; m++) {
            const uint16_t *ar = a + (size_t)m * Kp;
            float acc[FATHOM_BF16_NR] = {0};
            for (int kk = 0; kk < Kp / 2; kk++) {
                float a0 = fathom_bf16_to_f32(ar[2 * kk]), a1 = fathom_bf16_to_f32(ar[2 * kk + 1]);
                const uint16_t *br = panel + (size_t)kk * 2 * NR;
                for (int j = 0; j < NR; j++)
                    acc[j] += a0 * fathom_bf16_to_f32(br[2 * j]) + a1 * fathom_bf16_to_f32(br[2 * j + 1]);
            }
            memcpy(c + (size_t)m * ldc + j0, acc, (size_t)nv * sizeof(float));
        }
    }
}

void fathom_cpu_gemm_bf16(fathom_cpu_bf16_kernel k, float *c, size_t ldc, const uint16_t *a,
                          const fathom_bf16_mat *w, int n0, int ncols, int M) {
    if (k == FATHOM_CPU_BF16_AMX) fathom_cpu_gemm_bf16_amx(c, ldc, a, w, n0, ncols, M);
    else if (k == FATHOM_CPU_BF16_AVX512) fathom_cpu_gemm_bf16_avx512(c, ldc, a, w, n0, ncols, M);
    else fathom_cpu_gemm_bf16_portable(c, ldc, a, w, n0, ncols, M);
}

/* ---- the backend's packed weights ---- */

struct fathom_cpu_bf16_set {
    int int8;   /* 0: bf16 weights (mats), 1: int8 weights (q8) */
    int kernel; /* fathom_cpu_bf16_kernel or fathom_cpu_q8_kernel */
    int n, cap;
    fathom_bf16_mat *mats; /* owned: cap entries, n used (bf16) */
    fathom_q8_mat *q8;     /* owned: cap entries, n used (int8) */
};

void fathom_cpu_bf16_set_free(fathom_cpu_bf16_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        if (s->mats) fathom_cpu_bf16_mat_free(&s->mats[i]);
        if (s->q8) fathom_cpu_q8_mat_free(&s->q8[i]);
    }
    fathom_free_sized(s->mats, (size_t)s->cap * sizeof *s->mats);
    fathom_free_sized(s->q8, (size_t)s->cap * sizeof *s->q8);
    fathom_free_sized(s, sizeof *s);
}

static fathom_status add(fathom_cpu_bf16_set *s, const float *w, int N, int K) {
    /* a row block of bf16 inputs must leave room in scratch for its output tile */
    if (!w || (size_t)FATHOM_BF16_RB * K > FATHOM_CPU_SCRATCH) return FATHOM_OK; /* stays fp32 */
    if (s->n == s->cap) return fathom_fail(FATHOM_ERR_INVALID_ARG, "bf16: weight table full");
    if (s->int8) FATHOM_TRY(fathom_cpu_q8_mat_pack(&s->q8[s->n], w, N, K));
    else FATHOM_TRY(fathom_cpu_bf16_mat_pack(&s->mats[s->n], w, N, K));
    s->n++;
    return FATHOM_OK;
}

static fathom_status prepare(fathom_backend *be, const fathom_weights *w, int int8) {
    fathom_cpu_ctx *ctx = be->ctx;
    const fathom_arch *a = &w->arch;
    const int D = a->embed_dim, Hm = a->mlp_hidden, P = a->patch;
    fathom_cpu_bf16_set_free(ctx->bf16);
    ctx->bf16 = NULL;
    fathom_cpu_bf16_set *s = fathom_calloc(sizeof *s); /* owned here until attached */
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "bf16: cannot allocate the weight table");
    s->int8 = int8;
    s->kernel = int8 ? (int)fathom_cpu_q8_kernel_pick() : (int)fathom_cpu_bf16_kernel_pick();
    s->cap = 1 + 4 * a->depth;
    if (int8) s->q8 = fathom_calloc((size_t)s->cap * sizeof *s->q8);
    else s->mats = fathom_calloc((size_t)s->cap * sizeof *s->mats);
    fathom_status st = s->mats || s->q8 ? FATHOM_OK
                               : fathom_fail(FATHOM_ERR_NOMEM, "bf16: cannot allocate the weight table");
    if (st == FATHOM_OK) st = add(s, w->patch_w, D, 3 * P * P);
    for (int i = 0; i < a->depth && st == FATHOM_OK; i++) {
        const fathom_block_weights *b = &w->blocks[i];
        if ((st = add(s, b->qkv_w, 3 * D, D)) != FATHOM_OK) break;
        if ((st = add(s, b->proj_w, D, D)) != FATHOM_OK) break;
        /* SwiGLU (vitg): fc1 is w12 (2 Hs, D), mlp_hidden = Hs */
        if ((st = add(s, b->fc1_w, a->swiglu ? 2 * Hm : Hm, D)) != FATHOM_OK) break;
        st = add(s, b->fc2_w, D, Hm);
    }
    if (st != FATHOM_OK) {
        fathom_cpu_bf16_set_free(s);
        return st;
    }
    ctx->bf16 = s;
    return FATHOM_OK;
}

fathom_status fathom_cpu_bf16_prepare(fathom_backend *be, const fathom_weights *w) {
    return prepare(be, w, 0);
}

fathom_status fathom_cpu_q8_prepare(fathom_backend *be, const fathom_weights *w) {
    return prepare(be, w, 1);
}

const fathom_q8_mat *fathom_cpu_q8_find(fathom_backend *be, const float *w) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    if (!s || !s->int8) return NULL;
    for (int i = 0; i < s->n; i++)
        if (s->q8[i].src == w) return &s->q8[i];
    return NULL;
}

const fathom_bf16_mat *fathom_cpu_bf16_find(fathom_backend *be, const float *w) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    if (!s || s->int8) return NULL;
    for (int i = 0; i < s->n; i++)
        if (s->mats[i].src == w) return &s->mats[i];
    return NULL;
}

int fathom_cpu_bf16_kernel_of(fathom_backend *be) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    return s && !s->int8 ? s->kernel : -1;
}

int fathom_cpu_q8_kernel_of(fathom_backend *be) {
    const fathom_cpu_bf16_set *s = ((fathom_cpu_ctx *)be->ctx)->bf16;
    return s && s->int8 ? s->kernel : -1;
}

/* Row blocks of FATHOM_BF16_RB: the block's rows go to bf16 in scratch once (zero rows past
 * M, as the kernels read whole tiles), then the whole of N; the epilogue follows per block. */
void fathom_cpu_linear_packed(fathom_backend *be, float *out, const float *in,
                              const fathom_bf16_mat *w, const fathom_q8_mat *wq, const float *b,
                              const float *gamma, int M, int N, int K, fathom_act act) {
    const int kern = ((fathom_cpu_ctx *)be->ctx)->bf16->kernel;
    const int RB = FATHOM_BF16_RB, Kp = w ? w->Kp : wq->Kp;
    /* bf16 rows, or int8 rows and their RB scales; then, for the residual, an RB x nc tile */
    const size_t abytes = w ? ((size_t)RB * Kp * sizeof(uint16_t) + 63) / 64 * 64
                            : ((size_t)RB * Kp + RB * sizeof(float) + 63) / 64 * 64;
    int nc = N;
    if (gamma) {
        size_t room = FATHOM_CPU_SCRATCH - abytes / sizeof(float);
        size_t fit = room / RB / FATHOM_BF16_NR * FATHOM_BF16_NR;
        if ((size_t)nc > fit) nc = (int)fit;
    }
    const int nrow = (M + RB - 1) / RB, ncol = (N + nc - 1) / nc;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < nrow * ncol; t++) {
        int m0 = (t / ncol) * RB, n0 = (t % ncol) * nc;
        int rows = M - m0 < RB ? M - m0 : RB, cols = N - n0 < nc ? N - n0 : nc;
        void *sc = fathom_cpu_scratch(be);
        uint16_t *a = sc;                                   /* bf16 rows */
        int8_t *aq = sc;                                    /* or int8 rows */
        float *sa = (float *)((char *)sc + (size_t)RB * Kp); /* and their scales */
        const float *ir = in + (size_t)m0 * K;
        if (w) {
            if (kern != FATHOM_CPU_BF16_PORTABLE) /* both fast kernels imply AVX512-BF16 here */
                fathom_cpu_bf16_rows_avx512(a, ir, rows, K, Kp);
            else
                fathom_cpu_bf16_rows(a, ir, rows, K, Kp);
            if (rows < RB) memset(a + (size_t)rows * Kp, 0, (size_t)(RB - rows) * Kp * sizeof *a);
        } else {
            if (kern != FATHOM_CPU_Q8_PORTABLE) /* both fast kernels imply AVX-512 here */
                fathom_cpu_q8_rows_avx512(aq, sa, ir, rows, K, Kp);
            else
                fathom_cpu_q8_rows(aq, sa, ir, rows, K, Kp);
            if (rows < RB) memset(aq + (size_t)rows * Kp, 0, (size_t)(RB - rows) * Kp);
        }
        if (!gamma) {
            float *o = out + (size_t)m0 * N + n0;
            if (w) fathom_cpu_gemm_bf16(kern, o, N, a, w, n0, cols, rows);
            else fathom_cpu_gemm_q8(kern, o, N, aq, sa, wq, n0, cols, rows);
            if (b || act != FATHOM_ACT_NONE)
                for (int r = 0; r < rows; r++)
                    fathom_cpu_bias_act(o + (size_t)r * N, b ? b + n0 : NULL, cols, act);
            continue;
        }
        float *tile = (float *)((char *)sc + abytes);
        if (w) fathom_cpu_gemm_bf16(kern, tile, cols, a, w, n0, cols, rows);
        else fathom_cpu_gemm_q8(kern, tile, cols, aq, sa, wq, n0, cols, rows);
        for (int r = 0; r < rows; r++) {
            float *xr = out + (size_t)(m0 + r) * N + n0;
            const float *tr = tile + (size_t)r * cols, *g = gamma + n0;
            if (b)
                for (int c = 0; c < cols; c++) xr[c] += g[c] * (tr[c] + b[n0 + c]);
            else
                for (int c = 0; c < cols; c++) xr[c] += g[c] * tr[c];
        }
    }
}
