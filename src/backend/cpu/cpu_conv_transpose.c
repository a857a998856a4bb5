/* cpu_conv_transpose.c - ConvTranspose2d with kernel == stride: one sgemm + scatter.
 *
 * Without overlap every output pixel comes from exactly one input pixel:
 * Y (Co k k, H W) = w^T (Co k k, Ci) . in (Ci, H W), then Y[(co, ky, kx), (iy, ix)] + b[co]
 * goes to out[co, iy k + ky, ix k + kx]. A task takes a block of input pixels and a chunk of
 * Y rows so that the Y tile fits the per-thread scratch. */
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"

void fathom_cpu_conv_transpose(fathom_backend *be, float *out, const float *in, const float *w,
                               const float *b, int B, int Ci, int H, int W, int Co, int k) {
    if (fathom_cpu_conv_transpose_packed(be, out, in, w, b, B, Ci, H, W, Co, k)) return; /* cpu_conv_bf16.c */
    int HW = H * W, kk = k * k, R = Co * kk;
    int np = HW < 256 ? HW : 256;
    int rc = R < FATHOM_CPU_SCRATCH / np ? R : FATHOM_CPU_SCRATCH / np;
    int ptiles = (HW + np - 1) / np, rtiles = (R + rc - 1) / rc;
    int Wo = W * k;
    size_t outplane = (size_t)HW * kk;
#pragma omp parallel for num_threads(be->threads) schedule(dynamic, 1)
    for (int t = 0; t < B * ptiles * rtiles; t++) {
        int bt = t / (ptiles * rtiles), p0 = (t / rtiles) % ptiles * np, r0 = t % rtiles * rc;
        int n = HW - p0 < np ? HW - p0 : np, nr = R - r0 < rc ? R - r0 : rc;
        float *y = fathom_cpu_scratch(be);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nr, n, Ci, 1.0f, w + r0, R,
                    in + (size_t)bt * Ci * HW + p0, HW, 0.0f, y, n);
        float *ob = out + (size_t)bt * Co * outplane;
        for (int r = 0; r < nr; r++) {
            int co = (r0 + r) / kk, ky = (r0 + r) % kk / k, kx = (r0 + r) % k;
            float bias = b ? b[co] : 0.0f, *plane = ob + (size_t)co * outplane;
            const float *yr = y + (size_t)r * n;
            for (int j = 0; j < n; j++) {
                int iy = (p0 + j) / W, ix = (p0 + j) % W;
                plane[(size_t)(iy * k + ky) * Wo + ix * k + kx] = yr[j] + bias;
            }
        }
    }
}
