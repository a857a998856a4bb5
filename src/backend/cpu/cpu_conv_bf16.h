/* cpu_conv_bf16.h - the stride-1 packed convs without im2col (cpu_conv_bf16_taps.c).
 *
 * The input is copied once per conv to a zero-padded pixel-major bf16 image X ((H + 2 pad) x
 * (W + 2 pad) pixels of Cp = Ci rounded up to 32 channels). Output pixels are numbered in
 * the padded width (q = oy Wp + ox), so tap (ky, kx) of every pixel is the pixel row q +
 * ky Wp + kx of X: the GEMM reads A in place (fathom_bf16_taps), with the weights reordered
 * to K = (ky, kx, ci). The Wp - Wo columns past each output row are computed and dropped. */
#ifndef FATHOM_BACKEND_CPU_CONV_BF16_H
#define FATHOM_BACKEND_CPU_CONV_BF16_H

#include "backend/cpu/cpu_packed.h"

/* x (rows(H, W, pad), Cp) bf16 <- in (Ci, H, W) fp32 rows [y0, y1) of the padded image, with
 * ReLU first when relu; padding and channels past Ci are zero. The AVX-512 twin (AVX512-BF16
 * CPUs only) rounds as vcvtne2ps2bf16. */
typedef struct fathom_conv_hwc {
    uint16_t *x;
    const float *in;
    int Ci, H, W, pad, Cp, relu;
} fathom_conv_hwc;
void fathom_cpu_conv_hwc_rows(const fathom_conv_hwc *h, int y0, int y1);
void fathom_cpu_conv_hwc_rows_avx512(const fathom_conv_hwc *h, int y0, int y1);

/* The output of one task's tile (np pixels q0.. x Co, ld ldt, fp32): out[co][oy Wo + ox] =
 * act(tile + b[co] + res[co][..]) for the pixels inside the image. The AVX-512 twin reads 16
 * rows past np (scratch) and gives the same bits. */
typedef struct fathom_conv_tile {
    float *out;       /* one image (Co, Ho, Wo) */
    const float *b;   /* may be NULL */
    const float *res; /* may be NULL; may alias out */
    int Co, ldt, Wp, Wo, relu;
    size_t HWo;
} fathom_conv_tile;
void fathom_cpu_conv_tile_out(const fathom_conv_tile *o, const float *tile, int q0, int np);
void fathom_cpu_conv_tile_out_avx512(const fathom_conv_tile *o, const float *tile, int q0, int np);

/* One stride-1 packed conv as shifted-row GEMMs, in pieces, for convs whose input or output
 * is not NCHW fp32 (cpu_head_tail.c): open reorders the weights and allocates X (0: it does
 * not apply, nothing allocated); fill writes padded rows [y0, y1) of X from an NCHW fp32 image
 * (producers may write X's rows themselves: x + y Wp Cp, Cp channels per pixel); tile runs the
 * GEMM of pixel block blk (QB pixels from *q0, *np of them) into the calling thread's scratch,
 * (np, Co) fp32 with ld t.Np, output pixel q = oy Wp + ox (ox >= Wo: dropped). */
typedef struct fathom_taps_conv {
    fathom_bf16_mat t; /* owned: the reordered weights (K = (ky, kx, ci)) */
    uint16_t *x;       /* owned: the padded pixel-major input, Hp Wp pixels + a tail of zeros */
    size_t xbytes, tbytes, toff[8 * 8];
    int kern, Ci, H, W, Co, pad, Hp, Wp, Ho, Wo, Cp, nq, nblk;
} fathom_taps_conv;
int fathom_cpu_taps_open(fathom_backend *be, fathom_taps_conv *c, const fathom_bf16_mat *wb,
                         const fathom_q4_mat *w4, int kern, int Ci, int H, int W, int Co, int k, int pad);
void fathom_cpu_taps_close(fathom_taps_conv *c);
void fathom_cpu_taps_fill(const fathom_taps_conv *c, const float *in, int relu, int y0, int y1);
float *fathom_cpu_taps_tile(fathom_backend *be, const fathom_taps_conv *c, int blk, int *q0, int *np);

/* conv2d (stride 1) on packed weights without im2col; 0 when it does not apply (stride,
 * sizes, or no memory) and nothing was written */
int fathom_cpu_conv2d_taps(fathom_backend *be, float *out, const float *in,
                           const fathom_bf16_mat *wb, const fathom_q4_mat *w4, int kern,
                           const float *b, const float *residual, int B, int Ci, int H, int W,
                           int Co, int k, int pad, int flags);

#endif
