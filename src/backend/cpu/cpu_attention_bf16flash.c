/* cpu_attention_bf16flash.c - flash attention with AVX512-BF16 (vdpbf16ps) register tiles,
 * for CPUs without AMX (Zen 4); the AMX twin is cpu_attention_amx.c.
 *
 * Query rows go in groups of R = 12. Per block of KB keys (their k and v^T panels, 2 x 16 KiB
 * at hd 64, stay in L1 for the group): S (12 x 32 keys, one k panel) = q . k^T in 24 zmm
 * accumulators, each pair of dims one vdpbf16ps against a broadcast q pair; the online
 * softmax on those registers, P = bf16(exp(S - m)) to a 12 x KB buffer; then per 32-dim
 * panel, O (12 x 32, fp32, kept in L1 between blocks) += P . v in 24 accumulators, each pair
 * of keys one vdpbf16ps against a broadcast P pair. The reference max m of a row moves only
 * when a score passes it by TAU (then O and the row sum are scaled by exp(m_old - m_new)), as
 * in the AMX kernel; exp is exp2 by a degree-3 polynomial (relative error 7.5e-5, well under
 * bf16's half step 2e-3, since P is rounded to bf16 next). No score row exists in memory. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_attention_flash.h"

enum { R = 12, KB = FATHOM_BF16_FLASH_KB };
#define TAU 8.0f

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

#include "backend/cpu/cpu_attention_exp2.h"

TGT static inline __m512bh pair(const uint16_t *p) { /* two bf16 broadcast to 16 lanes */
    uint32_t u;
    memcpy(&u, p, 4);
    return (__m512bh)_mm512_set1_epi32((int)u);
}

/* c (12 x 32) += A (12 rows of n pairs, ld lda bf16) . B (n rows of 32 column pairs, 64 bf16
 * apart): per pair row one vdpbf16ps against each row's broadcast pair */
__attribute__((always_inline)) TGT static inline void dp12x32(__m512 c[R][2], const uint16_t *a, size_t lda,
                                                              const uint16_t *b, int n) {
    for (int kk = 0; kk < n; kk++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + (size_t)kk * 64);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + (size_t)kk * 64 + 32);
        for (int r = 0; r < R; r++) {
            __m512bh x = pair(a + (size_t)r * lda + 2 * kk);
            c[r][0] = _mm512_dpbf16_ps(c[r][0], x, b0);
            c[r][1] = _mm512_dpbf16_ps(c[r][1], x, b1);
        }
    }
}

/* O (12 x 32 dims at o, ld hd) += P (12 x nkp keys, ld KB) . v^T panel rows from vp */
TGT static void accumulate(float *o, int hd, const uint16_t *p, const uint16_t *vp, int nkp) {
    __m512 c[R][2];
    for (int r = 0; r < R; r++) {
        c[r][0] = _mm512_loadu_ps(o + (size_t)r * hd);
        c[r][1] = _mm512_loadu_ps(o + (size_t)r * hd + 16);
    }
    dp12x32(c, p, KB, vp, nkp / 2);
    for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(o + (size_t)r * hd, c[r][0]);
        _mm512_storeu_ps(o + (size_t)r * hd + 16, c[r][1]);
    }
}

/* S for 12 rows x the 32 keys of panel kp, then their online softmax: P (bf16) to p + col
 * (ld KB), row maxima mx, partial sums sumv (12 x 16), O rows (12 x hd) rescaled where the
 * reference moved; nk: valid keys of the panel (1..32). P columns from *done to col were
 * made with the old references: before a reference moves they go into O (v^T panels from
 * vp, ld vld elements, at the block's first key pair) and *done = col. */
TGT static void scores_softmax(uint16_t *p, int col, int *done, const uint16_t *q, const uint16_t *kp,
                               const uint16_t *vp, size_t vld, int hd, int nk, float *mx, float *sumv,
                               float *o) {
    __m512 c[R][2];
    for (int r = 0; r < R; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    dp12x32(c, q, (size_t)hd, kp, hd / 2);
    const __mmask16 m0 = nk >= 16 ? 0xffff : (__mmask16)((1u << nk) - 1);
    const __mmask16 m1 = nk >= 32 ? 0xffff : nk <= 16 ? 0 : (__mmask16)((1u << (nk - 16)) - 1);
    const __m512 l2e = _mm512_set1_ps(1.44269504088896341f);
    __m512 mr[R];
    __mmask16 moved = 0; /* rows whose reference max moves */
    for (int r = 0; r < R; r++) {
        mr[r] = _mm512_mask_max_ps(_mm512_set1_ps(-INFINITY), m0, c[r][0], c[r][0]);
        mr[r] = _mm512_mask_max_ps(mr[r], m1, mr[r], c[r][1]);
        if (_mm512_cmp_ps_mask(mr[r], _mm512_set1_ps(mx[r] + TAU), _CMP_GT_OQ)) moved |= (__mmask16)(1u << r);
    }
    if (moved && *done < col) { /* rare: flush the block's earlier P under the old references */
        for (int d = 0; d < hd; d += 32)
            accumulate(o + d, hd, p + *done, vp + (size_t)(d / 32) * vld + (size_t)(*done / 2) * 64, col - *done);
        *done = col;
    }
    for (int r = 0; r < R; r++) {
        __m512 acc = _mm512_loadu_ps(sumv + 16 * r);
        if (moved >> r & 1) { /* always on the first block */
            float mn = _mm512_reduce_max_ps(mr[r]);
            __m512 cr = _mm512_set1_ps(expf(mx[r] - mn));
            mx[r] = mn;
            acc = _mm512_mul_ps(cr, acc);
            for (int d = 0; d < hd; d += 16)
                _mm512_storeu_ps(o + (size_t)r * hd + d, _mm512_mul_ps(cr, _mm512_loadu_ps(o + (size_t)r * hd + d)));
        }
        const __m512 vm = _mm512_set1_ps(mx[r] * 1.44269504088896341f);
        __m512 e0 = _mm512_maskz_mov_ps(m0, fathom_exp2_bf16p(_mm512_fmsub_ps(c[r][0], l2e, vm)));
        __m512 e1 = _mm512_maskz_mov_ps(m1, fathom_exp2_bf16p(_mm512_fmsub_ps(c[r][1], l2e, vm)));
        _mm512_storeu_ps(sumv + 16 * r, _mm512_add_ps(acc, _mm512_add_ps(e0, e1)));
        _mm512_storeu_si512(p + (size_t)r * KB + col, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
}

TGT void fathom_cpu_attention_bf16flash(float *out, size_t ldo, int rows, const uint16_t *q,
                                        const fathom_bf16_mat *km, const fathom_bf16_mat *vm, int L,
                                        void *scratch) {
    const int hd = km->K;
    float *o = scratch, *sumv = o + (size_t)R * hd; /* O (12 x hd), sums (12 x 16) */
    uint16_t *qg = (uint16_t *)(sumv + R * 16);      /* the group's q, zero rows past `rows` */
    uint16_t *p = qg + (size_t)R * hd;               /* P (12 x KB) */
    float mx[R];
    for (int g = 0; g < rows; g += R) {
        const int n = rows - g < R ? rows - g : R;
        memcpy(qg, q + (size_t)g * hd, (size_t)n * hd * sizeof *qg);
        memset(qg + (size_t)n * hd, 0, (size_t)(R - n) * hd * sizeof *qg);
        memset(o, 0, (size_t)R * hd * sizeof *o);
        memset(sumv, 0, (size_t)R * 16 * sizeof *sumv);
        for (int r = 0; r < R; r++) mx[r] = -INFINITY;
        for (int j0 = 0; j0 < L; j0 += KB) {
            const int nk = L - j0 < KB ? L - j0 : KB, nkp = (nk + 31) / 32 * 32;
            const size_t vld = (size_t)(vm->Kp / 2) * 64; /* one v^T panel (32 dims) */
            const uint16_t *vp = vm->w + (size_t)(j0 / 2) * 64;
            int done = 0; /* P columns of this block already in O */
            for (int j = 0; j < nkp; j += 32)
                scores_softmax(p, j, &done, qg, km->w + (size_t)((j0 + j) / 32) * km->Kp * 32, vp, vld,
                               hd, nk - j < 32 ? nk - j : 32, mx, sumv, o);
            for (int d = 0; d < hd; d += 32)
                accumulate(o + d, hd, p + done, vp + (size_t)(d / 32) * vld + (size_t)(done / 2) * 64, nkp - done);
        }
        for (int r = 0; r < n; r++) {
            __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_loadu_ps(sumv + 16 * r)));
            for (int d = 0; d < hd; d += 16)
                _mm512_storeu_ps(out + (size_t)(g + r) * ldo + d, _mm512_mul_ps(inv, _mm512_loadu_ps(o + (size_t)r * hd + d)));
        }
    }
}

int fathom_cpu_attention_bf16flash_built(void) { return 1; }

#else /* no AVX512-BF16 intrinsics in this compiler: the caller takes the GEMM path */

void fathom_cpu_attention_bf16flash(float *out, size_t ldo, int rows, const uint16_t *q,
                                    const fathom_bf16_mat *km, const fathom_bf16_mat *vm, int L,
                                    void *scratch) {
    (void)out, (void)ldo, (void)rows, (void)q, (void)km, (void)vm, (void)L, (void)scratch;
}

int fathom_cpu_attention_bf16flash_built(void) { return 0; }

#endif
