/* cpu_amx_tiles.h - the tile setup and the 2 x 2 tile step shared by the bf16 AMX kernels
 * (cpu_bf16_amx.c, cpu_attention_amx.c). Include only inside their AMX-capable #if (x86-64
 * GCC >= 11). Tiles 0-3: a 2 x 2 grid of 16 x 16 fp32 accumulators; 4-5: A (16 rows x 32
 * bf16); 6-7: B (16 k-pairs x 16 columns, two B tiles side by side in a 32-column panel). */
#ifndef FATHOM_BACKEND_CPU_AMX_TILES_H
#define FATHOM_BACKEND_CPU_AMX_TILES_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* every tile 16 rows of 64 bytes; tile state is per thread: load per call, release after */
__attribute__((target("amx-tile"))) static inline void fathom_amx_config(void) {
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
}

/* tiles 0-3 += [A rows at a0; A rows at a1] (row stride sa bytes) . one k-step (16 k-pair rows
 * of 128 bytes) of the panel at b; each tile load sits next to the first product needing it.
 * stream: B with the streaming hint (tileloaddt1), for a GEMM's weight panels: a 32-row A
 * block (24 KiB at K 384) is reused across every panel, and plain B loads left too little of
 * it in L1 (48 KiB), so every A tile came again from L2 (qkv: 0.93 against 1.20 ms a thread,
 * loaded). */
__attribute__((target("amx-tile,amx-bf16"))) static inline void
fathom_amx_bf16_2x2_hint(const uint16_t *a0, const uint16_t *a1, size_t sa, const uint16_t *b, int stream) {
    if (stream) _tile_stream_loadd(6, b, 128);
    else _tile_loadd(6, b, 128);
    _tile_loadd(4, a0, sa);
    _tile_dpbf16ps(0, 4, 6);
    if (stream) _tile_stream_loadd(7, b + 32, 128);
    else _tile_loadd(7, b + 32, 128);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a1, sa);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
}
__attribute__((target("amx-tile,amx-bf16"))) static inline void
fathom_amx_bf16_2x2(const uint16_t *a0, const uint16_t *a1, size_t sa, const uint16_t *b) {
    fathom_amx_bf16_2x2_hint(a0, a1, sa, b, 0);
}

/* tiles 0-3 to / from fp32 rows 0-15 at c and 16-31 at c1, row stride ld bytes */
__attribute__((target("amx-tile"))) static inline void fathom_amx_store_2x2(float *c, float *c1, size_t ld) {
    _tile_stored(0, c, ld);
    _tile_stored(1, c + 16, ld);
    _tile_stored(2, c1, ld);
    _tile_stored(3, c1 + 16, ld);
}
__attribute__((target("amx-tile"))) static inline void fathom_amx_load_2x2(const float *c, const float *c1, size_t ld) {
    _tile_loadd(0, c, ld);
    _tile_loadd(1, c + 16, ld);
    _tile_loadd(2, c1, ld);
    _tile_loadd(3, c1 + 16, ld);
}

#endif
