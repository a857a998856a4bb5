/* cpu_block.c - the fused encoder ops. ln_linear: with packed weights (bf16, int8, q4) each
 * GEMM task normalizes its rows straight into the GEMM's input form (cpu_packed.c), so the
 * fp32 normalized rows are never written and read back; fp32 weights run layernorm, then
 * linear (the composition). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"

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
    fathom_cpu_layernorm(be, y, x, ln_w, ln_b, M, K, eps);
    fathom_cpu_linear(be, out, y, w, b, M, N, K, act);
}
