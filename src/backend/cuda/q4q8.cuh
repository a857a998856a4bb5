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
/* The describe entry: "cuda bf16, gemm cublasLt[; linear on q4 weights (N matrices, ...)]" */
void fathom_cuda_describe(fathom_backend *be, char *buf, size_t n);

/* The epilogue both GEMMs share, in the twin's order and without FMA contraction:
 * v = t (+ b); gamma: out += gamma * v, else out = act(v). */
static __device__ __forceinline__ void q_epilogue(float *o, float t, const float *b, const float *gamma,
                                                  int n, fathom_act act) {
    float v = b ? __fadd_rn(t, b[n]) : t;
    if (gamma) *o = __fadd_rn(*o, __fmul_rn(gamma[n], v));
    else *o = act == FATHOM_ACT_GELU ? gelu_erf(v) : act == FATHOM_ACT_RELU ? fmaxf(v, 0.0f) : v;
}

/* GEMM tiles: 64 x 64 outputs per block of 256 threads, 4 x 4 per thread */
enum { Q_BM = 64, Q_BN = 64, Q_THREADS = 256 };

/* acc[i][j] = mac(As[k][row i], Ws[k][column j], acc[i][j]) over the BK rows of the shared
 * tiles, for the thread's rows ty + 16 i and columns tx + 16 j */
template <int BK, typename T, typename A, typename Mac>
static __device__ __forceinline__ void q_tile_mac(A (&acc)[4][4], const T (&As)[BK][Q_BM + 1],
                                                  const T (&Ws)[BK][Q_BN + 1], Mac mac) {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll 8
    for (int k = 0; k < BK; k++) {
        T av[4], wv[4];
#pragma unroll
        for (int i = 0; i < 4; i++) av[i] = As[k][ty + 16 * i], wv[i] = Ws[k][tx + 16 * i];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j] = mac(av[i], wv[j], acc[i][j]);
    }
}

/* A thread's 4 x 4 outputs (rows ty + 16 i, columns tx + 16 j of the block's tile at m0, n0)
 * through the epilogue; value(i, j, m, n) is the GEMM result there. */
template <typename V>
static __device__ __forceinline__ void q_store_tile(float *out, const V &value, const float *b,
                                                    const float *gamma, int m0, int n0, int M, int N,
                                                    fathom_act act) {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (int i = 0; i < 4; i++) {
        int m = m0 + ty + 16 * i;
        if (m >= M) continue;
        for (int j = 0; j < 4; j++) {
            int n = n0 + tx + 16 * j;
            if (n < N) q_epilogue(out + (size_t)m * N + n, value(i, j, m, n), b, gamma, n, act);
        }
    }
}

/* bf16(x), nearest even, as a float (fathom_f32_to_bf16) */
static __device__ __forceinline__ float q_round_bf16(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;
    return __uint_as_float((u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u);
}

#endif
