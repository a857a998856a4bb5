/* cpu_resize.c - bilinear resize, align_corners=True, exactly the reference's arithmetic.
 *
 * Each thread builds the column table (x0, x1, lambda) once in its scratch, then a task is
 * one output row of one plane. Same float32 operations as fathom_ref_resize_bilinear. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"

static void src_index(int d, float scale, int n_in, int *i0, int *i1, float *lambda) {
    float s = scale * (float)d;
    int f = (int)floorf(s);
    if (f > n_in - 1) f = n_in - 1;
    *i0 = f;
    *i1 = f < n_in - 1 ? f + 1 : f;
    *lambda = s - (float)f;
}

void fathom_cpu_resize_bilinear(fathom_backend *be, float *out, const float *in, int P, int Hi,
                                int Wi, int Ho, int Wo) {
    float sy = Ho > 1 ? (float)(Hi - 1) / (float)(Ho - 1) : 0.0f;
    float sx = Wo > 1 ? (float)(Wi - 1) / (float)(Wo - 1) : 0.0f;
    int table = 3 * Wo <= FATHOM_CPU_SCRATCH; /* else compute columns inline */
#pragma omp parallel num_threads(be->threads)
    {
        float *lx = fathom_cpu_scratch(be);
        int *x0 = (int *)(lx + Wo), *x1 = x0 + Wo;
        if (table)
            for (int x = 0; x < Wo; x++) src_index(x, sx, Wi, &x0[x], &x1[x], &lx[x]);
#pragma omp for schedule(static)
        for (long t = 0; t < (long)P * Ho; t++) {
            int p = (int)(t / Ho), y = (int)(t % Ho), y0, y1;
            float ly;
            src_index(y, sy, Hi, &y0, &y1, &ly);
            const float *r0 = in + ((size_t)p * Hi + y0) * Wi, *r1 = in + ((size_t)p * Hi + y1) * Wi;
            float *o = out + ((size_t)p * Ho + y) * Wo;
            for (int x = 0; x < Wo; x++) {
                int a, c;
                float l;
                if (table) {
                    a = x0[x], c = x1[x], l = lx[x];
                } else {
                    src_index(x, sx, Wi, &a, &c, &l);
                }
                float top = (1.0f - l) * r0[a] + l * r0[c];
                float bot = (1.0f - l) * r1[a] + l * r1[c];
                o[x] = (1.0f - ly) * top + ly * bot;
            }
        }
    }
}
