/* cpu_conv_f32.h - the fp32 stride-1 conv on padded planes (cpu_conv2d.c), in pieces, for the
 * head's fused ops (cpu_head_tail.c): their input or output is not an NCHW fp32 tensor.
 *
 * X holds Ci zero-padded planes of Hp x Wp floats (then 64 + k zeros); output pixel q = oy Wp
 * + ox (ox >= Wo: computed and dropped). open allocates X (0: the AVX-512 panels or the
 * memory are missing, nothing allocated); fill copies plane ci of an NCHW image (with ReLU
 * when relu); producers may write X's planes themselves (x + ci plane + (y + pad) Wp + pad);
 * panel computes the (Co x 64) tile of pixels [q, q + n), n <= 64, into the calling thread's
 * scratch (ld 64), the same products in the same order as the conv2d op's; store writes such
 * a tile to an NCHW image (Co, Ho, Wo) with bias, residual (may alias out) and ReLU, as the
 * conv2d op does. */
#ifndef FATHOM_BACKEND_CPU_CONV_F32_H
#define FATHOM_BACKEND_CPU_CONV_F32_H

#include <stddef.h>

#include "backend/backend.h"

typedef struct fathom_conv_f32 {
    float *x; /* owned: the padded planes */
    size_t bytes, plane;
    int Ci, H, W, Co, k, pad, Hp, Wp, Ho, Wo, nq, ntiles; /* ntiles of FATHOM_CPU_CONV_N pixels */
} fathom_conv_f32;

int fathom_cpu_conv_f32_open(fathom_conv_f32 *c, int Ci, int H, int W, int Co, int k, int pad);
void fathom_cpu_conv_f32_close(fathom_conv_f32 *c);
void fathom_cpu_conv_f32_fill(const fathom_conv_f32 *c, const float *in, int relu, int ci);
float *fathom_cpu_conv_f32_panel(fathom_backend *be, const fathom_conv_f32 *c, const float *w, int q, int n);
void fathom_cpu_conv_f32_store(const fathom_conv_f32 *c, float *out, const float *b, const float *residual,
                               int relu, const float *ct, int q, int n);

#endif
