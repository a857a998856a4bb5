/* q4q8.cuh - linear layers on packed int8 / q4 weights (--weights int8|q4 on CUDA).
 *
 * The engine packs the encoder's linear weights on the host in the CPU formats (cpu_q8.h,
 * cpu_q4.h; a quantized file brings them packed) and hands each to load_packed, keyed by the
 * device address of the fp32 weight it stands for; linear / linear_residual on that address
 * run these GEMMs instead of cuBLASLt. Both read the CPU panel layouts as they are:
 *   q8_gemm.cu  rows quantized per row to int8 (scale max|x| / 127) in the scratch, then
 *               __dp4a int32 sums against the per-channel int8 weights, out = acc * s_row * s_col
 *   q4_gemm.cu  weight-only: nibbles and bf16 group scales dequantized in registers to
 *               bf16(q * d) per tile, inputs rounded to bf16, fp32 sums (CUDA cores)
 * Bias, GELU / ReLU and the LayerScale residual are fused into the GEMMs' epilogue.
 * Twin: fathom_ref_linear_packed (backend/cpu/ref_packed.c), checked by test_backend_ops
 * (variants cuda-int8, cuda-q4). */
#ifndef FATHOM_BACKEND_CUDA_Q4Q8_CUH
#define FATHOM_BACKEND_CUDA_Q4Q8_CUH

#include "backend/cuda/common.cuh"

/* One packed matrix on the device: arrays as fathom_packed_mat describes them. */
typedef struct cuda_qmat {
    const float *key; /* the fp32 weight it stands for (device address, borrowed) */
    int kind, N, K, Np, Kp;
    void *a, *b;      /* owned: device copies of the packed arrays */
    size_t na, nb;
} cuda_qmat;

/* 1 when w has a packed twin: out = act(in . W^T + b), or with gamma out += gamma * (...),
 * was issued on it; 0 when it has none (the caller runs the fp32 GEMM). */
int cuda_linear_packed(cuda_ctx *c, float *out, const float *in, const float *w, const float *b,
                       const float *gamma, int M, int N, int K, fathom_act act);
void cuda_linear_q8(cuda_ctx *c, const cuda_qmat *q, float *out, const float *in, const float *b,
                    const float *gamma, int M, fathom_act act);
void cuda_linear_q4(cuda_ctx *c, const cuda_qmat *q, float *out, const float *in, const float *b,
                    const float *gamma, int M, fathom_act act);
/* The load_packed entry; m NULL forgets w's twin. Frees every twin: cuda_qmats_free. */
extern "C" fathom_status fathom_cuda_load_packed(fathom_backend *be, const float *w,
                                                 const fathom_packed_mat *m);
void cuda_qmats_free(fathom_backend *be);

/* The epilogue both GEMMs share, in the twin's order and without FMA contraction:
 * v = t (+ b); gamma: out += gamma * v, else out = act(v). */
static __device__ __forceinline__ void q_epilogue(float *o, float t, const float *b, const float *gamma,
                                                  int n, fathom_act act) {
    float v = b ? __fadd_rn(t, b[n]) : t;
    if (gamma) *o = __fadd_rn(*o, __fmul_rn(gamma[n], v));
    else *o = act == FATHOM_ACT_GELU ? gelu_erf(v) : act == FATHOM_ACT_RELU ? fmaxf(v, 0.0f) : v;
}

/* bf16(x), nearest even, as a float (fathom_f32_to_bf16) */
static __device__ __forceinline__ float q_round_bf16(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;
    return __uint_as_float((u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u);
}

/* GEMM tiles: 64 x 64 outputs per block of 256 threads, 4 x 4 per thread */
enum { Q_BM = 64, Q_BN = 64, Q_THREADS = 256 };

#endif
