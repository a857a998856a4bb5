/* cpu_resize.c - bilinear resize, align_corners=True, exactly the reference's arithmetic.
 *
 * Each thread builds the column table (x0, x1, lambda) once in its scratch, then a task is
 * one output row of one plane, blended from two horizontally interpolated input rows that
 * the thread keeps while consecutive output rows read them. Same float32 operations as
 * fathom_ref_resize_bilinear. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_resize.h"

void fathom_cpu_resize_index(int d, float scale, int n_in, int *i0, int *i1, float *lambda) {
    float s = scale * (float)d;
    int f = (int)floorf(s);
    if (f > n_in - 1) f = n_in - 1;
    *i0 = f;
    *i1 = f < n_in - 1 ? f + 1 : f;
    *lambda = s - (float)f;
}

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#include <immintrin.h>

/* 16 columns per two gathers; no FMA contraction, so the same bits as the loop below */
__attribute__((target("avx512f"), optimize("fp-contract=off"))) static void hrow_avx512(
    float *h, const float *r, const int *x0, const int *x1, const float *lx, int Wo) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int x = 0; x < Wo; x += 16) {
        const __mmask16 m = Wo - x >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (Wo - x)) - 1);
        const __m512 l = _mm512_maskz_loadu_ps(m, lx + x);
        const __m512 a = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_maskz_loadu_epi32(m, x0 + x), r, 4);
        const __m512 b = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_maskz_loadu_epi32(m, x1 + x), r, 4);
        _mm512_mask_storeu_ps(h + x, m, _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(one, l), a), _mm512_mul_ps(l, b)));
    }
}
#define HAVE_HROW_AVX512 1
#endif

/* h[x] = the horizontal interpolation of row r at output column x (the reference's top / bot) */
void fathom_cpu_resize_hrow(float *h, const float *r, const int *x0, const int *x1, const float *lx, int Wo) {
#ifdef HAVE_HROW_AVX512
    if (Wo >= 16 && fathom_cpu_has_avx512()) {
        hrow_avx512(h, r, x0, x1, lx, Wo);
        return;
    }
#endif
    for (int x = 0; x < Wo; x++) h[x] = (1.0f - lx[x]) * r[x0[x]] + lx[x] * r[x1[x]];
}

/* The interpolated row of input row `key` (plane * Hi + y) in one of the two slots, computed
 * there unless a slot holds it already; the slot holding `keep` is not overwritten. */
static const float *row_of(float *const h[2], long key[2], long want, long keep, const float *r,
                           const int *x0, const int *x1, const float *lx, int Wo) {
    if (key[0] == want) return h[0];
    if (key[1] == want) return h[1];
    int s = key[0] == keep ? 1 : 0;
    fathom_cpu_resize_hrow(h[s], r, x0, x1, lx, Wo);
    key[s] = want;
    return h[s];
}

void fathom_cpu_resize_bilinear(fathom_backend *be, float *out, const float *in, int P, int Hi,
                                int Wi, int Ho, int Wo) {
    float sy = Ho > 1 ? (float)(Hi - 1) / (float)(Ho - 1) : 0.0f;
    float sx = Wo > 1 ? (float)(Wi - 1) / (float)(Wo - 1) : 0.0f;
    /* the column table and two interpolated input rows: each input row is interpolated
     * across once per run of output rows that read it (about 4 times fewer for a 2x
     * upsampling), the same float32 expression, so the same bits; else all inline */
    int table = 5 * (size_t)Wo <= FATHOM_CPU_SCRATCH;
#pragma omp parallel num_threads(be->threads)
    {
        float *lx = fathom_cpu_scratch(be);
        int *x0 = (int *)(lx + Wo), *x1 = x0 + Wo;
        float *const h[2] = {(float *)(x1 + Wo), (float *)(x1 + Wo) + Wo};
        long key[2] = {-1, -1}; /* plane * Hi + y of the input row each slot holds */
        if (table)
            for (int x = 0; x < Wo; x++) fathom_cpu_resize_index(x, sx, Wi, &x0[x], &x1[x], &lx[x]);
#pragma omp for schedule(static)
        for (long t = 0; t < (long)P * Ho; t++) {
            int p = (int)(t / Ho), y = (int)(t % Ho), y0, y1;
            float ly;
            fathom_cpu_resize_index(y, sy, Hi, &y0, &y1, &ly);
            const float *r0 = in + ((size_t)p * Hi + y0) * Wi, *r1 = in + ((size_t)p * Hi + y1) * Wi;
            float *o = out + ((size_t)p * Ho + y) * Wo;
            if (table) {
                long k0 = (long)p * Hi + y0, k1 = (long)p * Hi + y1;
                const float *top = row_of(h, key, k0, k1, r0, x0, x1, lx, Wo);
                const float *bot = row_of(h, key, k1, k0, r1, x0, x1, lx, Wo);
                for (int x = 0; x < Wo; x++) o[x] = (1.0f - ly) * top[x] + ly * bot[x];
                continue;
            }
            for (int x = 0; x < Wo; x++) {
                int a, c;
                float l;
                fathom_cpu_resize_index(x, sx, Wi, &a, &c, &l);
                float top = (1.0f - l) * r0[a] + l * r0[c];
                float bot = (1.0f - l) * r1[a] + l * r1[c];
                o[x] = (1.0f - ly) * top + ly * bot;
            }
        }
    }
}
