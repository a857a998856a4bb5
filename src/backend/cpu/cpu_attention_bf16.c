/* cpu_attention_bf16.c - attention with bf16 inputs on the bf16 GEMM kernels (AMX,
 * AVX512-BF16 or portable), for engines with packed weights (--precision bf16, --weights
 * int8|q4; fathom_cpu_bf16_act_kernel).
 *
 * Per (batch, head) a thread packs k (L keys x hd) and v^T (hd x L keys) once as bf16 panel
 * matrices (cpu_bf16.h layout) in its scratch; per tile of FATHOM_BF16_RB query rows:
 * S = bf16(scale q) . k^T in fp32, a softmax over the whole row in fp32 (one key block, so no
 * rescaling), P = bf16(exp(S - max)), O = P . v in fp32, divided by the fp32 row sum.
 * Tasks are static so consecutive tiles of one head land on one thread and reuse its packing. */
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"

enum { RB = FATHOM_BF16_RB };

static int up32(int n) { return (n + 31) / 32 * 32; }

/* scratch bytes for keys L, head dim hd: k, v^T, q, S, P, O */
static size_t need(int L, int hd) {
    size_t Lp = (size_t)up32(L);
    return 2 * Lp * hd * 2 + (size_t)RB * hd * 2 + (size_t)RB * Lp * 4 + (size_t)RB * Lp * 2 +
           (size_t)RB * hd * 4 + 6 * 64;
}

int fathom_cpu_attention_bf16_fits(int L, int hd) {
    return hd % 32 == 0 && L >= 1 && need(L, hd) <= (size_t)FATHOM_CPU_SCRATCH * sizeof(float);
}

/* m (N x K, bf16 panels) <- value (n, k) at src[n sn + k sk], zero padded to Np x Kp */
static void pack(fathom_bf16_mat *m, uint16_t *dst, const float *src, size_t sn, size_t sk, int N,
                 int K) {
    m->src = NULL, m->w = dst, m->N = N, m->K = K, m->Np = up32(N), m->Kp = up32(K);
    for (int p = 0; p < m->Np / 32; p++)
        for (int kk = 0; kk < m->Kp / 2; kk++) {
            uint16_t *row = dst + ((size_t)p * (m->Kp / 2) + kk) * 64;
            for (int j = 0; j < 32; j++)
                for (int t = 0; t < 2; t++) {
                    int n = p * 32 + j, k = 2 * kk + t;
                    row[2 * j + t] = n < N && k < K ? fathom_f32_to_bf16(src[n * sn + k * sk]) : 0;
                }
        }
}

static void *align64(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

void fathom_cpu_attention_bf16(fathom_backend *be, int kern, float *out, const float *qkv, int B,
                               int L, int D, int heads, float scale) {
    const int hd = D / heads, Lp = up32(L), qt = (L + RB - 1) / RB, tasks = B * heads * qt;
    const size_t ld = 3 * (size_t)D;
#pragma omp parallel num_threads(be->threads)
    {
        uint16_t *kb = (uint16_t *)fathom_cpu_scratch(be), *vb = align64(kb + (size_t)Lp * hd);
        uint16_t *qb = align64(vb + (size_t)Lp * hd);
        float *s = align64(qb + (size_t)RB * hd);
        uint16_t *pb = align64(s + (size_t)RB * Lp);
        float *o = align64(pb + (size_t)RB * Lp);
        fathom_bf16_mat km, vm;
        int packed = -1; /* (batch, head) whose k and v^T this scratch holds */
#pragma omp for schedule(static)
        for (int t = 0; t < tasks; t++) {
            int bh = t / qt, h = bh % heads, q0 = (t % qt) * RB;
            int rows = L - q0 < RB ? L - q0 : RB;
            const float *base = qkv + (size_t)(bh / heads) * L * ld;
            if (bh != packed) {
                pack(&km, kb, base + D + (size_t)h * hd, ld, 1, L, hd);
                pack(&vm, vb, base + 2 * D + (size_t)h * hd, 1, ld, hd, L);
                packed = bh;
            }
            for (int r = 0; r < RB; r++) /* q rows scaled, zero rows past the tile */
                for (int d = 0; d < hd; d++)
                    qb[(size_t)r * hd + d] =
                        r < rows ? fathom_f32_to_bf16(scale * base[(size_t)(q0 + r) * ld + (size_t)h * hd + d]) : 0;
            fathom_cpu_gemm_bf16(kern, s, Lp, qb, &km, 0, L, rows);
            for (int r = 0; r < RB; r++) {
                uint16_t *pr = pb + (size_t)r * Lp;
                if (r >= rows) {
                    memset(pr, 0, (size_t)Lp * sizeof *pr);
                    continue;
                }
                float *sr = s + (size_t)r * Lp;
                float inv = 1.0f / fathom_cpu_exp_shift_sum(sr, L, fathom_cpu_max(sr, L));
                if (kern != FATHOM_CPU_BF16_PORTABLE) fathom_cpu_bf16_rows_avx512(pr, sr, 1, L, Lp);
                else fathom_cpu_bf16_rows(pr, sr, 1, L, Lp);
                sr[0] = inv; /* the row's scores are spent: keep 1 / sum there */
            }
            fathom_cpu_gemm_bf16(kern, o, hd, pb, &vm, 0, hd, rows);
            float *ob = out + ((size_t)(bh / heads) * L + q0) * D + (size_t)h * hd;
            for (int r = 0; r < rows; r++) {
                float inv = s[(size_t)r * Lp];
                for (int d = 0; d < hd; d++) ob[(size_t)r * D + d] = o[(size_t)r * hd + d] * inv;
            }
        }
    }
}
