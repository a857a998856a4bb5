/* cpu_bf16.c - bf16 weight packing, the portable kernel and its dispatch.
 *
 * Layout of a packed matrix (w (N, K) -> panels): element (n, k) sits at
 *   ((n / 32) * (Kp / 2) + k / 2) * 64 + (n % 32) * 2 + (k % 2)
 * so one k-pair row of a panel is 32 columns x 2 bf16 = 128 bytes: two zmm operands of
 * vdpbf16ps, or two AMX B-tile rows (16 columns each) at a 128-byte stride. */
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "core/alloc.h"
#include "core/status.h"

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

void fathom_cpu_bf16_scale(uint16_t *dst, const float *src, int n, float scale) {
    for (int i = 0; i < n; i++) dst[i] = fathom_f32_to_bf16(scale * src[i]);
}

void fathom_cpu_bf16_pair_rows(uint16_t *dst, const float *v0, const float *v1) {
    for (int j = 0; j < FATHOM_BF16_NR; j++)
        dst[2 * j] = fathom_f32_to_bf16(v0[j]), dst[2 * j + 1] = fathom_f32_to_bf16(v1[j]);
}

void fathom_cpu_residual(float *x, const float *t, const float *b, const float *g, size_t n) {
    if (b)
        for (size_t i = 0; i < n; i++) x[i] += g[i] * (t[i] + b[i]);
    else
        for (size_t i = 0; i < n; i++) x[i] += g[i] * t[i];
}

/* The reference: every product of two bf16 values is exact in fp32, and pairs are summed
 * as vdpbf16ps does (two products per step into an fp32 lane), in k order. */
void fathom_cpu_gemm_bf16_taps_portable(float *c, size_t ldc, const fathom_bf16_taps *a,
                                        const fathom_bf16_mat *w, int n0, int ncols, int M) {
    const int Kp = w->Kp, NR = FATHOM_BF16_NR;
    for (int j0 = 0; j0 < ncols; j0 += NR) {
        const uint16_t *panel = w->w + (size_t)((n0 + j0) / NR) * Kp * NR;
        int nv = ncols - j0 < NR ? ncols - j0 : NR;
        for (int m = 0; m < M; m++) {
            float acc[FATHOM_BF16_NR] = {0};
            for (int kk = 0; kk < Kp / 2; kk++) {
                int k = 2 * kk;
                const uint16_t *ar = a->a + (size_t)m * a->lda + a->toff[k / a->kt] + k % a->kt;
                float a0 = fathom_bf16_to_f32(ar[0]), a1 = fathom_bf16_to_f32(ar[1]);
                const uint16_t *br = panel + (size_t)kk * 2 * NR;
                for (int j = 0; j < NR; j++)
                    acc[j] += a0 * fathom_bf16_to_f32(br[2 * j]) + a1 * fathom_bf16_to_f32(br[2 * j + 1]);
            }
            memcpy(c + (size_t)m * ldc + j0, acc, (size_t)nv * sizeof(float));
        }
    }
}

void fathom_cpu_gemm_bf16_portable(float *c, size_t ldc, const uint16_t *a,
                                   const fathom_bf16_mat *w, int n0, int ncols, int M) {
    const size_t off = 0;
    const fathom_bf16_taps at = {a, (size_t)w->Kp, &off, w->Kp};
    fathom_cpu_gemm_bf16_taps_portable(c, ldc, &at, w, n0, ncols, M);
}

void fathom_cpu_gemm_bf16(fathom_cpu_bf16_kernel k, float *c, size_t ldc, const uint16_t *a,
                          const fathom_bf16_mat *w, int n0, int ncols, int M) {
    if (k == FATHOM_CPU_BF16_AMX) fathom_cpu_gemm_bf16_amx(c, ldc, a, w, n0, ncols, M);
    else if (k == FATHOM_CPU_BF16_AVX512) fathom_cpu_gemm_bf16_avx512(c, ldc, a, w, n0, ncols, M);
    else fathom_cpu_gemm_bf16_portable(c, ldc, a, w, n0, ncols, M);
}

void fathom_cpu_gemm_bf16_ep(fathom_cpu_bf16_kernel k, float *c, size_t ldc, const uint16_t *a,
                             const fathom_bf16_mat *w, int n0, int ncols, int M, const fathom_gemm_ep *ep) {
    if (k == FATHOM_CPU_BF16_AMX) {
        fathom_cpu_gemm_bf16_amx_ep(c, ldc, a, w, n0, ncols, M, ep);
        return;
    }
    fathom_cpu_gemm_bf16(k, c, ldc, a, w, n0, ncols, M);
    if (ep) ep->fn(ep, c, ldc, 0, ep->col0, M, ncols);
}

void fathom_cpu_gemm_bf16_taps(fathom_cpu_bf16_kernel k, float *c, size_t ldc,
                               const fathom_bf16_taps *a, const fathom_bf16_mat *w, int n0,
                               int ncols, int M) {
    if (k == FATHOM_CPU_BF16_AMX) fathom_cpu_gemm_bf16_taps_amx(c, ldc, a, w, n0, ncols, M);
    else if (k == FATHOM_CPU_BF16_AVX512) fathom_cpu_gemm_bf16_taps_avx512(c, ldc, a, w, n0, ncols, M);
    else fathom_cpu_gemm_bf16_taps_portable(c, ldc, a, w, n0, ncols, M);
}
