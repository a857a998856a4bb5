/* cpu_tokens.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_patchify(fathom_backend *be, float *out, const float *x, int B, int H, int W, int p) {
    fathom_ref_patchify(out, x, B, H, W, p);
}

void fathom_cpu_assemble_tokens(fathom_backend *be, float *tokens, const float *emb, const float *cls, const float *pos, int B, int N, int D) {
    fathom_ref_assemble_tokens(tokens, emb, cls, pos, B, N, D);
}

void fathom_cpu_tokens_to_nchw(fathom_backend *be, float *out, const float *tokens, int B, int gh, int gw, int D) {
    fathom_ref_tokens_to_nchw(out, tokens, B, gh, gw, D);
}
