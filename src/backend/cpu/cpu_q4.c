/* cpu_q4.c - 4-bit weight quantization and packing, the portable dequantizer and the q4 GEMM
 * (layout and format: cpu_q4.h). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_q4.h"
#include "core/alloc.h"
#include "core/status.h"

/* byte of value (n, k) within its panel, and whether it is the high nibble */
static inline size_t byte_at(int Kp, int n, int k, int *high) {
    int e = (n % 32) * 2 + (k % 2);
    *high = e >= 32;
    return ((size_t)(n / 32) * (Kp / 2) + k / 2) * 32 + (e % 32);
}

static inline size_t scale_at(int Kp, int n, int k) {
    return ((size_t)(n / 32) * (Kp / FATHOM_Q4_GROUP) + k / FATHOM_Q4_GROUP) * 32 + n % 32;
}

size_t fathom_cpu_q4_mat_bytes(const fathom_q4_mat *m) {
    return (size_t)m->Np * m->Kp / 2 + (size_t)m->Np * (m->Kp / FATHOM_Q4_GROUP) * sizeof(uint16_t);
}

fathom_status fathom_cpu_q4_mat_pack(fathom_q4_mat *m, const float *w, int N, int K) {
    memset(m, 0, sizeof *m);
    if (N <= 0 || K <= 0) return fathom_fail(FATHOM_ERR_INVALID_ARG, "q4 pack: %d x %d", N, K);
    m->src = w, m->N = N, m->K = K;
    m->Np = (N + 31) / 32 * 32;
    m->Kp = (K + FATHOM_Q4_GROUP - 1) / FATHOM_Q4_GROUP * FATHOM_Q4_GROUP;
    m->q = fathom_alloc((size_t)m->Np * m->Kp / 2);
    m->scale = fathom_calloc((size_t)m->Np * (m->Kp / FATHOM_Q4_GROUP) * sizeof *m->scale);
    if (!m->q || !m->scale) {
        fathom_cpu_q4_mat_free(m);
        return fathom_fail(FATHOM_ERR_NOMEM, "q4 pack: cannot allocate %d x %d weights", N, K);
    }
    memset(m->q, 0x88, (size_t)m->Np * m->Kp / 2); /* q = 0 everywhere, padding included */
    for (int n = 0; n < N; n++) {
        const float *wr = w + (size_t)n * K;
        for (int g = 0; g < K; g += FATHOM_Q4_GROUP) {
            int ge = g + FATHOM_Q4_GROUP < K ? g + FATHOM_Q4_GROUP : K;
            float mx = 0.0f; /* the value of largest magnitude, with its sign */
            for (int k = g; k < ge; k++)
                if (fabsf(wr[k]) > fabsf(mx)) mx = wr[k];
            uint16_t d16 = fathom_f32_to_bf16(mx / -8.0f);
            float d = fathom_bf16_to_f32(d16);
            if (!(fabsf(d) >= FLT_MIN)) continue; /* all zero (or tiny): q = 0, scale 0 */
            m->scale[scale_at(m->Kp, n, g)] = d16;
            float inv = 1.0f / d;
            for (int k = g; k < ge; k++) {
                float v = nearbyintf(wr[k] * inv);
                int qv = (int)(v > 7.0f ? 7.0f : v < -8.0f ? -8.0f : v) + 8;
                int high;
                uint8_t *b = &m->q[byte_at(m->Kp, n, k, &high)];
                *b = high ? (uint8_t)((*b & 0x0f) | qv << 4) : (uint8_t)((*b & 0xf0) | qv);
            }
        }
    }
    return FATHOM_OK;
}

void fathom_cpu_q4_mat_free(fathom_q4_mat *m) {
    fathom_free_sized(m->q, (size_t)m->Np * m->Kp / 2);
    fathom_free_sized(m->scale, (size_t)m->Np * (m->Kp / FATHOM_Q4_GROUP) * sizeof *m->scale);
    m->q = NULL, m->scale = NULL;
}

/* bf16(x) as vcvtne2ps2bf16 rounds it: nearest even, fp32 denormals to signed zero */
static inline uint16_t to_bf16_daz(float x) {
    return fabsf(x) < FLT_MIN ? (uint16_t)(signbit(x) ? 0x8000 : 0) : fathom_f32_to_bf16(x);
}

void fathom_cpu_q4_dequant_panel(uint16_t *panel, const fathom_q4_mat *m, int p) {
    const int Kp = m->Kp;
    const uint8_t *q = m->q + (size_t)p * (Kp / 2) * 32;
    const uint16_t *sc = m->scale + (size_t)p * (Kp / FATHOM_Q4_GROUP) * 32;
    for (int kk = 0; kk < Kp / 2; kk++) {
        const uint8_t *row = q + (size_t)kk * 32;
        const uint16_t *s = sc + (size_t)(2 * kk / FATHOM_Q4_GROUP) * 32;
        for (int e = 0; e < 64; e++) {
            int nib = e < 32 ? row[e] & 0x0f : row[e - 32] >> 4;
            panel[(size_t)kk * 64 + e] = to_bf16_daz((float)(nib - 8) * fathom_bf16_to_f32(s[e / 2]));
        }
    }
}

void fathom_cpu_gemm_q4(fathom_cpu_bf16_kernel k, float *c, size_t ldc, const uint16_t *a,
                        const fathom_q4_mat *w, int n0, int ncols, int M, uint16_t *panel) {
    /* one dequantized panel, seen as a 32-column bf16 matrix */
    fathom_bf16_mat view = {NULL, panel, 32, w->K, 32, w->Kp};
    for (int j = 0; j < ncols; j += 32) {
        if (k == FATHOM_CPU_BF16_PORTABLE) fathom_cpu_q4_dequant_panel(panel, w, (n0 + j) / 32);
        else fathom_cpu_q4_dequant_panel_avx512(panel, w, (n0 + j) / 32);
        fathom_cpu_gemm_bf16(k, c + j, ldc, a, &view, 0, ncols - j < 32 ? ncols - j : 32, M);
    }
}
