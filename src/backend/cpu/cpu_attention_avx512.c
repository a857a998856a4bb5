/* cpu_attention_avx512.c - attention for head dim 64 and L <= FAST_L with AVX-512 kernels.
 *
 * sgemm with K = 64 spends much of its time packing, so this path packs once and uses
 * register-blocked kernels: per (batch, head) a thread packs k^T in contiguous 64-key panels
 * (64 x 64, padded keys 0) and v contiguous (L x 64), then reuses them for every query tile
 * of that head it owns (tasks are scheduled statically, so consecutive tiles of one head
 * land on one thread). Per tile: S = (scale q) k^T in 4 x 64 register tiles (16
 * accumulators), one panel at a time for all rows so the panel stays in L1; a softmax over
 * the row (one block: no rescaling); O = P v in 4 x 64 tiles; O normalized into out.
 * (Reading k^T and v rows in place, 4 KiB apart, thrashed L1 sets and lost to sgemm.) */
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

/* LDS: score row stride, padded by 16 so the 4 rows a kernel reads are not 4 KiB apart */
enum { HD = 64, QT = FATHOM_CPU_FAST_QTILE, LMAX = FATHOM_CPU_FAST_L, LDS = LMAX + 16 };

/* scratch layout (floats) */
enum {
    OFF_KT = 0,                    /* LMAX / 64 panels of (HD x 64) k^T */
    OFF_V = OFF_KT + HD * LMAX,    /* LMAX x HD packed v */
    OFF_S = OFF_V + LMAX * HD,     /* QT x LDS scores */
    OFF_Q = OFF_S + QT * LDS,      /* QT x HD, scaled */
    OFF_O = OFF_Q + QT * HD,       /* QT x HD accumulator */
    OFF_SUM = OFF_O + QT * HD,     /* QT row sum */
    OFF_END = OFF_SUM + QT,
};
_Static_assert((int)OFF_END <= (int)FATHOM_CPU_SCRATCH, "attention fast path must fit the scratch");
_Static_assert(QT % 4 == 0 && LMAX % 64 == 0, "row blocking is 4, key panels are 64");

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

static int force_portable; /* test hook: 1 = report no AVX-512 */

void fathom_cpu_force_portable(int on) { force_portable = on; }

int fathom_cpu_has_avx512(void) { return !force_portable && __builtin_cpu_supports("avx512f"); }

/* S (4 x 64 at s, ld lds) = Q (4 x 64 at q, ld HD) . panel (64 x 64, ld 64) */
__attribute__((target("avx512f"))) static void qk_4x64(float *s, int lds, const float *q,
                                                       const float *kt) {
    __m512 c[4][4];
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < 4; v++) c[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < HD; d++) {
        const float *kr = kt + (size_t)d * 64;
        __m512 k0 = _mm512_loadu_ps(kr), k1 = _mm512_loadu_ps(kr + 16);
        __m512 k2 = _mm512_loadu_ps(kr + 32), k3 = _mm512_loadu_ps(kr + 48);
        for (int r = 0; r < 4; r++) {
            __m512 qv = _mm512_set1_ps(q[r * HD + d]);
            c[r][0] = _mm512_fmadd_ps(qv, k0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(qv, k1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(qv, k2, c[r][2]);
            c[r][3] = _mm512_fmadd_ps(qv, k3, c[r][3]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(s + (size_t)r * lds + 16 * v, c[r][v]);
}

/* O (4 x 64 at o, ld HD) = P (4 x nk at p, ld ldp) . V (nk x 64, ld HD) */
__attribute__((target("avx512f"))) static void pv_4x64(float *o, const float *p, int ldp,
                                                       const float *v, int nk) {
    __m512 c[4][4];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 4; u++) c[r][u] = _mm512_setzero_ps();
    for (int j = 0; j < nk; j++) {
        const float *vr = v + (size_t)j * HD;
        __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
        __m512 v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);
        for (int r = 0; r < 4; r++) {
            __m512 pv = _mm512_set1_ps(p[(size_t)r * ldp + j]);
            c[r][0] = _mm512_fmadd_ps(pv, v0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(pv, v1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(pv, v2, c[r][2]);
            c[r][3] = _mm512_fmadd_ps(pv, v3, c[r][3]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 4; u++) _mm512_storeu_ps(o + r * HD + 16 * u, c[r][u]);
}

/* max of s[0..n): the generic fathom_cpu_max does not vectorize (no -ffast-math) */
__attribute__((target("avx512f"))) static float row_max(const float *s, int n) {
    __m512 m = _mm512_set1_ps(-__builtin_inff());
    int j = 0;
    for (; j + 16 <= n; j += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(s + j));
    if (j < n) {
        __mmask16 k = (__mmask16)((1u << (n - j)) - 1);
        m = _mm512_max_ps(m, _mm512_mask_loadu_ps(m, k, s + j));
    }
    return _mm512_reduce_max_ps(m);
}

void fathom_cpu_attention_pack64(float *scratch, const float *qkv, int L, int D, int h) {
    float *Kt = scratch + OFF_KT, *V = scratch + OFF_V;
    size_t ld = (size_t)3 * D;
    const float *kbase = qkv + D + (size_t)h * HD, *vbase = qkv + 2 * D + (size_t)h * HD;
    int Lp = (L + 63) / 64 * 64;
    for (int j = 0; j < Lp; j++) {
        float *col = Kt + (size_t)(j / 64) * HD * 64 + j % 64;
        if (j < L) {
            const float *kr = kbase + (size_t)j * ld;
            for (int d = 0; d < HD; d++) col[d * 64] = kr[d];
            memcpy(V + (size_t)j * HD, vbase + (size_t)j * ld, sizeof(float) * HD);
        } else {
            for (int d = 0; d < HD; d++) col[d * 64] = 0.0f;
        }
    }
}

void fathom_cpu_attention_tile64(float *scratch, float *out, const float *qkv, int L, int D,
                                 int h, int q0, int rows, float scale) {
    const float *Kt = scratch + OFF_KT, *V = scratch + OFF_V;
    float *S = scratch + OFF_S, *Qs = scratch + OFF_Q, *O = scratch + OFF_O;
    float *sum = scratch + OFF_SUM;
    size_t ld = (size_t)3 * D;
    int rows4 = (rows + 3) / 4 * 4, Lp = (L + 63) / 64 * 64;
    /* q scaled first, as the official model does (q * scale) . k^T; padded rows are 0 */
    for (int r = 0; r < rows4; r++) {
        float *qd = Qs + (size_t)r * HD;
        if (r < rows) {
            const float *qs = qkv + (size_t)(q0 + r) * ld + (size_t)h * HD;
            for (int d = 0; d < HD; d++) qd[d] = qs[d] * scale;
        } else {
            memset(qd, 0, sizeof(float) * HD);
        }
    }
    for (int j = 0; j < Lp; j += 64)
        for (int r = 0; r < rows4; r += 4)
            qk_4x64(S + (size_t)r * LDS + j, LDS, Qs + (size_t)r * HD, Kt + (size_t)j * HD);
    for (int r = 0; r < rows; r++) {
        float *sr = S + (size_t)r * LDS;
        sum[r] = fathom_cpu_exp_shift_sum(sr, L, row_max(sr, L));
    }
    for (int r = 0; r < rows4; r += 4)
        pv_4x64(O + (size_t)r * HD, S + (size_t)r * LDS, LDS, V, L);
    for (int r = 0; r < rows; r++) {
        float inv = 1.0f / sum[r], *orow = out + (size_t)(q0 + r) * D + (size_t)h * HD;
        const float *src = O + (size_t)r * HD;
        for (int d = 0; d < HD; d++) orow[d] = src[d] * inv;
    }
}

#else /* not x86-64: fathom_cpu_has_avx512() is 0, so the sgemm path is always used */

void fathom_cpu_force_portable(int on) { (void)on; }
int fathom_cpu_has_avx512(void) { return 0; }

void fathom_cpu_attention_pack64(float *scratch, const float *qkv, int L, int D, int h) {
    (void)scratch, (void)qkv, (void)L, (void)D, (void)h;
}
void fathom_cpu_attention_tile64(float *scratch, float *out, const float *qkv, int L, int D,
                                 int h, int q0, int rows, float scale) {
    (void)scratch, (void)out, (void)qkv, (void)L, (void)D, (void)h, (void)q0, (void)rows, (void)scale;
}

#endif
