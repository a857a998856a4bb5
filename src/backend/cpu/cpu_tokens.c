/* cpu_tokens.c - patchify, token assembly and tokens -> NCHW, parallel over rows. */
#include <string.h>

#include "backend/cpu/cpu_internal.h"

void fathom_cpu_patchify(fathom_backend *be, float *out, const float *x, int B, int H, int W,
                         int p) {
    int gh = H / p, gw = W / p, row = 3 * p * p;
    /* one task per (batch, patch row): copies p-float runs, the only contiguous unit */
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int t = 0; t < B * gh; t++) {
        int bt = t / gh, py = t % gh;
        for (int px = 0; px < gw; px++) {
            float *o = out + (((size_t)bt * gh + py) * gw + px) * row;
            for (int c = 0; c < 3; c++)
                for (int ky = 0; ky < p; ky++)
                    memcpy(o + (c * p + ky) * p,
                           x + (((size_t)bt * 3 + c) * H + py * p + ky) * W + px * p,
                           sizeof(float) * p);
        }
    }
}

void fathom_cpu_assemble_tokens(fathom_backend *be, float *tokens, const float *emb,
                                const float *cls, const float *pos, int B, int N, int D) {
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int t = 0; t < B * (N + 1); t++) {
        int bt = t / (N + 1), i = t % (N + 1);
        float *o = tokens + (size_t)t * D;
        const float *src = i == 0 ? cls : emb + ((size_t)bt * N + i - 1) * D;
        const float *pr = pos + (size_t)i * D;
        for (int d = 0; d < D; d++) o[d] = src[d] + pr[d];
    }
}

/* (N, D) -> (D, N) per batch, in 32 x 32 blocks so both sides are read/written in lines */
void fathom_cpu_tokens_to_nchw(fathom_backend *be, float *out, const float *tokens, int B, int gh,
                               int gw, int D) {
    enum { T = 32 };
    int N = gh * gw, nb = (N + T - 1) / T, db = (D + T - 1) / T;
#pragma omp parallel for num_threads(be->threads) schedule(static)
    for (int t = 0; t < B * nb * db; t++) {
        int bt = t / (nb * db), i0 = (t / db) % nb * T, d0 = t % db * T;
        int i1 = i0 + T < N ? i0 + T : N, d1 = d0 + T < D ? d0 + T : D;
        const float *src = tokens + ((size_t)bt * (N + 1) + 1) * D;
        float *dst = out + (size_t)bt * D * N;
        for (int d = d0; d < d1; d++)
            for (int i = i0; i < i1; i++) dst[(size_t)d * N + i] = src[(size_t)i * D + d];
    }
}
