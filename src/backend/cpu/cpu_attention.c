/* cpu_attention.c - flash-style multi-head attention on the CPU.
 *
 * One task = (batch, head, tile of QTILE query rows). For each block of up to KTILE keys:
 * S = scale q k^T (QTILE x keys), a softmax with a running max per row, and O += P v. When
 * the running max grows, the previous O and row sum are rescaled by exp(m_old - m_new). At
 * most QTILE x KTILE scores exist per thread, never L x L.
 *
 * Engines with packed weights (--precision bf16, --weights int8|q4) take the bf16 path
 * (cpu_attention_bf16.c). Otherwise two paths: head dim 64 (every Depth Anything V2 size) with L <= FAST_L on AVX-512 CPUs
 * uses a register-blocked flash kernel (cpu_attention_avx512.c); anything else uses sgemm straight
 * from the packed qkv rows (ld = 3D), accumulating into the head's columns of out. */
#include <cblas.h>
#include <math.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"

_Static_assert(FATHOM_CPU_QTILE * FATHOM_CPU_KTILE + 2 * FATHOM_CPU_QTILE <= FATHOM_CPU_SCRATCH,
               "attention tile must fit the per-thread scratch");

void fathom_cpu_online_softmax(float *s, int lds, int rows, int nk, float *mx, float *sum,
                               float *o, int ldo, int hd, int first) {
    for (int r = 0; r < rows; r++) {
        float *sr = s + (size_t)r * lds, m = fathom_cpu_max(sr, nk);
        if (first) {
            mx[r] = m;
            sum[r] = fathom_cpu_exp_shift_sum(sr, nk, m);
        } else {
            float mn = m > mx[r] ? m : mx[r];
            float corr = fathom_cpu_exp(mx[r] - mn);
            if (corr != 1.0f) {
                float *orow = o + (size_t)r * ldo;
                for (int d = 0; d < hd; d++) orow[d] *= corr;
            }
            mx[r] = mn;
            sum[r] = sum[r] * corr + fathom_cpu_exp_shift_sum(sr, nk, mn);
        }
    }
}

static void attention_tile_blas(fathom_backend *be, float *out, const float *qkv, int L, int D,
                                int hd, int h, int q0, int rows, float scale) {
    float *s = fathom_cpu_scratch(be);                   /* rows x KTILE scores */
    float *mx = s + FATHOM_CPU_QTILE * FATHOM_CPU_KTILE; /* running max per row */
    float *sum = mx + FATHOM_CPU_QTILE;                  /* running sum of exp per row */
    int ld = 3 * D;
    const float *q = qkv + (size_t)q0 * ld + (size_t)h * hd;
    const float *k = qkv + D + (size_t)h * hd, *v = qkv + 2 * D + (size_t)h * hd;
    float *o = out + (size_t)q0 * D + (size_t)h * hd;
    for (int j0 = 0; j0 < L; j0 += FATHOM_CPU_KTILE) {
        int nk = L - j0 < FATHOM_CPU_KTILE ? L - j0 : FATHOM_CPU_KTILE;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nk, hd, scale, q, ld,
                    k + (size_t)j0 * ld, ld, 0.0f, s, nk);
        fathom_cpu_online_softmax(s, nk, rows, nk, mx, sum, o, D, hd, j0 == 0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, nk, 1.0f, s, nk,
                    v + (size_t)j0 * ld, ld, j0 == 0 ? 0.0f : 1.0f, o, D);
    }
    for (int r = 0; r < rows; r++) {
        float inv = 1.0f / sum[r], *orow = o + (size_t)r * D;
        for (int d = 0; d < hd; d++) orow[d] *= inv;
    }
}

void fathom_cpu_attention(fathom_backend *be, float *out, const float *qkv, int B, int L, int D,
                          int heads, float scale) {
    int hd = D / heads;
    int bk = fathom_cpu_bf16_act_kernel(be); /* bf16 / int8 / q4 engines (cpu_packed.h) */
    if (bk >= 0 && fathom_cpu_attention_bf16_fits(L, hd)) {
        fathom_cpu_attention_bf16(be, bk, out, qkv, B, L, D, heads, scale);
        return;
    }
    if (hd == 64 && L <= FATHOM_CPU_FAST_L && fathom_cpu_has_avx512()) {
        int qt = (L + FATHOM_CPU_FAST_QTILE - 1) / FATHOM_CPU_FAST_QTILE, tasks = B * heads * qt;
#pragma omp parallel num_threads(be->threads)
        {
            float *scratch = fathom_cpu_scratch(be);
            int packed = -1; /* (batch, head) whose k/v this thread's scratch holds */
            /* static: each thread gets a contiguous run of tiles, so it packs each head once */
#pragma omp for schedule(static)
            for (int t = 0; t < tasks; t++) {
                int bh = t / qt, q0 = (t % qt) * FATHOM_CPU_FAST_QTILE;
                int rows = L - q0 < FATHOM_CPU_FAST_QTILE ? L - q0 : FATHOM_CPU_FAST_QTILE;
                const float *base = qkv + (size_t)(bh / heads) * L * 3 * D;
                if (bh != packed) {
                    fathom_cpu_attention_pack64(scratch, base, L, D, bh % heads);
                    packed = bh;
                }
                fathom_cpu_attention_tile64(scratch, out + (size_t)(bh / heads) * L * D, base, L, D,
                                            bh % heads, q0, rows, scale);
            }
        }
        return;
    }
    int qt = (L + FATHOM_CPU_QTILE - 1) / FATHOM_CPU_QTILE, tasks = B * heads * qt;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < tasks; t++) {
        int bt = t / (heads * qt), h = (t / qt) % heads, q0 = (t % qt) * FATHOM_CPU_QTILE;
        int rows = L - q0 < FATHOM_CPU_QTILE ? L - q0 : FATHOM_CPU_QTILE;
        size_t off = (size_t)bt * L;
        attention_tile_blas(be, out + off * D, qkv + off * 3 * D, L, D, hd, h, q0, rows, scale);
    }
}
