/* ref_vda.c - plain-C reference twins of the Video Depth Anything temporal ops (the spec for
 * cpu_vda.c and any device kernel). Statistics accumulate in double. */
#include <math.h>
#include <string.h>

#include "backend/cpu/ref_ops.h"

void fathom_ref_group_norm(float *out, const float *in, const float *w, const float *b, int N,
                           int C, int HW, int G, float eps) {
    const int cg = C / G;
    const size_t n = (size_t)cg * HW;
    for (int i = 0; i < N; i++)
        for (int g = 0; g < G; g++) {
            const size_t base = ((size_t)i * C + (size_t)g * cg) * HW;
            double mean = 0.0, var = 0.0;
            for (size_t k = 0; k < n; k++) mean += in[base + k];
            mean /= (double)n;
            for (size_t k = 0; k < n; k++) {
                double d = in[base + k] - mean;
                var += d * d;
            }
            double rstd = 1.0 / sqrt(var / (double)n + (double)eps);
            for (int c = 0; c < cg; c++) {
                const int ch = g * cg + c;
                for (int p = 0; p < HW; p++) {
                    size_t k = base + (size_t)c * HW + p;
                    out[k] = (float)((in[k] - mean) * rstd) * w[ch] + b[ch];
                }
            }
        }
}

void fathom_ref_nchw_to_seq(float *out, const float *in, int T, int C, int HW, int p0, int P) {
    for (int p = 0; p < P; p++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                out[((size_t)p * T + t) * C + c] = in[((size_t)t * C + c) * HW + p0 + p];
}

void fathom_ref_seq_to_nchw_add(float *out, const float *seq, int T, int C, int HW, int p0,
                                int P) {
    for (int p = 0; p < P; p++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                out[((size_t)t * C + c) * HW + p0 + p] += seq[((size_t)p * T + t) * C + c];
}

void fathom_ref_add_pe(float *x, const float *pe, int S, int T, int C) {
    for (int s = 0; s < S; s++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) x[((size_t)s * T + t) * C + c] += pe[(size_t)t * C + c];
}

void fathom_ref_geglu(float *out, const float *in, int M, int H) {
    for (int m = 0; m < M; m++)
        for (int j = 0; j < H; j++) {
            const float *r = in + (size_t)m * 2 * H;
            out[(size_t)m * H + j] = r[j] * fathom_ref_gelu(r[H + j]);
        }
}

void fathom_ref_copy_rows(float *dst, size_t ld_dst, const float *src, size_t ld_src, int rows,
                          int cols) {
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * ld_dst, src + (size_t)r * ld_src, (size_t)cols * sizeof(float));
}
