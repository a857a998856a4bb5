/* cpu_q8_amx.c - int8 GEMM with AMX-INT8 (tdpbssd: signed x signed bytes into int32 tiles).
 *
 * The bf16 AMX kernel's 2 x 2 grid of 16 x 16 accumulators; A tiles are 16 rows x 64 int8, B
 * tiles 16 k-quads x 16 columns x 4 int8 at the packed panel's 128-byte stride. The int32
 * result is scaled as in the portable kernel, so the outputs are bit-identical. */
#include <string.h>

#include "backend/cpu/cpu_q8.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#include <immintrin.h>

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

__attribute__((target("amx-tile,amx-int8"))) void
fathom_cpu_gemm_q8_amx(float *c, size_t ldc, const int8_t *a, const float *sa,
                       const fathom_q8_mat *w, int n0, int ncols, int M) {
    tile_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    const int Kp = w->Kp;
    int32_t buf[32 * 32] __attribute__((aligned(64)));
    for (int m = 0; m < M; m += 32) { /* row blocks outer, as in cpu_bf16_amx.c */
        const int8_t *a0 = a + (size_t)m * Kp, *a1 = a0 + (size_t)16 * Kp;
        int mv = M - m < 32 ? M - m : 32;
        for (int j = 0; j < ncols; j += 32) {
            const int8_t *bp = w->w + (size_t)((n0 + j) / 32) * Kp * 32;
            int nv = ncols - j < 32 ? ncols - j : 32;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int k = 0; k < Kp; k += 64) {
                const int8_t *b = bp + (size_t)(k / 4) * 128;
                _tile_loadd(6, b, 128);
                _tile_loadd(4, a0 + k, Kp);
                _tile_dpbssd(0, 4, 6);
                _tile_loadd(7, b + 64, 128);
                _tile_dpbssd(1, 4, 7);
                _tile_loadd(5, a1 + k, Kp);
                _tile_dpbssd(2, 5, 6);
                _tile_dpbssd(3, 5, 7);
            }
            _tile_stored(0, buf, 128);
            _tile_stored(1, buf + 16, 128);
            _tile_stored(2, buf + 16 * 32, 128);
            _tile_stored(3, buf + 16 * 32 + 16, 128);
            const float *sw = w->scale + n0 + j;
            for (int r = 0; r < mv; r++) {
                float *cr = c + (size_t)(m + r) * ldc + j;
                for (int q = 0; q < nv; q++) cr[q] = (float)buf[r * 32 + q] * sa[m + r] * sw[q];
            }
        }
    }
    _tile_release();
}

#else

void fathom_cpu_gemm_q8_amx(float *c, size_t ldc, const int8_t *a, const float *sa,
                            const fathom_q8_mat *w, int n0, int ncols, int M) {
    fathom_cpu_gemm_q8_portable(c, ldc, a, sa, w, n0, ncols, M);
}

#endif
