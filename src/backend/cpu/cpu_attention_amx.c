/* cpu_attention_amx.c - flash attention on AMX-BF16 tiles for 32 query rows.
 *
 * The bf16 attention (cpu_attention_bf16.c) packs k and v^T per (batch, head) as bf16 panels;
 * the other variants then write a whole row of scores (L fp32 per query row, ~0.5 MiB per
 * 96-row task at L 1370) and read it back twice. Here the scores stay in L1: per block of KB
 * keys, S (32 x KB) = q . k^T in 16 x 16 fp32 tiles, stored to a 16 KiB buffer; an online
 * softmax in AVX-512 writes P = bf16(exp(S - m)) as A tiles, with a reference max m per row
 * that moves only when P grows past a bound (then the row's O and sum are scaled by
 * exp(m_old - m_new)); O (32 x hd fp32, in L1) += P . v with the O tiles loaded, accumulated
 * and stored back per 32-dim panel; O is divided by the row sum at the end. The next block's
 * scores are computed between P's stores and the tile loads of P. Only `rows` rows are written.
 * Against the row-at-once path on ViT-S (L 1370, hd 64): 5.9 against 9.1 ms of CPU per layer,
 * one thread (loaded); the exp (below) is most of the difference. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_bf16.h"

enum { KB = FATHOM_BF16_FLASH_KB }; /* keys per block: four key panels */
/* softmax: the reference max moves when a lane's sum of KB / 16 exponentials passes PSUM, so
 * P <= 2^14 (~e^9.7) between moves, and a move means some P passed 2^11 (a score above the
 * reference by more than 7.6); fp32 sums and bf16 P keep their relative precision at that size */
#define PSUM 0x1p14f

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#include <immintrin.h>

#include "backend/cpu/cpu_amx_tiles.h"
#include "backend/cpu/cpu_attention_exp2.h"

#define TGT __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512dq,avx512bf16")))

/* S (32 x 32 at s, ld KB) = q (32 x hd, ld hd) . keys of panel kp^T */
TGT static void scores32(float *s, const uint16_t *q, const uint16_t *kp, int hd) {
    const size_t sq = (size_t)hd * sizeof(uint16_t), ss = KB * sizeof(float);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int k = 0; k < hd; k += 32, kp += 32 * 32) fathom_amx_bf16_2x2(q + k, q + (size_t)16 * hd + k, sq, kp);
    fathom_amx_store_2x2(s, s + 16 * KB, ss);
}

/* S (32 x KB) for the keys from j0 (up to L) */
TGT static void scores(float *s, const uint16_t *q, const fathom_bf16_mat *km, int j0, int L, int hd) {
    int nkp = ((L - j0 < KB ? L - j0 : KB) + 31) / 32 * 32;
    for (int j = 0; j < nkp; j += 32) scores32(s + j, q, km->w + (size_t)((j0 + j) / 32) * km->Kp * 32, hd);
}

/* P row (bf16) = exp(x - mx) for one row's KB scores x (zero where masked); returns the 16
 * lane sums (each lane sums KB / 16 exponentials) */
__attribute__((always_inline)) TGT static inline __m512 exp_row(uint16_t *pr, const __m512 *x,
                                                                const __mmask16 *km, int full, float mx) {
    const __m512 l2e = _mm512_set1_ps(1.44269504088896341f), vm = _mm512_set1_ps(mx * 1.44269504088896341f);
    __m512 acc = _mm512_setzero_ps();
    for (int v = 0; v < KB / 16; v += 2) {
        __m512 e0 = fathom_exp2_bf16p(_mm512_fmsub_ps(x[v], l2e, vm)), e1 = fathom_exp2_bf16p(_mm512_fmsub_ps(x[v + 1], l2e, vm));
        if (!full) e0 = _mm512_maskz_mov_ps(km[v], e0), e1 = _mm512_maskz_mov_ps(km[v + 1], e1);
        acc = _mm512_add_ps(acc, _mm512_add_ps(e0, e1));
        _mm512_storeu_si512(pr + 16 * v, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    return acc;
}

/* One row of the online softmax (see softmax32); full: all KB keys valid (no masks).
 * Speculative: P under the current reference max, with no max taken (8 max operations of the
 * ~75 per row); only when a lane sum passes PSUM, or is inf / NaN, is the row's max taken, the
 * reference moved to it (the row's O and sum scaled by exp(m_old - m_new)) and P redone. The
 * first block (mx = -inf) always takes the max. O, in the tiles' memory, is rarely touched by
 * vector code. */
__attribute__((always_inline)) TGT static inline void softmax_row(uint16_t *pr, const float *sr,
                                                                  const __mmask16 *km, int full, float *mx,
                                                                  float *sumv, float *orow, int hd) {
    __m512 x[KB / 16];
    for (int v = 0; v < KB / 16; v++) x[v] = full ? _mm512_loadu_ps(sr + 16 * v) : _mm512_maskz_loadu_ps(km[v], sr + 16 * v);
    __m512 acc = _mm512_loadu_ps(sumv), blk;
    if (*mx == -INFINITY || _mm512_cmp_ps_mask(blk = exp_row(pr, x, km, full, *mx),
                                               _mm512_set1_ps(PSUM), _CMP_NLE_UQ)) {
        __m512 m = _mm512_set1_ps(-INFINITY);
        for (int v = 0; v < KB / 16; v++) m = full ? _mm512_max_ps(m, x[v]) : _mm512_mask_max_ps(m, km[v], m, x[v]);
        float mn = _mm512_reduce_max_ps(m);
        if (mn > *mx) {
            __m512 c = _mm512_set1_ps(expf(*mx - mn)); /* first block: 0 */
            *mx = mn;
            acc = _mm512_mul_ps(c, acc);
            for (int d = 0; d < hd; d += 16) _mm512_storeu_ps(orow + d, _mm512_mul_ps(c, _mm512_loadu_ps(orow + d)));
        }
        blk = exp_row(pr, x, km, full, *mx);
    }
    _mm512_storeu_ps(sumv, _mm512_add_ps(acc, blk));
}

/* The online softmax of one block of nk keys (nk <= KB) for 32 rows: P (32 x KB bf16) with
 * zeros past nk, the reference max mx and the 16 partial sums sumv of each row updated, O
 * rows rescaled where the reference moved. P <= 2^14 meanwhile. */
TGT static void softmax32(uint16_t *p, const float *s, int nk, float *mx, float *sumv, float *o,
                          int hd) {
    __mmask16 km[KB / 16];
    for (int v = 0; v < KB / 16; v++) {
        int n = nk - 16 * v;
        km[v] = n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
    }
    for (int r = 0; r < 32; r++) {
        if (nk == KB) softmax_row(p + (size_t)r * KB, s + (size_t)r * KB, km, 1, &mx[r], sumv + 16 * r, o + (size_t)r * hd, hd);
        else softmax_row(p + (size_t)r * KB, s + (size_t)r * KB, km, 0, &mx[r], sumv + 16 * r, o + (size_t)r * hd, hd);
    }
}

/* O (32 x hd, ld hd) += P (32 x nkp keys, ld KB) . v[j0 .. j0 + nkp) */
TGT static void accumulate32(float *o, const uint16_t *p, const fathom_bf16_mat *vm, int j0, int nkp,
                             int hd) {
    const size_t so = (size_t)hd * sizeof(float), sp = KB * sizeof(uint16_t);
    float *o1 = o + (size_t)16 * hd;
    for (int d = 0; d < hd; d += 32) {
        const uint16_t *b = vm->w + ((size_t)(d / 32) * (vm->Kp / 2) + j0 / 2) * 64;
        fathom_amx_load_2x2(o + d, o1 + d, so);
        for (int c = 0; c < nkp; c += 32, b += 16 * 64) fathom_amx_bf16_2x2(p + c, p + (size_t)16 * KB + c, sp, b);
        fathom_amx_store_2x2(o + d, o1 + d, so);
    }
}

TGT void fathom_cpu_attention_amx32(float *out, size_t ldo, int rows, const uint16_t *q,
                                    const fathom_bf16_mat *km, const fathom_bf16_mat *vm, int L,
                                    void *scratch) {
    const int hd = km->K;
    float *s = scratch, *o = s + 32 * KB;
    uint16_t *p = (uint16_t *)(o + (size_t)32 * hd);
    float mx[32], sumv[32 * 16] __attribute__((aligned(64)));
    for (int r = 0; r < 32; r++) mx[r] = -INFINITY;
    memset(sumv, 0, sizeof sumv);
    memset(o, 0, (size_t)32 * hd * sizeof *o);
    fathom_amx_config();
    /* software-pipelined: the next block's scores run between P's vector stores and the
     * tile loads that read P (a tile load right after them waits for the stores to drain) */
    scores(s, q, km, 0, L, hd);
    softmax32(p, s, L < KB ? L : KB, mx, sumv, o, hd);
    for (int j0 = 0; j0 < L; j0 += KB) {
        int nk = L - j0 < KB ? L - j0 : KB, next = j0 + KB;
        if (next < L) scores(s, q, km, next, L, hd);
        accumulate32(o, p, vm, j0, (nk + 31) / 32 * 32, hd);
        if (next < L) softmax32(p, s, L - next < KB ? L - next : KB, mx, sumv, o, hd);
    }
    _tile_release();
    for (int r = 0; r < rows; r++) {
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_loadu_ps(sumv + 16 * r)));
        for (int d = 0; d < hd; d += 16)
            _mm512_storeu_ps(out + (size_t)r * ldo + d, _mm512_mul_ps(inv, _mm512_loadu_ps(o + (size_t)r * hd + d)));
    }
}

int fathom_cpu_attention_amx_built(void) { return 1; }

#else /* no AMX intrinsics in this compiler: the caller takes the GEMM path */

void fathom_cpu_attention_amx32(float *out, size_t ldo, int rows, const uint16_t *q,
                                const fathom_bf16_mat *km, const fathom_bf16_mat *vm, int L,
                                void *scratch) {
    (void)out, (void)ldo, (void)rows, (void)q, (void)km, (void)vm, (void)L, (void)scratch;
}

int fathom_cpu_attention_amx_built(void) { return 0; }

#endif
