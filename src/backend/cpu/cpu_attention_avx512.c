/* cpu_attention_avx512.c - fp32 flash attention for head dim 64 and L <= FAST_L (AVX-512).
 *
 * Per (batch, head) a thread packs k^T in contiguous 64-key panels (64 x 64, padded keys 0)
 * and v contiguous (L x 64) once, then reuses them for every query tile of that head it owns
 * (tasks are scheduled statically, so consecutive tiles of one head land on one thread).
 * A tile's rows go in groups of RG; per group, for each 64-key block (its k^T panel and v
 * rows, 32 KiB, stay in L1 for the group), one fused kernel per 4 rows: S (4 x 64) = (scale
 * q) k^T in 16 zmm accumulators, an online softmax on those registers, P (1 KiB) to L1, then
 * O (4 x 64, in L1) += P v on the same 16 registers. No score row exists in memory (the old
 * row-at-once path wrote and reread L floats per query row, 0.35 MiB per 64-row tile at L 1370).
 *
 * Softmax: a reference max m per row that moves only when a score passes it by TAU (then the
 * row's O and sum are scaled by exp(m_old - m_new)), as in cpu_attention_amx.c, so most blocks
 * never touch O twice; exp by exp2 with a degree-5 polynomial (relative error 2.3e-7, about
 * 2 ulp; the exp it replaces had 1-2 ulp). (Reading k^T and v rows in place, 4 KiB apart,
 * thrashed L1 sets and lost to sgemm, hence the packing.) */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

enum { HD = 64, KB = 64, QT = FATHOM_CPU_FAST_QTILE, LMAX = FATHOM_CPU_FAST_L, RG = 16 };

/* scratch layout (floats) */
enum {
    OFF_KT = 0,                  /* LMAX / 64 panels of (HD x 64) k^T */
    OFF_V = OFF_KT + HD * LMAX,  /* LMAX x HD packed v */
    OFF_Q = OFF_V + LMAX * HD,   /* QT x HD, scaled */
    OFF_O = OFF_Q + QT * HD,     /* RG x HD accumulator */
    OFF_P = OFF_O + RG * HD,     /* 4 x KB probabilities */
    OFF_SUM = OFF_P + 4 * KB,    /* RG x 16 partial row sums */
    OFF_MX = OFF_SUM + RG * 16,  /* RG reference maxima */
    OFF_END = OFF_MX + RG,
};
_Static_assert((int)OFF_END <= (int)FATHOM_CPU_SCRATCH, "attention fast path must fit the scratch");
_Static_assert(QT % RG == 0 && RG % 4 == 0 && LMAX % 64 == 0, "row groups, 4-row kernels, key panels");

/* exponentials up to e^TAU (~3e3) before the reference max moves: fp32 keeps its relative
 * precision at that size */
#define TAU 8.0f

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f")))

static int force_portable; /* test hook: 1 = report no AVX-512 */

void fathom_cpu_force_portable(int on) { force_portable = on; }

int fathom_cpu_has_avx512(void) { return !force_portable && __builtin_cpu_supports("avx512f"); }

/* 2^x: n = round(x), 2^(x - n) by a degree-5 minimax polynomial on [-1/2, 1/2] (relative
 * error 2.3e-7), vscalefps by 2^n (0 far below, no denormal traps) */
TGT static inline __m512 exp2_16(__m512 x) {
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.3277548e-3f), f, _mm512_set1_ps(9.6755512e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5507101e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24022119f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.69314694f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0000001f));
    return _mm512_scalef_ps(p, n);
}

/* Rows r..r+3 of a group, one block of nk <= 64 keys: S = q kt (q 4 x HD at q, ld HD; kt the
 * block's 64 x 64 panel), the online softmax (mx, sumv: the rows' reference max and 16
 * partial sums), P to p (4 x KB), O (4 x HD at o) += P v (v: the block's nk rows). */
TGT static void block4(float *o, float *mx, float *sumv, float *p, const float *q,
                       const float *kt, const float *v, int nk) {
    __m512 c[4][4];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 4; u++) c[r][u] = _mm512_setzero_ps();
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
    __mmask16 km[4];
    for (int u = 0; u < 4; u++) {
        int n = nk - 16 * u;
        km[u] = n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
    }
    const __m512 l2e = _mm512_set1_ps(1.44269504088896341f), ninf = _mm512_set1_ps(-INFINITY);
    for (int r = 0; r < 4; r++) {
        __m512 m = ninf;
        for (int u = 0; u < 4; u++) m = _mm512_mask_max_ps(m, km[u], m, c[r][u]);
        __m512 acc = _mm512_loadu_ps(sumv + 16 * r);
        /* first block: mx = -inf, so this always runs and scales the zeroed O and sums by 0 */
        if (_mm512_cmp_ps_mask(m, _mm512_set1_ps(mx[r] + TAU), _CMP_GT_OQ)) {
            float mn = _mm512_reduce_max_ps(m);
            __m512 cr = _mm512_set1_ps(expf(mx[r] - mn));
            mx[r] = mn;
            acc = _mm512_mul_ps(cr, acc);
            for (int d = 0; d < HD; d += 16)
                _mm512_storeu_ps(o + r * HD + d, _mm512_mul_ps(cr, _mm512_loadu_ps(o + r * HD + d)));
        }
        const __m512 vm = _mm512_set1_ps(mx[r] * 1.44269504088896341f);
        for (int u = 0; u < 4; u++) {
            __m512 e = _mm512_maskz_mov_ps(km[u], exp2_16(_mm512_fmsub_ps(c[r][u], l2e, vm)));
            acc = _mm512_add_ps(acc, e);
            _mm512_storeu_ps(p + r * KB + 16 * u, e);
        }
        _mm512_storeu_ps(sumv + 16 * r, acc);
    }
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 4; u++) c[r][u] = _mm512_loadu_ps(o + r * HD + 16 * u);
    for (int j = 0; j < nk; j++) {
        const float *vr = v + (size_t)j * HD;
        __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
        __m512 v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);
        for (int r = 0; r < 4; r++) {
            __m512 pv = _mm512_set1_ps(p[r * KB + j]);
            c[r][0] = _mm512_fmadd_ps(pv, v0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(pv, v1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(pv, v2, c[r][2]);
            c[r][3] = _mm512_fmadd_ps(pv, v3, c[r][3]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 4; u++) _mm512_storeu_ps(o + r * HD + 16 * u, c[r][u]);
}

/* out rows (n <= RG, ld ldo) = O / row sums */
TGT static void finish(float *out, size_t ldo, const float *o, const float *sumv, int n) {
    for (int r = 0; r < n; r++) {
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_loadu_ps(sumv + 16 * r)));
        for (int d = 0; d < HD; d += 16)
            _mm512_storeu_ps(out + (size_t)r * ldo + d, _mm512_mul_ps(inv, _mm512_loadu_ps(o + r * HD + d)));
    }
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
    float *Qs = scratch + OFF_Q, *O = scratch + OFF_O, *P = scratch + OFF_P;
    float *sumv = scratch + OFF_SUM, *mx = scratch + OFF_MX;
    size_t ld = (size_t)3 * D;
    int rows4 = (rows + 3) / 4 * 4;
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
    for (int g = 0; g < rows4; g += RG) {
        int n4 = rows4 - g < RG ? rows4 - g : RG;
        memset(O, 0, sizeof(float) * RG * HD);
        memset(sumv, 0, sizeof(float) * RG * 16);
        for (int r = 0; r < RG; r++) mx[r] = -INFINITY;
        for (int j = 0; j < L; j += KB) {
            int nk = L - j < KB ? L - j : KB;
            for (int r = 0; r < n4; r += 4)
                block4(O + r * HD, mx + r, sumv + 16 * r, P, Qs + (size_t)(g + r) * HD,
                       Kt + (size_t)j * HD, V + (size_t)j * HD, nk);
        }
        int n = rows - g < RG ? rows - g : RG;
        finish(out + (size_t)(q0 + g) * D + (size_t)h * HD, D, O, sumv, n);
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
