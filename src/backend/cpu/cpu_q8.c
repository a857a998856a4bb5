/* cpu_q8.c - int8 weight quantization and packing, activation quantization, the portable
 * int8 kernel and its dispatch.
 *
 * Layout of a packed matrix (w (N, K) -> panels): element (n, k) sits at
 *   ((n / 32) * (Kp / 4) + k / 4) * 128 + (n % 32) * 4 + (k % 4)
 * so one k-quad row of a panel is 32 columns x 4 int8 = 128 bytes: two zmm operands of
 * vpdpbusd, or two AMX B-tile rows (16 columns each) at a 128-byte stride. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_q8.h"
#include "core/alloc.h"
#include "core/status.h"

static inline size_t at(const fathom_q8_mat *m, int n, int k) {
    return ((size_t)(n / 32) * (m->Kp / 4) + k / 4) * 128 + (n % 32) * 4 + (k % 4);
}

static inline int8_t q(float x, float inv) {
    float v = nearbyintf(x * inv); /* round to nearest even (default mode) */
    return (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
}

fathom_status fathom_cpu_q8_mat_pack(fathom_q8_mat *m, const float *w, int N, int K) {
    memset(m, 0, sizeof *m);
    if (N <= 0 || K <= 0) return fathom_fail(FATHOM_ERR_INVALID_ARG, "int8 pack: %d x %d", N, K);
    m->src = w, m->N = N, m->K = K;
    m->Np = (N + 31) / 32 * 32;
    m->Kp = (K + FATHOM_Q8_KR - 1) / FATHOM_Q8_KR * FATHOM_Q8_KR;
    m->w = fathom_calloc((size_t)m->Np * m->Kp);
    m->scale = fathom_calloc((size_t)m->Np * sizeof *m->scale);
    m->colsum = fathom_calloc((size_t)m->Np * sizeof *m->colsum);
    if (!m->w || !m->scale || !m->colsum) {
        fathom_cpu_q8_mat_free(m);
        return fathom_fail(FATHOM_ERR_NOMEM, "int8 pack: cannot allocate %d x %d weights", N, K);
    }
    for (int n = 0; n < N; n++) {
        const float *wr = w + (size_t)n * K;
        float amax = 0.0f;
        for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(wr[k]));
        float s = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        int32_t sum = 0;
        for (int k = 0; k < K; k++) {
            int8_t v = q(wr[k], inv);
            m->w[at(m, n, k)] = v;
            sum += v;
        }
        m->scale[n] = s;
        m->colsum[n] = sum;
    }
    return FATHOM_OK;
}

void fathom_cpu_q8_mat_free(fathom_q8_mat *m) {
    fathom_free_sized(m->w, (size_t)m->Np * m->Kp);
    fathom_free_sized(m->scale, (size_t)m->Np * sizeof *m->scale);
    fathom_free_sized(m->colsum, (size_t)m->Np * sizeof *m->colsum);
    m->w = NULL, m->scale = NULL, m->colsum = NULL;
}

void fathom_cpu_q8_rows(int8_t *a, float *scale, const float *in, int rows, int K, int Kp) {
    for (int r = 0; r < rows; r++) {
        const float *ir = in + (size_t)r * K;
        int8_t *ar = a + (size_t)r * Kp;
        float amax = 0.0f;
        for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(ir[k]));
        float s = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        for (int k = 0; k < K; k++) ar[k] = q(ir[k], inv);
        memset(ar + K, 0, (size_t)(Kp - K));
        scale[r] = s;
    }
}

void fathom_cpu_gemm_q8_portable(float *c, size_t ldc, const int8_t *a, const float *sa,
                                 const fathom_q8_mat *w, int n0, int ncols, int M) {
    const int Kp = w->Kp;
    for (int j0 = 0; j0 < ncols; j0 += 32) {
        const int8_t *panel = w->w + (size_t)((n0 + j0) / 32) * Kp * 32;
        int nv = ncols - j0 < 32 ? ncols - j0 : 32;
        for (int m = 0; m < M; m++) {
            const int8_t *ar = a + (size_t)m * Kp;
            int32_t acc[32] = {0};
            for (int kq = 0; kq < Kp / 4; kq++) {
                const int8_t *br = panel + (size_t)kq * 128;
                for (int j = 0; j < 32; j++)
                    for (int t = 0; t < 4; t++) acc[j] += (int32_t)ar[4 * kq + t] * br[4 * j + t];
            }
            for (int j = 0; j < nv; j++)
                c[(size_t)m * ldc + j0 + j] = (float)acc[j] * sa[m] * w->scale[n0 + j0 + j];
        }
    }
}

void fathom_cpu_gemm_q8(fathom_cpu_q8_kernel k, float *c, size_t ldc, const int8_t *a,
                        const float *sa, const fathom_q8_mat *w, int n0, int ncols, int M) {
    if (k == FATHOM_CPU_Q8_AMX) fathom_cpu_gemm_q8_amx(c, ldc, a, sa, w, n0, ncols, M);
    else if (k == FATHOM_CPU_Q8_VNNI) fathom_cpu_gemm_q8_vnni(c, ldc, a, sa, w, n0, ncols, M);
    else fathom_cpu_gemm_q8_portable(c, ldc, a, sa, w, n0, ncols, M);
}

void fathom_cpu_gemm_q8_ep(fathom_cpu_q8_kernel k, float *c, size_t ldc, const int8_t *a,
                           const float *sa, const fathom_q8_mat *w, int n0, int ncols, int M,
                           const fathom_gemm_ep *ep) {
    if (k == FATHOM_CPU_Q8_AMX) {
        fathom_cpu_gemm_q8_amx_ep(c, ldc, a, sa, w, n0, ncols, M, ep);
        return;
    }
    fathom_cpu_gemm_q8(k, c, ldc, a, sa, w, n0, ncols, M);
    if (ep) ep->fn(ep, c, ldc, 0, ep->col0, M, ncols);
}

int fathom_cpu_q8_kernel_available(fathom_cpu_q8_kernel k) {
    unsigned f = fathom_cpu_features();
    switch (k) {
    case FATHOM_CPU_Q8_PORTABLE: return 1;
    case FATHOM_CPU_Q8_VNNI: return (f & FATHOM_CPU_F_AVX512VNNI) != 0;
    case FATHOM_CPU_Q8_AMX: /* its input rows are quantized with AVX-512 */
        return (f & FATHOM_CPU_F_AMX_INT8) && (f & FATHOM_CPU_F_AVX512F);
    }
    return 0;
}

const char *fathom_cpu_q8_kernel_name(fathom_cpu_q8_kernel k) {
    return k == FATHOM_CPU_Q8_AMX ? "amx" : k == FATHOM_CPU_Q8_VNNI ? "avx512vnni" : "portable";
}

fathom_cpu_q8_kernel fathom_cpu_q8_kernel_pick(void) {
    const char *env = getenv("FATHOM_CPU_KERNEL");
    if (env)
        for (int k = FATHOM_CPU_Q8_PORTABLE; k <= FATHOM_CPU_Q8_AMX; k++)
            if (!strcmp(env, fathom_cpu_q8_kernel_name(k)) && fathom_cpu_q8_kernel_available(k))
                return k;
    for (int k = FATHOM_CPU_Q8_AMX; k > FATHOM_CPU_Q8_PORTABLE; k--)
        if (fathom_cpu_q8_kernel_available(k)) return k;
    return FATHOM_CPU_Q8_PORTABLE;
}
