/* cpu_block.c - the fused encoder ops. ln_linear: with packed weights (bf16, int8, q4) each
 * GEMM task normalizes its rows straight into the GEMM's input form (cpu_packed.c), so the
 * fp32 normalized rows are never written and read back; fp32 weights run layernorm, then
 * linear (the composition). ln_mlp_residual: bf16 and q4 weights also keep the hidden rows in
 * bf16 between fc1 and fc2 (half the bytes, no conversion pass); int8 (its rows need a
 * per-row scale over all of H) and fp32 run ln_linear, then linear_residual. */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/cpu_sgemm.h"

void fathom_cpu_ln_linear(fathom_backend *be, float *out, float *y, const float *w, const float *b,
                          const float *x, const float *ln_w, const float *ln_b, int M, int N, int K,
                          fathom_act act, float eps) {
    const fathom_bf16_mat *m = fathom_cpu_bf16_find(be, w);
    const fathom_q8_mat *q = fathom_cpu_q8_find(be, w);
    const fathom_q4_mat *q4 = fathom_cpu_q4_find(be, w);
    if ((m && m->N == N && m->K == K) || (q && q->N == N && q->K == K) || (q4 && q4->N == N && q4->K == K)) {
        const fathom_cpu_ln ln = {ln_w, ln_b, eps};
        fathom_cpu_ln_linear_packed(be, out, x, &ln, m, q, q4, b, M, N, K, act);
        return;
    }
    const fathom_sgemm_mat *sm = fathom_cpu_sgemm_find(be, w, N, K);
    if (sm) { /* fp32 panels: each task normalizes its rows into its scratch (cpu_sgemm.c) */
        const fathom_cpu_ln ln = {ln_w, ln_b, eps};
        fathom_cpu_sgemm_linear(be, out, x, &ln, sm, b, NULL, M, act);
        return;
    }
    fathom_cpu_layernorm(be, y, x, ln_w, ln_b, M, K, eps);
    fathom_cpu_linear(be, out, y, w, b, M, N, K, act);
}

static int fits_bf16(const fathom_bf16_mat *m, int N, int K) { return m && m->N == N && m->K == K; }
static int fits_q4(const fathom_q4_mat *m, int N, int K) { return m && m->N == N && m->K == K; }

void fathom_cpu_ln_mlp_residual(fathom_backend *be, float *x, float *h, const float *w1, const float *b1,
                                const float *w2, const float *b2, const float *gamma, const float *ln_w,
                                const float *ln_b, float *y, int M, int D, int H, float eps) {
    const fathom_bf16_mat *m1 = fathom_cpu_bf16_find(be, w1), *m2 = fathom_cpu_bf16_find(be, w2);
    const fathom_q4_mat *q1 = fathom_cpu_q4_find(be, w1), *q2 = fathom_cpu_q4_find(be, w2);
    const int bf = fits_bf16(m1, H, D) && fits_bf16(m2, D, H), q4 = fits_q4(q1, H, D) && fits_q4(q2, D, H);
    /* the bf16 hidden rows, padded, must fit h (M x H floats): all but the smallest M */
    const int Kp = bf ? m2->Kp : q4 ? q2->Kp : 0;
    if ((bf || q4) && fathom_cpu_mlp_hidden_bytes(M, Kp) <= (size_t)M * H * sizeof *h) {
        const fathom_cpu_ln ln = {ln_w, ln_b, eps};
        fathom_cpu_ln_mlp_packed(be, x, (uint16_t *)h, &ln, bf ? m1 : NULL, bf ? NULL : q1, b1, bf ? m2 : NULL,
                                 bf ? NULL : q2, b2, gamma, M, D, H);
        return;
    }
    fathom_cpu_ln_linear(be, h, y, w1, b1, x, ln_w, ln_b, M, H, D, FATHOM_ACT_GELU, eps);
    fathom_cpu_linear_residual(be, x, h, w2, b2, gamma, M, D, H);
}
