/* cpu_q4.h - 4-bit weights for the CPU backend (--weights q4).
 *
 * Every encoder linear weight is quantized once, when the engine is made, in groups of 32
 * along K per output column: symmetric, q = round(w / d) in [-8, 7], d = m / -8 where m is the
 * group's value of largest magnitude (llama.cpp's q4_0), d stored as bf16. That is 4.5 bits a
 * weight, 7.1x less than fp32. A GEMM dequantizes one 32-column panel at a time into the bf16
 * panel layout of cpu_bf16.h (w = bf16(q * d): exact product, one rounding), in cache, and
 * runs the bf16 kernel on it: activations are bf16 per row, sums fp32, as --precision bf16.
 *
 * Kernels: the bf16 ones (portable | avx512bf16 | amx, FATHOM_CPU_KERNEL forces one). The
 * dequantizer has a portable and an AVX-512 twin (used with avx512bf16 and amx) that give the
 * same bits.
 *
 * Layout: panels of 32 columns, each Kp/2 k-pair rows of 32 bytes. In the bf16 panel a k-pair
 * row holds 64 values, value e = 2 (n % 32) + k % 2; in the q4 row, byte e % 32 holds value e
 * in its low nibble when e < 32, else in its high nibble, as q + 8. Scales: [Np/32][Kp/32][32]
 * bf16, one per column and group. */
#ifndef FATHOM_BACKEND_CPU_Q4_H
#define FATHOM_BACKEND_CPU_Q4_H

#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/cpu_bf16.h"

enum { FATHOM_Q4_GROUP = 32 }; /* weights per scale, along K (== FATHOM_BF16_KR) */

typedef struct fathom_q4_mat {
    const float *src; /* the fp32 weight it stands for (borrowed; the lookup key) */
    uint8_t *q;       /* owned: Np * Kp / 2 bytes, zero weights past N and K */
    uint16_t *scale;  /* owned: Np * Kp / 32 bf16 scales (0 past N) */
    int N, K, Np, Kp;
} fathom_q4_mat;

fathom_status fathom_cpu_q4_mat_pack(fathom_q4_mat *m, const float *w, int N, int K);
void fathom_cpu_q4_mat_free(fathom_q4_mat *m);
/* bytes a packed matrix holds (weights and scales) */
size_t fathom_cpu_q4_mat_bytes(const fathom_q4_mat *m);

/* panel (Kp/2 x 64 bf16, the bf16 panel layout) <- panel p of m, dequantized */
void fathom_cpu_q4_dequant_panel(uint16_t *panel, const fathom_q4_mat *m, int p);
void fathom_cpu_q4_dequant_panel_avx512(uint16_t *panel, const fathom_q4_mat *m, int p);

/* c (M, ncols, ld ldc) = a (rows, Kp) bf16 . w[n0 .. n0+ncols)^T with bf16 kernel k, n0 a
 * multiple of 32; panel: Kp * 32 bf16 of 64-byte aligned room for one dequantized panel.
 * a must have M rounded up to FATHOM_BF16_RB readable rows (zeros past M). */
void fathom_cpu_gemm_q4(fathom_cpu_bf16_kernel k, float *c, size_t ldc, const uint16_t *a,
                        const fathom_q4_mat *w, int n0, int ncols, int M, uint16_t *panel);

#endif
