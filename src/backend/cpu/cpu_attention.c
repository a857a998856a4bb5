/* cpu_attention.c - CPU kernels (currently the reference; optimized version follows). */
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/ref_ops.h"

void fathom_cpu_attention(fathom_backend *be, float *out, const float *qkv, int B, int L, int D, int heads, float scale) {
    fathom_ref_attention(out, qkv, B, L, D, heads, scale);
}
