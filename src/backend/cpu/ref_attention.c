/* ref_attention.c - reference multi-head attention, one query row at a time.
 *
 * Two passes over the keys per query (max, then exp-weighted sum of v) so no L x L matrix and
 * no scratch is needed; the row of out doubles as the float accumulator. */
#include <math.h>

#include "backend/cpu/ref_ops.h"

static double ref_score(const float *q, const float *k, int hd, float scale) {
    double s = 0.0;
    for (int d = 0; d < hd; d++) s += (double)(q[d] * scale) * (double)k[d];
    return s;
}

void fathom_ref_attention(float *out, const float *qkv, int B, int L, int D, int heads,
                          float scale) {
    int hd = D / heads;
    size_t ld = (size_t)3 * D; /* row stride of qkv */
    for (int bt = 0; bt < B; bt++) {
        const float *base = qkv + (size_t)bt * L * ld;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < L; i++) {
                const float *q = base + (size_t)i * ld + (size_t)h * hd;
                float *o = out + ((size_t)bt * L + i) * D + (size_t)h * hd;
                double mx = -INFINITY;
                for (int j = 0; j < L; j++) {
                    double s = ref_score(q, base + (size_t)j * ld + D + (size_t)h * hd, hd, scale);
                    if (s > mx) mx = s;
                }
                double sum = 0.0;
                for (int d = 0; d < hd; d++) o[d] = 0.0f;
                for (int j = 0; j < L; j++) {
                    const float *row = base + (size_t)j * ld + (size_t)h * hd;
                    double p = exp(ref_score(q, row + D, hd, scale) - mx);
                    sum += p;
                    for (int d = 0; d < hd; d++) o[d] += (float)p * row[2 * D + d];
                }
                for (int d = 0; d < hd; d++) o[d] = (float)(o[d] / sum);
            }
        }
    }
}
