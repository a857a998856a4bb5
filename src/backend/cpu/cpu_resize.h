/* cpu_resize.h - the bilinear resize's pieces (align_corners=True, the reference's float32
 * arithmetic), shared by the resize op and the fused head tail (cpu_head_tail.c). */
#ifndef FATHOM_BACKEND_CPU_CPU_RESIZE_H
#define FATHOM_BACKEND_CPU_CPU_RESIZE_H

/* source index pair and weight of output index d: s = scale d, i0 = floor(s), i1 = i0 + 1
 * (both clamped to n_in - 1), lambda = s - i0 */
void fathom_cpu_resize_index(int d, float scale, int n_in, int *i0, int *i1, float *lambda);
/* h[x] = (1 - lx[x]) r[x0[x]] + lx[x] r[x1[x]], x < Wo: one input row interpolated across */
void fathom_cpu_resize_hrow(float *h, const float *r, const int *x0, const int *x1, const float *lx, int Wo);

#endif
