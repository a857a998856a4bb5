/* ref_tokens.c - reference patchify, token assembly and tokens -> NCHW reshapes. */
#include "backend/cpu/ref_ops.h"

void fathom_ref_patchify(float *out, const float *x, int B, int H, int W, int p) {
    int gh = H / p, gw = W / p, row = 3 * p * p;
    for (int bt = 0; bt < B; bt++)
        for (int py = 0; py < gh; py++)
            for (int px = 0; px < gw; px++) {
                float *o = out + (((size_t)bt * gh + py) * gw + px) * row;
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < p; ky++)
                        for (int kx = 0; kx < p; kx++)
                            o[(c * p + ky) * p + kx] =
                                x[(((size_t)bt * 3 + c) * H + py * p + ky) * W + px * p + kx];
            }
}

void fathom_ref_assemble_tokens(float *tokens, const float *emb, const float *cls,
                                const float *pos, int B, int N, int D) {
    for (int bt = 0; bt < B; bt++) {
        float *t = tokens + (size_t)bt * (N + 1) * D;
        for (int d = 0; d < D; d++) t[d] = cls[d] + pos[d];
        for (int i = 0; i < N; i++)
            for (int d = 0; d < D; d++)
                t[(size_t)(1 + i) * D + d] =
                    emb[((size_t)bt * N + i) * D + d] + pos[(size_t)(1 + i) * D + d];
    }
}

void fathom_ref_tokens_to_nchw(float *out, const float *tokens, int B, int gh, int gw, int D) {
    int N = gh * gw;
    for (int bt = 0; bt < B; bt++)
        for (int d = 0; d < D; d++)
            for (int i = 0; i < N; i++)
                out[((size_t)bt * D + d) * N + i] = tokens[((size_t)bt * (N + 1) + 1 + i) * D + d];
}
