/* packed_q4q8.cu - the CUDA backend's table of packed int8 / q4 linear weights: load_packed
 * copies a matrix to the device under the fp32 weight's address; the linear ops look it up
 * (a linear scan: a model has at most a few hundred linear weights, the lookup is host-side
 * and so survives graph capture). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/q4q8.cuh"

static cuda_qmat *find(cuda_ctx *c, const float *w) {
    for (int i = 0; i < c->nq; i++)
        if (c->qmats[i].key == w) return &c->qmats[i];
    return NULL;
}

static void drop(fathom_backend *be, cuda_qmat *q) {
    be->ops->free(be, q->a, q->na);
    be->ops->free(be, q->b, q->nb);
    q->a = q->b = NULL;
}

extern "C" fathom_status fathom_cuda_load_packed(fathom_backend *be, const float *w,
                                                 const fathom_packed_mat *m) {
    cuda_ctx *c = cuda_of(be);
    cuda_qmat *q = find(c, w);
    if (q) { /* replaced or forgotten: the table stays dense */
        drop(be, q);
        *q = c->qmats[--c->nq];
    }
    if (!m) return FATHOM_OK;
    if (m->kind != FATHOM_PACKED_MAT_INT8 && m->kind != FATHOM_PACKED_MAT_Q4)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "cuda: packed weights of kind %d (int8 and q4 only)", m->kind);
    const size_t na = m->kind == FATHOM_PACKED_MAT_INT8 ? (size_t)m->Np * m->Kp : (size_t)m->Np * m->Kp / 2;
    const size_t nb = m->kind == FATHOM_PACKED_MAT_INT8 ? (size_t)m->Np * sizeof(float)
                                                        : (size_t)m->Np * (m->Kp / 32) * sizeof(uint16_t);
    const int kr = m->kind == FATHOM_PACKED_MAT_INT8 ? 64 : 32;
    if (m->N <= 0 || m->K <= 0 || m->Np != (m->N + 31) / 32 * 32 || m->Kp % kr || m->Kp < m->K ||
        m->Kp - m->K >= kr || m->na != na || m->nb != nb || !m->a || !m->b)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "cuda: packed %s matrix %d x %d (padded %d x %d, %zu + %zu "
                           "bytes) is not in the CPU layout", m->kind == FATHOM_PACKED_MAT_INT8 ? "int8" : "q4",
                           m->N, m->K, m->Np, m->Kp, m->na, m->nb);
    if (c->nq == c->capq) {
        int cap = c->capq ? 2 * c->capq : 64;
        cuda_qmat *t = (cuda_qmat *)realloc(c->qmats, (size_t)cap * sizeof *t);
        if (!t) return fathom_fail(FATHOM_ERR_NOMEM, "cuda: packed weight table");
        c->qmats = t, c->capq = cap;
    }
    cuda_qmat n = {w, m->kind, m->N, m->K, m->Np, m->Kp, NULL, NULL, na, nb};
    fathom_status s = be->ops->alloc(be, &n.a, na);
    if (s == FATHOM_OK) s = be->ops->alloc(be, &n.b, nb);
    if (s == FATHOM_OK) s = be->ops->upload(be, n.a, m->a, na);
    if (s == FATHOM_OK) s = be->ops->upload(be, n.b, m->b, nb);
    if (s != FATHOM_OK) {
        drop(be, &n);
        return s;
    }
    c->qmats[c->nq++] = n;
    return FATHOM_OK;
}

void cuda_qmats_free(fathom_backend *be) {
    cuda_ctx *c = (cuda_ctx *)be->ctx;
    for (int i = 0; i < c->nq; i++) drop(be, &c->qmats[i]);
    free(c->qmats);
    c->qmats = NULL, c->nq = c->capq = 0;
}

void fathom_cuda_describe(fathom_backend *be, char *buf, size_t n) {
    const cuda_ctx *c = cuda_of(be);
    const char *p = c->precision == FATHOM_PRECISION_FP32 ? "fp32" : c->precision == FATHOM_PRECISION_FP16 ? "fp16" : "bf16";
    size_t bytes = 0;
    for (int i = 0; i < c->nq; i++) bytes += c->qmats[i].na + c->qmats[i].nb;
    if (!c->nq) snprintf(buf, n, "cuda %s, gemm cublasLt", p);
    else snprintf(buf, n, "cuda %s, gemm cublasLt; linear on %s weights (%d matrices, %.1f MiB; %s)", p,
                  c->qmats[0].kind == FATHOM_PACKED_MAT_INT8 ? "int8" : "q4", c->nq, bytes / 1048576.0,
                  c->qmats[0].kind == FATHOM_PACKED_MAT_INT8 ? "dp4a" : "dequantized in registers");
}

int cuda_linear_packed(cuda_ctx *c, float *out, const float *in, const float *w, const float *b,
                       const float *gamma, int M, int N, int K, fathom_act act) {
    const cuda_qmat *q = c->nq ? find(c, w) : NULL;
    if (!q) return 0;
    if (q->N != N || q->K != K) {
        cuda_set_error(c, FATHOM_ERR_INTERNAL, "cuda: packed weight %d x %d used as %d x %d", q->N, q->K, N, K);
        return 1;
    }
    if (q->kind == FATHOM_PACKED_MAT_INT8) cuda_linear_q8(c, q, out, in, b, gamma, M, act);
    else cuda_linear_q4(c, q, out, in, b, gamma, M, act);
    return 1;
}
