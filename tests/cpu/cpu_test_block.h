/* cpu_test_block.h - one small random encoder block (D 80, MLP 200, patch 5) and its five
 * linear cases (patch embedding, qkv, fc1 + GELU, proj and fc2 as LayerScale residuals), for
 * the packed-weight tests (test_cpu_bf16.c, test_cpu_q8.c, test_cpu_q4.c), and the helpers
 * they share (bf16 rounding, q4 read-back). */
#ifndef FATHOM_TESTS_CPU_TEST_BLOCK_H
#define FATHOM_TESTS_CPU_TEST_BLOCK_H

#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_q4.h"
#include "backend/cpu/ref_ops.h"
#include "model/weights.h"
#include "test_util.h"

enum { TB_D = 80, TB_HM = 200, TB_P = 5, TB_M = 203, TB_K0 = 3 * TB_P * TB_P, TB_NCASE = 5 };

typedef struct { const float *w; int N, K, act, residual; } tb_case;

typedef struct tb_block {
    fathom_block_weights blk;
    fathom_weights w; /* w.blocks points at blk: a tb_block must not move once made */
    float *bias, *gamma, *in, *x0; /* owned: bias (3D), gamma (D), in (M, Hm), x0 (M, D) */
    tb_case cases[TB_NCASE];
} tb_block;

static inline void tb_make(tb_block *t) {
    const int D = TB_D, Hm = TB_HM;
    memset(t, 0, sizeof *t);
    t->w.arch.embed_dim = D, t->w.arch.mlp_hidden = Hm, t->w.arch.patch = TB_P, t->w.arch.depth = 1;
    t->w.blocks = &t->blk;
    t->w.patch_w = tu_random_alloc((size_t)D * TB_K0, 1, 0.3f);
    t->blk.qkv_w = tu_random_alloc((size_t)3 * D * D, 2, 0.3f);
    t->blk.proj_w = tu_random_alloc((size_t)D * D, 3, 0.3f);
    t->blk.fc1_w = tu_random_alloc((size_t)Hm * D, 4, 0.3f);
    t->blk.fc2_w = tu_random_alloc((size_t)D * Hm, 5, 0.3f);
    t->bias = tu_random_alloc(3 * D > Hm ? 3 * D : Hm, 6, 1.0f);
    t->gamma = tu_random_alloc(D, 7, 1.0f);
    t->in = tu_random_alloc((size_t)TB_M * Hm, 8, 2.0f);
    t->x0 = tu_random_alloc((size_t)TB_M * D, 9, 1.0f);
    const tb_case c[TB_NCASE] = {
        {t->w.patch_w, D, TB_K0, FATHOM_ACT_NONE, 0}, {t->blk.qkv_w, 3 * D, D, FATHOM_ACT_NONE, 0},
        {t->blk.fc1_w, Hm, D, FATHOM_ACT_GELU, 0},    {t->blk.proj_w, D, D, FATHOM_ACT_NONE, 1},
        {t->blk.fc2_w, D, Hm, FATHOM_ACT_NONE, 1},
    };
    memcpy(t->cases, c, sizeof c);
}

static inline void tb_free(tb_block *t) {
    free(t->bias), free(t->gamma), free(t->in), free(t->x0);
    free(t->w.patch_w), free(t->blk.qkv_w), free(t->blk.proj_w), free(t->blk.fc1_w), free(t->blk.fc2_w);
}

/* Case c: out = the backend's op on the fp32 inputs (x0 first for a residual); ref = the
 * reference on input ir and weight wr (the values the packed kernel really multiplies);
 * ref32 (may be NULL) = the reference on the fp32 inputs. */
static inline void tb_run(fathom_backend *be, const tb_block *t, const tb_case *c, const float *ir,
                          const float *wr, float *out, float *ref, float *ref32) {
    const int M = TB_M, N = c->N, K = c->K;
    if (c->residual) {
        memcpy(out, t->x0, (size_t)M * N * sizeof *out);
        memcpy(ref, t->x0, (size_t)M * N * sizeof *ref);
        be->ops->linear_residual(be, out, t->in, c->w, t->bias, t->gamma, M, N, K);
        fathom_ref_linear_residual(ref, ir, wr, t->bias, t->gamma, M, N, K);
        if (ref32) {
            memcpy(ref32, t->x0, (size_t)M * N * sizeof *ref32);
            fathom_ref_linear_residual(ref32, t->in, c->w, t->bias, t->gamma, M, N, K);
        }
    } else {
        be->ops->linear(be, out, t->in, c->w, t->bias, M, N, K, (fathom_act)c->act);
        fathom_ref_linear(ref, ir, wr, t->bias, M, N, K, (fathom_act)c->act);
        if (ref32) fathom_ref_linear(ref32, t->in, c->w, t->bias, M, N, K, (fathom_act)c->act);
    }
}

/* The GEMM kernel tests' shapes (M, N, K): row, column and K tails, K of exactly one bf16
 * tile (32) and of one int8 tile (64) */
static const int tb_gemm_shapes[][3] = {{1, 32, 32},   {1, 32, 64},   {13, 40, 75}, {96, 96, 588},
                                        {37, 160, 384}, {90, 64, 1536}, {5, 7, 3}};
enum { TB_NSHAPES = sizeof tb_gemm_shapes / sizeof tb_gemm_shapes[0] };

/* Shape s: its sizes, random weights w (N, K) and inputs x (M, K) (malloc'd; the caller
 * frees), and the rows the kernels read: M rounded up to FATHOM_BF16_RB */
static inline int tb_gemm_case(size_t s, int *M, int *N, int *K, float **w, float **x) {
    *M = tb_gemm_shapes[s][0], *N = tb_gemm_shapes[s][1], *K = tb_gemm_shapes[s][2];
    *w = tu_random_alloc((size_t)*N * *K, 11 + s, 0.5f);
    *x = tu_random_alloc((size_t)*M * *K, 29 + s, 2.0f);
    return (*M + FATHOM_BF16_RB - 1) / FATHOM_BF16_RB * FATHOM_BF16_RB;
}

/* A malloc'd bf16-rounded copy of x (what a bf16 kernel multiplies); the caller frees. */
static inline float *tb_rounded(const float *x, size_t n) {
    float *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) r[i] = fathom_bf16_to_f32(fathom_f32_to_bf16(x[i]));
    return r;
}

/* A malloc'd (N, K) fp32 copy of q4 matrix m as its GEMM sees it, bf16(q * d), read back
 * through the layout formulas of cpu_q4.h (not the dequantizers under test). */
static inline float *tb_dequantized(const fathom_q4_mat *m) {
    float *w = malloc((size_t)m->N * m->K * sizeof *w);
    for (int n = 0; n < m->N; n++)
        for (int k = 0; k < m->K; k++) {
            int e = (n % 32) * 2 + k % 2;
            uint8_t b = m->q[((size_t)(n / 32) * (m->Kp / 2) + k / 2) * 32 + e % 32];
            int q = (e < 32 ? b & 15 : b >> 4) - 8;
            uint16_t d = m->scale[((size_t)(n / 32) * (m->Kp / 32) + k / 32) * 32 + n % 32];
            w[(size_t)n * m->K + k] = fathom_bf16_to_f32(fathom_f32_to_bf16(q * fathom_bf16_to_f32(d)));
        }
    return w;
}

/* An epilogue (fathom_gemm_ep) that adds 1 to every element it is handed and counts it: a
 * GEMM must hand each output element over exactly once, at its place in c, after it is final
 * (tb_ep_done checks; out then equals the plain GEMM's plus 1). */
typedef struct tb_ep {
    fathom_gemm_ep ep;
    float *c;
    int *cnt; /* owned: M x ld counts */
    size_t ld;
    int M, bad;
} tb_ep;

static inline void tb_ep_fn(const fathom_gemm_ep *e, float *blk, size_t ld, int row, int col, int rows, int cols) {
    tb_ep *t = (tb_ep *)e->ctx;
    int c0 = col - e->col0;
    if (ld != t->ld || row < 0 || c0 < 0 || row + rows > t->M || (size_t)(c0 + cols) > ld ||
        blk != t->c + (size_t)row * ld + c0) {
        t->bad++;
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++) {
            blk[(size_t)r * ld + q] += 1.0f;
            t->cnt[(size_t)(row + r) * ld + c0 + q]++;
        }
}

static inline void tb_ep_init(tb_ep *t, float *c, size_t ld, int M, int col0) {
    t->ep = (fathom_gemm_ep){tb_ep_fn, t, col0};
    t->c = c, t->ld = ld, t->M = M, t->bad = 0;
    t->cnt = calloc((size_t)M * ld, sizeof *t->cnt);
}

/* 1 when every element of the first ncols columns of the M rows was handed over once */
static inline int tb_ep_done(tb_ep *t, int ncols) {
    int ok = t->cnt && !t->bad;
    for (int r = 0; ok && r < t->M; r++)
        for (int q = 0; q < ncols; q++) ok &= t->cnt[(size_t)r * t->ld + q] == 1;
    free(t->cnt);
    t->cnt = NULL;
    return ok;
}

#endif
