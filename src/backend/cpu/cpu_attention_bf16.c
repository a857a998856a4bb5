/* cpu_attention_bf16.c - attention with bf16 inputs on the bf16 GEMM kernels (AMX,
 * AVX512-BF16 or portable), for engines with packed weights (--precision bf16, --weights
 * int8|q4; fathom_cpu_bf16_act_kernel).
 *
 * Per (batch, head) a thread packs k (L keys x hd) and v^T (hd x L keys) once as bf16 panel
 * matrices (cpu_bf16.h layout) in its scratch; per tile of FATHOM_BF16_RB query rows:
 * S = bf16(scale q) . k^T in fp32, a softmax over the whole row in fp32 (one key block, so no
 * rescaling): the row max, then one pass writing P = bf16(exp(S - max)) and summing in fp32;
 * O = P . v in fp32, divided by the row sum. On AMX the tile goes to the flash kernel
 * instead (cpu_attention_amx.c: 128-key blocks, online softmax, no score row in memory), and
 * on AVX512-BF16 without AMX (Zen 4) to its register-tile twin (cpu_attention_bf16flash.c).
 * The row-at-once GEMM path stays for the portable kernel and compilers without the intrinsics.
 * Tasks are static so consecutive tiles of one head land on one thread and reuse its packing. */
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_attention_flash.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"

enum { RB = FATHOM_BF16_RB };

static int up32(int n) { return (n + 31) / 32 * 32; }

/* scratch bytes for keys L, head dim hd: k, v^T, q, then S, P, O (or the AMX flash kernel's
 * S, O, P from S on: FATHOM_BF16_FLASH_BYTES, cpu_bf16.h) */
static size_t need(int L, int hd) {
    size_t Lp = (size_t)up32(L), rows = (size_t)RB * Lp * 4 + (size_t)RB * Lp * 2 + (size_t)RB * hd * 4;
    size_t flash = FATHOM_BF16_FLASH_BYTES(hd);
    return 2 * Lp * hd * 2 + (size_t)RB * hd * 2 + (rows > flash ? rows : flash) + 6 * 64;
}

int fathom_cpu_attention_bf16_fits(int L, int hd) {
    return hd % 32 == 0 && L >= 1 && need(L, hd) <= (size_t)FATHOM_CPU_SCRATCH * sizeof(float);
}

/* km (L keys x hd, bf16 panels) <- k rows at k + n ld: each key's row is converted once, then
 * its k-pairs go to their panel rows (a 32-bit store each); keys past L are zero. */
static void pack_k(fathom_bf16_mat *m, uint16_t *dst, uint16_t *tmp, const float *k, size_t ld,
                   int L, int hd, int fast) {
    m->src = NULL, m->w = dst, m->N = L, m->K = hd, m->Np = up32(L), m->Kp = hd;
    const size_t pstride = (size_t)(hd / 2) * 64; /* one panel: hd / 2 rows of 64 bf16 */
    for (int n = 0; n < m->Np; n++) {
        if (n < L) {
            if (fast) fathom_cpu_bf16_scale_avx512(tmp, k + (size_t)n * ld, hd, 1.0f);
            else fathom_cpu_bf16_scale(tmp, k + (size_t)n * ld, hd, 1.0f);
        } else {
            memset(tmp, 0, (size_t)hd * sizeof *tmp);
        }
        uint16_t *col = dst + (size_t)(n / 32) * pstride + (size_t)(n % 32) * 2;
        for (int kk = 0; kk < hd / 2; kk++) memcpy(col + (size_t)kk * 64, tmp + 2 * kk, 4);
    }
}

/* vm (hd x L keys, bf16 panels) <- v^T: k-pair row kk of panel p holds dims p*32.. of keys
 * 2kk and 2kk + 1, interleaved; a key past L is a zero row (src zrow). */
static void pack_vt(fathom_bf16_mat *m, uint16_t *dst, const float *v, size_t ld, const float *zrow,
                    int L, int hd, int fast) {
    m->src = NULL, m->w = dst, m->N = hd, m->K = L, m->Np = hd, m->Kp = up32(L);
    for (int p = 0; p < hd / 32; p++)
        for (int kk = 0; kk < m->Kp / 2; kk++) {
            uint16_t *row = dst + ((size_t)p * (m->Kp / 2) + kk) * 64;
            const float *v0 = 2 * kk < L ? v + (size_t)(2 * kk) * ld + p * 32 : zrow;
            const float *v1 = 2 * kk + 1 < L ? v + (size_t)(2 * kk + 1) * ld + p * 32 : zrow;
            if (fast) fathom_cpu_bf16_pair_rows_avx512(row, v0, v1);
            else fathom_cpu_bf16_pair_rows(row, v0, v1);
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
        float zrow[32] = {0};
        const int fast = kern != FATHOM_CPU_BF16_PORTABLE; /* AVX512-BF16 conversions */
        /* AMX: the flash kernel, its scratch from s on (need() counts it) */
        const int amx = kern == FATHOM_CPU_BF16_AMX && fathom_cpu_attention_amx_built();
        const int flash = kern == FATHOM_CPU_BF16_AVX512 && fathom_cpu_attention_bf16flash_built();
        fathom_bf16_mat km, vm;
        int packed = -1; /* (batch, head) whose k and v^T this scratch holds */
#pragma omp for schedule(static)
        for (int t = 0; t < tasks; t++) {
            int bh = t / qt, h = bh % heads, q0 = (t % qt) * RB;
            int rows = L - q0 < RB ? L - q0 : RB;
            const float *base = qkv + (size_t)(bh / heads) * L * ld;
            if (bh != packed) {
                pack_k(&km, kb, qb, base + D + (size_t)h * hd, ld, L, hd, fast);
                pack_vt(&vm, vb, base + 2 * D + (size_t)h * hd, ld, zrow, L, hd, fast);
                packed = bh;
            }
            for (int r = 0; r < RB; r++) { /* q rows scaled, zero rows past the tile */
                uint16_t *qr = qb + (size_t)r * hd;
                const float *src = base + (size_t)(q0 + r) * ld + (size_t)h * hd;
                if (r >= rows) memset(qr, 0, (size_t)hd * sizeof *qr);
                else if (fast) fathom_cpu_bf16_scale_avx512(qr, src, hd, scale);
                else fathom_cpu_bf16_scale(qr, src, hd, scale);
            }
            float *ob = out + ((size_t)(bh / heads) * L + q0) * D + (size_t)h * hd;
            if (amx) { /* flash: scores in L1 tiles (cpu_attention_amx.c) */
                for (int r0 = 0; r0 < rows; r0 += 32)
                    fathom_cpu_attention_amx32(ob + (size_t)r0 * D, D, rows - r0 < 32 ? rows - r0 : 32,
                                               qb + (size_t)r0 * hd, &km, &vm, L, s);
                continue;
            }
            if (flash) { /* the same on AVX512-BF16 register tiles (cpu_attention_bf16flash.c) */
                fathom_cpu_attention_bf16flash(ob, D, rows, qb, &km, &vm, L, s);
                continue;
            }
            fathom_cpu_gemm_bf16(kern, s, Lp, qb, &km, 0, L, rows);
            for (int r = 0; r < RB; r++) {
                uint16_t *pr = pb + (size_t)r * Lp;
                if (r >= rows) {
                    memset(pr, 0, (size_t)Lp * sizeof *pr);
                    continue;
                }
                float *sr = s + (size_t)r * Lp;
                float mx = fathom_cpu_max(sr, L);
                sr[0] = 1.0f / (fast ? fathom_cpu_exp_bf16_avx512(pr, sr, L, Lp, mx)
                                     : fathom_cpu_exp_shift_sum_bf16(pr, sr, L, Lp, mx));
                /* the row's scores are spent: sr[0] keeps 1 / sum */
            }
            fathom_cpu_gemm_bf16(kern, o, hd, pb, &vm, 0, hd, rows);
            for (int r = 0; r < rows; r++) {
                float inv = s[(size_t)r * Lp];
                for (int d = 0; d < hd; d++) ob[(size_t)r * D + d] = o[(size_t)r * hd + d] * inv;
            }
        }
    }
}
