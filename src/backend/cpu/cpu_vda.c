/* cpu_vda.c - CPU kernels of the Video Depth Anything temporal ops: the reference loops,
 * split over the OpenMP team along an axis whose outputs are disjoint. Statistics in double
 * as in the reference (GroupNorm of small activations needs it, see its eps 1e-6). */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

void fathom_cpu_group_norm(fathom_backend *be, float *out, const float *in, const float *w,
                           const float *b, int N, int C, int HW, int G, float eps) {
    const int cg = C / G;
    const size_t n = (size_t)cg * HW;
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int ig = 0; ig < N * G; ig++) {
        const int i = ig / G, g = ig % G;
        const size_t base = ((size_t)i * C + (size_t)g * cg) * HW;
        const float *x = in + base;
        double mean = 0.0, var = 0.0;
        for (size_t k = 0; k < n; k++) mean += x[k];
        mean /= (double)n;
        for (size_t k = 0; k < n; k++) {
            double d = x[k] - mean;
            var += d * d;
        }
        const double rstd = 1.0 / sqrt(var / (double)n + (double)eps);
        for (int c = 0; c < cg; c++) {
            const int ch = g * cg + c;
            const float *xr = x + (size_t)c * HW;
            float *y = out + base + (size_t)c * HW;
            for (int p = 0; p < HW; p++) y[p] = (float)((xr[p] - mean) * rstd) * w[ch] + b[ch];
        }
    }
}

void fathom_cpu_nchw_to_seq(fathom_backend *be, float *out, const float *in, int T, int C,
                            int HW, int p0, int P) {
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            const float *src = in + ((size_t)t * C + c) * HW + p0;
            for (int p = 0; p < P; p++) out[((size_t)p * T + t) * C + c] = src[p];
        }
}

void fathom_cpu_seq_to_nchw_add(fathom_backend *be, float *out, const float *seq, int T, int C,
                                int HW, int p0, int P) {
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            float *dst = out + ((size_t)t * C + c) * HW + p0;
            for (int p = 0; p < P; p++) dst[p] += seq[((size_t)p * T + t) * C + c];
        }
}

void fathom_cpu_add_pe(fathom_backend *be, float *x, const float *pe, int S, int T, int C) {
    const size_t row = (size_t)T * C;
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int s = 0; s < S; s++) {
        float *xs = x + (size_t)s * row;
        for (size_t k = 0; k < row; k++) xs[k] += pe[k];
    }
}

void fathom_cpu_geglu(fathom_backend *be, float *out, const float *in, int M, int H) {
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int m = 0; m < M; m++) {
        const float *r = in + (size_t)m * 2 * H;
        float *o = out + (size_t)m * H;
        for (int j = 0; j < H; j++) {
            const float g = r[H + j];
            o[j] = r[j] * (0.5f * g * (1.0f + fathom_cpu_erf(g * 0.70710678118654752f)));
        }
    }
}

void fathom_cpu_copy_rows(fathom_backend *be, float *dst, size_t ld_dst, const float *src,
                          size_t ld_src, int rows, int cols) {
#pragma omp parallel for num_threads(be->threads) schedule(static) if (rows > 256)
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * ld_dst, src + (size_t)r * ld_src, (size_t)cols * sizeof(float));
}
