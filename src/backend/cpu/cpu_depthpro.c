/* cpu_depthpro.c - CPU kernels of the Depth Pro ops: the reference arithmetic, split over the
 * OpenMP team (a task is one output row of one plane, or one tile plane). */
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_resize_bilinear_pt(fathom_backend *be, float *out, const float *in, int P, int Hi,
                                   int Wi, int Ho, int Wo, float inv_sy, float inv_sx) {
    float sy = fathom_ref_pt_scale(Hi, Ho, inv_sy), sx = fathom_ref_pt_scale(Wi, Wo, inv_sx);
    int table = 3 * Wo <= FATHOM_CPU_SCRATCH; /* else compute columns inline */
#pragma omp parallel num_threads(be->threads)
    {
        float *lx = fathom_cpu_scratch(be);
        int *x0 = (int *)(lx + Wo), *x1 = x0 + Wo;
        if (table)
            for (int x = 0; x < Wo; x++) fathom_ref_pt_index(x, sx, Wi, &x0[x], &x1[x], &lx[x]);
#pragma omp for schedule(static)
        for (long t = 0; t < (long)P * Ho; t++) {
            int p = (int)(t / Ho), y = (int)(t % Ho), y0, y1;
            float ly;
            fathom_ref_pt_index(y, sy, Hi, &y0, &y1, &ly);
            const float *r0 = in + ((size_t)p * Hi + y0) * Wi, *r1 = in + ((size_t)p * Hi + y1) * Wi;
            float *o = out + ((size_t)p * Ho + y) * Wo, w0y = 1.0f - ly;
            for (int x = 0; x < Wo; x++) {
                int a, c;
                float l;
                if (table) a = x0[x], c = x1[x], l = lx[x];
                else fathom_ref_pt_index(x, sx, Wi, &a, &c, &l);
                float w0x = 1.0f - l;
                o[x] = (r0[a] * w0x + r0[c] * l) * w0y + (r1[a] * w0x + r1[c] * l) * ly;
            }
        }
    }
}

void fathom_cpu_crop_tiles(fathom_backend *be, float *out, const float *in, int C, int H, int W,
                           int t, int stride, int n) {
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (long q = 0; q < (long)n * n * C; q++) {
        int i = (int)(q / ((long)n * C)), j = (int)(q / C % n), c = (int)(q % C);
        for (int y = 0; y < t; y++)
            memcpy(out + ((size_t)q * t + y) * t,
                   in + ((size_t)c * H + (size_t)i * stride + y) * W + (size_t)j * stride,
                   (size_t)t * sizeof(float));
    }
}

void fathom_cpu_merge_tiles(fathom_backend *be, float *out, const float *in, int C, int g, int n,
                            int pad) {
    int S = n * g - 2 * pad * (n - 1);
#pragma omp parallel for schedule(static) num_threads(be->threads)
    for (long q = 0; q < (long)n * n * C; q++) {
        int i = (int)(q / ((long)n * C)), j = (int)(q / C % n), c = (int)(q % C);
        int ylo = i > 0 ? pad : 0, yhi = i < n - 1 ? g - pad : g;
        int xlo = j > 0 ? pad : 0, xhi = j < n - 1 ? g - pad : g;
        /* tile (i, j) starts after i earlier tiles: the first keeps g - pad, the rest g - 2 pad */
        int oy = i == 0 ? 0 : (g - pad) + (i - 1) * (g - 2 * pad);
        int ox = j == 0 ? 0 : (g - pad) + (j - 1) * (g - 2 * pad);
        if (n == 1) oy = ox = 0;
        for (int y = ylo; y < yhi; y++)
            memcpy(out + ((size_t)c * S + oy + y - ylo) * S + ox, in + ((size_t)q * g + y) * g + xlo,
                   (size_t)(xhi - xlo) * sizeof(float));
    }
}
