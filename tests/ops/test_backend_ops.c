/* test_backend_ops.c - every op of backend/ops.def, on every backend variant present, against
 * the plain-C reference (fathom_ref_*): one case table for all backends (like ggml's
 * test-backend-ops).
 *
 *   test_backend_ops            check: one line per case x variant with its error, then an
 *                               op x variant summary; exit 1 on any FAIL
 *   test_backend_ops --perf     time every case x variant (no reference), GFLOP/s; the
 *                               "perf" cases are the ViT-S / 518 x 518 forward-pass shapes
 *   -o OP   only ops whose name contains OP;   -b NAME   only variants containing NAME
 *
 * Variants: cpu-portable (fathom_cpu_force_portable: OpenBLAS sgemm paths only), cpu-avx512
 * (the AVX-512 kernels the dispatcher picks; SKIP on CPUs without AVX-512), cuda-fp32,
 * cuda-bf16, cuda-fp16 (through the CUDA module; SKIP without it or without a device), and
 * the CPU's packed-weight kernels for the ops with weights (linear, linear_residual, ln_linear,
 * ln_mlp_residual (its two weights packed together), conv2d,
 * conv_transpose): cpu-bf16-*, cpu-int8-* and cpu-q4-* per kernel (portable, avx512bf16 /
 * avx512vnni, amx), each forced through FATHOM_CPU_KERNEL (the dispatcher must report the
 * kernel forced), the case's weight packed alone (fathom_cpu_pack_one); attention runs in
 * bf16 on the forced kernel in those engines (a one-matrix set stands for the engine's; int8
 * SKIPs where its engine keeps attention fp32); their other ops are the fp32 ones and SKIP
 * there, as do shapes the engine leaves fp32 (convs with < 16 outputs) and kernels the CPU
 * lacks. cuda-int8 and cuda-q4: linear and linear_residual on
 * the device GEMMs of packed weights (q8_gemm.cu, q4_gemm.cu), the case's weight packed on
 * the host in the CPU format and given to load_packed; checked against the fp32 reference at
 * the CPU format's tolerance and against their plain-C twin (fathom_ref_linear_packed) at
 * 1e-5 (the same int8 sums and scaling; q4: exact bf16 products, fp32 sums in k order; GELU's
 * erff against erf). An absent variant is printed as SKIP with the reason,
 * never as PASS.
 *
 * Error: max|out - ref| / max|ref| over the whole output, NaN/Inf fail. Tolerances (op_tol):
 *   fp32 1e-5: the reference sums in double; kernels sum up to a few thousand fp32 products in
 *     blocked order, which moves results by a few 1e-7 of the magnitude; an indexing or
 *     masking mistake is O(1). Data movement (patchify, tokens, add) must be exact (0);
 *     layernorm 2e-6 (PyTorch fp32 parity with a +100 row offset, a cancellation trap);
 *     resize and depth_act 1e-6 (same float32 coordinates, only rounding differs).
 *   bf16 / fp16 (cuda): GEMM ops round their inputs to 8 / 11 mantissa bits inside cuBLASLt
 *     (K up to 2304 random terms): 3e-2 / 5e-3; the other ops run in fp32 on every precision
 *     and keep their fp32 tolerance. cpu bf16 3e-2 as cuda-bf16; cpu int8 5e-2 (weights per
 *     channel, activations per row, 7 bits + sign each); cpu q4 2e-1 (4-bit weights, one scale
 *     per 32: ~8% rms error a weight; tests/cpu/test_cpu_q4.c measured 5-7e-2).
 * Every op in ops.def needs a case and an adapter here: the switch in run_op has no default
 * (-Wswitch names a missing op) and the registry check fails for an op without a case. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/ref_ops.h"
#include "core/status.h"
#include "test_util.h"

enum { P_FP32, P_BF16, P_FP16, P_N };
enum { W_NONE, W_BF16, W_INT8, W_Q4 }; /* cpu packed-weight variants */
enum { MAXT = 10 }; /* tensors per case */

/* ---------------------------------------------------------------- the case table */

typedef struct tcase {
    fathom_op_id op;
    int a[12];   /* the op's integer arguments, in ops.def order (see shapes()) */
    float f;     /* its float argument (eps, scale amplitude, max_depth) */
    int inplace; /* the output aliases an input (conv2d residual, layernorm in, add a) */
    int perf;    /* > 0: a model shape, run by --perf only, occurring `perf` times a pass */
} tcase;

/* K(op, f, inplace, perf, integer arguments...) */
#define K(op, f, inplace, perf, ...) {FATHOM_OP_##op, {__VA_ARGS__}, f, inplace, perf}
#define R FATHOM_CONV_RELU_IN
#define O FATHOM_CONV_RELU_OUT
static const tcase cases[] = {
    /* linear: M N K act bias */
    K(linear, 0, 0, 0, 131, 200, 77, FATHOM_ACT_NONE, 1),
    K(linear, 0, 0, 0, 131, 200, 77, FATHOM_ACT_GELU, 1),
    K(linear, 0, 0, 0, 262, 97, 130, FATHOM_ACT_RELU, 1),
    K(linear, 0, 0, 0, 1, 33, 17, FATHOM_ACT_GELU, 0),
    K(linear, 0, 0, 0, 600, 45, 384, FATHOM_ACT_NONE, 0),
    K(linear, 0, 0, 0, 1370, 1536, 384, FATHOM_ACT_GELU, 1), /* ViT-S fc1 at 518 */
    /* linear_residual: M N K bias; the last one's temporary exceeds CUDA's 64 MiB scratch */
    K(linear_residual, 0, 0, 0, 131, 100, 150, 1),
    K(linear_residual, 0, 0, 0, 262, 384, 61, 0),
    K(linear_residual, 0, 0, 0, 5, 17000, 9, 1),
    K(linear_residual, 0, 0, 0, 20000, 1024, 16, 1),
    /* layernorm: M C (eps in f) */
    K(layernorm, 1e-6f, 0, 0, 131, 77),
    K(layernorm, 1e-6f, 0, 0, 131, 384),
    K(layernorm, 1e-6f, 0, 0, 131, 1024),
    K(layernorm, 1e-6f, 1, 0, 131, 77),
    K(layernorm, 1e-6f, 1, 0, 131, 384),
    K(layernorm, 1e-6f, 1, 0, 131, 1024),
    /* attention: B L D heads (qkv amplitude in f) */
    K(attention, 2.0f, 0, 0, 2, 1 + 10 * 13, 96, 3),
    K(attention, 2.0f, 0, 0, 1, 1 + 37 * 49, 64, 1),
    K(attention, 2.5f, 0, 0, 1, FATHOM_CPU_KTILE + 77, 32, 1), /* running-max rescale */
    K(attention, 2.5f, 0, 0, 1, 64 + 77, 32, 1),
    K(attention, 1.0f, 0, 0, 1, 1, 12, 2),
    K(attention, 2.0f, 0, 0, 2, 1 + 10 * 13, 128, 2), /* hd 64, L not a multiple of 4 */
    K(attention, 2.0f, 0, 0, 1, 3, 64, 1),
    K(attention, 2.0f, 0, 0, 1, FATHOM_CPU_FAST_L + 5, 64, 1), /* sgemm path with blocks */
    K(attention, 2.0f, 0, 0, 1, 1370, 384, 6),                /* ViT-S at 518 */
    K(attention, 2.0f, 0, 0, 1, 200, 256, 2),                 /* hd 128 */
    /* fp32 flash (cpu_attention_avx512.c): ViT-B / ViT-L head counts with batch, a key past a
     * 64-key block, and logits wide enough to move the softmax's reference max (TAU) */
    K(attention, 2.0f, 0, 0, 3, 77, 768, 12),
    K(attention, 2.0f, 0, 0, 2, 150, 1024, 16),
    K(attention, 2.0f, 0, 0, 4, 65, 64, 1),
    K(attention, 3.5f, 0, 0, 1, 700, 128, 2),
    /* patchify: B H W p */
    K(patchify, 0, 0, 0, 2, 28, 42, 14),
    /* assemble_tokens: B N D;  tokens_to_nchw: B gh gw D */
    K(assemble_tokens, 0, 0, 0, 2, 130, 77),
    K(tokens_to_nchw, 0, 0, 0, 2, 13, 10, 77),
    /* conv2d: B Ci H W Co k stride pad flags bias residual */
    K(conv2d, 0, 0, 0, 2, 5, 37, 37, 7, 3, 2, 1, 0, 1, 0),
    K(conv2d, 0, 0, 0, 1, 19, 23, 29, 13, 3, 1, 1, R | O, 1, 1),
    K(conv2d, 0, 1, 0, 1, 19, 23, 29, 13, 3, 1, 1, R | O, 1, 1),
    K(conv2d, 0, 0, 0, 1, 130, 12, 11, 9, 3, 1, 1, R, 0, 1), /* Ci k k > CONV_K */
    K(conv2d, 0, 1, 0, 1, 130, 12, 11, 9, 3, 1, 1, R, 0, 1),
    K(conv2d, 0, 0, 0, 2, 33, 20, 21, 17, 1, 1, 0, 0, 1, 0), /* 1x1: one GEMM */
    K(conv2d, 0, 0, 0, 2, 33, 20, 21, 17, 1, 1, 0, 0, 1, 1),
    K(conv2d, 0, 1, 0, 2, 33, 20, 21, 17, 1, 1, 0, 0, 1, 1),
    K(conv2d, 0, 0, 0, 1, 33, 20, 21, 1, 1, 1, 0, R, 1, 0), /* 1x1 with ReLU in */
    K(conv2d, 0, 0, 0, 1, 3, 28, 42, 10, 14, 14, 0, 0, 1, 0), /* patch-embed shaped */
    K(conv2d, 0, 0, 0, 1, 4, 9, 8, 6, 5, 2, 2, O, 1, 0),
    K(conv2d, 0, 0, 0, 2, 3, 3, 2, 5, 5, 1, 2, R, 1, 0), /* kernel wider than the input */
    K(conv2d, 0, 0, 0, 1, 64, 40, 33, 64, 3, 1, 1, R, 1, 1), /* DPT RCU shape */
    K(conv2d, 0, 1, 0, 1, 64, 40, 33, 64, 3, 1, 1, R, 1, 1),
    /* packed stride-1 convs read in place (cpu_conv_bf16_taps.c): Ci, Co and rows off the
     * 32-channel / 16-pixel tiles, batch 2, no padding, a stride-2 and a k > 8 one */
    K(conv2d, 0, 0, 0, 2, 20, 13, 19, 40, 5, 1, 2, R | O, 1, 1),
    K(conv2d, 0, 1, 0, 2, 20, 13, 19, 40, 5, 1, 2, R | O, 1, 1),
    K(conv2d, 0, 0, 0, 1, 48, 9, 70, 24, 3, 1, 0, O, 0, 0),
    K(conv2d, 0, 0, 0, 1, 24, 17, 15, 33, 3, 2, 1, 0, 1, 1),
    K(conv2d, 0, 0, 0, 1, 3, 20, 20, 16, 10, 1, 0, 0, 1, 0),
    /* wide stride-1 images without RELU_IN: interior 64-pixel runs are read in place */
    K(conv2d, 0, 0, 0, 2, 6, 9, 150, 10, 3, 1, 1, O, 1, 1),
    K(conv2d, 0, 1, 0, 2, 6, 9, 150, 10, 3, 1, 1, O, 1, 1),
    K(conv2d, 0, 0, 0, 1, 5, 8, 139, 7, 5, 1, 2, 0, 0, 0),
    K(conv2d, 0, 0, 0, 1, 7, 6, 200, 5, 1, 1, 0, 0, 1, 0),
    /* more than one CUDA im2col tile in its 64 MiB scratch: 256 * 9 taps x 148 * 148 */
    K(conv2d, 0, 0, 0, 1, 256, 148, 148, 8, 3, 1, 1, R, 1, 1),
    K(conv2d, 0, 1, 0, 1, 256, 148, 148, 8, 3, 1, 1, R, 1, 1),
    /* conv_transpose: B Ci H W Co k bias */
    K(conv_transpose, 0, 0, 0, 2, 17, 13, 11, 9, 4, 1),
    K(conv_transpose, 0, 0, 0, 1, 96, 37, 37, 48, 2, 1),
    K(conv_transpose, 0, 0, 0, 1, 7, 3, 5, 700, 2, 0),
    /* resize_bilinear: P Hi Wi Ho Wo */
    K(resize_bilinear, 0, 0, 0, 2, 19, 19, 37, 37),
    K(resize_bilinear, 0, 0, 0, 2, 37, 49, 74, 98),
    K(resize_bilinear, 0, 0, 0, 2, 296, 296, 518, 518),
    K(resize_bilinear, 0, 0, 0, 2, 37, 30, 19, 23),
    K(resize_bilinear, 0, 0, 0, 2, 1, 5, 4, 1),
    K(resize_bilinear, 0, 0, 0, 2, 13, 11, 13, 11), /* identity: must copy exactly */
    /* add: n;  depth_act: n metric (max_depth in f) */
    K(add, 0, 0, 0, 100003),
    K(add, 0, 1, 0, 100003),
    K(depth_act, 80.0f, 0, 0, 100003, 0),
    K(depth_act, 80.0f, 0, 0, 100003, 1),
    /* Depth Pro. resize_bilinear_pt: P Hi Wi Ho Wo (f: 1/scale_factor for both axes, 0: sizes) */
    K(resize_bilinear_pt, 0, 0, 0, 3, 24, 24, 96, 96),
    K(resize_bilinear_pt, 0, 0, 0, 2, 37, 30, 19, 23),
    K(resize_bilinear_pt, 0.5f, 0, 0, 2, 48, 48, 96, 96),
    K(resize_bilinear_pt, 0, 0, 0, 1, 1, 5, 4, 1),
    /* crop_tiles: C H W t stride n (35-crop geometry, scaled down) */
    K(crop_tiles, 0, 0, 0, 3, 48, 48, 24, 12, 3),
    K(crop_tiles, 0, 0, 0, 5, 40, 40, 16, 8, 4),
    K(crop_tiles, 0, 0, 0, 2, 16, 16, 16, 16, 1),
    /* merge_tiles: C g n pad */
    K(merge_tiles, 0, 0, 0, 4, 24, 3, 3),
    K(merge_tiles, 0, 0, 0, 3, 16, 5, 2),
    K(merge_tiles, 0, 0, 0, 2, 9, 1, 0),
    K(merge_tiles, 0, 0, 0, 2, 10, 2, 0),
    /* Video Depth Anything. group_norm: N C HW G (f: eps) */
    K(group_norm, 1e-5f, 0, 0, 2, 64, 37, 8),
    K(group_norm, 1e-6f, 0, 0, 1, 32, 400, 32),
    K(group_norm, 1e-5f, 0, 0, 3, 48, 50, 16),
    /* nchw_to_seq / seq_to_nchw_add: T C HW p0 P */
    K(nchw_to_seq, 0, 0, 0, 32, 24, 150, 0, 150),
    K(nchw_to_seq, 0, 0, 0, 5, 7, 93, 40, 17),
    K(seq_to_nchw_add, 0, 0, 0, 32, 24, 150, 0, 150),
    K(seq_to_nchw_add, 0, 0, 0, 5, 7, 93, 40, 17),
    /* add_pe: S T C */
    K(add_pe, 0, 0, 0, 150, 32, 24),
    /* geglu: M H */
    K(geglu, 0, 0, 0, 300, 96),
    K(geglu, 0, 0, 0, 1, 7),
    /* copy_rows: ld_dst ld_src rows cols */
    K(copy_rows, 0, 0, 0, 100, 64, 33, 50),
    K(copy_rows, 0, 0, 0, 17, 17, 9, 17),

    /* ln_linear (encoder block): M N K act bias, eps; +100 row offset as layernorm's */
    K(ln_linear, 1e-6f, 0, 0, 131, 200, 77, FATHOM_ACT_NONE, 1),
    K(ln_linear, 1e-6f, 0, 0, 262, 97, 384, FATHOM_ACT_GELU, 1),
    K(ln_linear, 1e-5f, 0, 0, 97, 96, 130, FATHOM_ACT_NONE, 0),
    /* ln_mlp_residual (encoder block's MLP half): M D H, eps; M 7 leaves the bf16 hidden rows
     * no room in h (the composition runs), H 200 pads them to 224 columns */
    K(ln_mlp_residual, 1e-6f, 0, 0, 203, 80, 200),
    K(ln_mlp_residual, 1e-6f, 0, 0, 262, 384, 1536),
    K(ln_mlp_residual, 1e-6f, 0, 0, 7, 64, 96),
    /* --perf only: ViT-S / 518 x 518 forward-pass shapes (L = 1370, D 384, features 64); the
     * perf field counts how often the shape runs in a pass (encoder: 12 blocks; the DPT head
     * is sampled by its largest convolutions, counted once or by its refinement stage) */
    K(patchify, 0, 0, 1, 1, 518, 518, 14),
    K(linear, 0, 0, 1, 1369, 384, 588, FATHOM_ACT_NONE, 1), /* patch embed */
    K(layernorm, 1e-6f, 0, 28, 1370, 384),
    K(linear, 0, 0, 12, 1370, 1152, 384, FATHOM_ACT_NONE, 1), /* qkv */
    K(ln_linear, 1e-6f, 0, 12, 1370, 1152, 384, FATHOM_ACT_NONE, 1), /* norm1 + qkv */
    K(ln_linear, 1e-6f, 0, 12, 1370, 1536, 384, FATHOM_ACT_GELU, 1), /* norm2 + fc1 */
    K(ln_mlp_residual, 1e-6f, 0, 12, 1370, 384, 1536), /* norm2 + fc1 + fc2 */
    K(attention, 2.0f, 0, 12, 1, 1370, 384, 6),
    K(linear_residual, 0, 0, 12, 1370, 384, 384, 1), /* proj */
    K(linear, 0, 0, 12, 1370, 1536, 384, FATHOM_ACT_GELU, 1), /* fc1 */
    K(linear_residual, 0, 0, 12, 1370, 384, 1536, 1),          /* fc2 */
    K(conv_transpose, 0, 0, 1, 1, 48, 37, 37, 48, 4, 1),
    K(conv2d, 0, 0, 1, 1, 96, 148, 148, 64, 3, 1, 1, 0, 0, 0), /* layer_rn */
    K(conv2d, 0, 1, 4, 1, 64, 148, 148, 64, 3, 1, 1, R | O, 1, 1), /* RCU */
    K(resize_bilinear, 0, 0, 1, 64, 148, 148, 296, 296),
    K(conv2d, 0, 0, 1, 1, 32, 518, 518, 32, 3, 1, 1, O, 1, 0), /* head */
    /* ---- round 7, head: dpt_head_tail: B C h w H W Ch b2 b3 ---- */
    K(dpt_head_tail, 0, 0, 0, 2, 8, 5, 7, 9, 13, 6, 1, 1),
    K(dpt_head_tail, 0, 0, 0, 1, 35, 11, 9, 23, 40, 33, 0, 1), /* C, Ch past a panel */
    K(dpt_head_tail, 0, 0, 0, 1, 16, 30, 30, 41, 41, 32, 1, 0),
    K(dpt_head_tail, 0, 0, 0, 1, 4, 1, 1, 3, 5, 2, 1, 1), /* one input pixel */
    K(dpt_head_tail, 0, 0, 1, 1, 32, 296, 296, 518, 518, 32, 1, 1), /* ViT-S 518 */
    /* conv2d_resized: B Ci hi wi H W Co k pad flags bias */
    K(conv2d_resized, 0, 0, 0, 2, 40, 6, 9, 11, 17, 36, 1, 0, 0, 1), /* out_conv shape */
    K(conv2d_resized, 0, 0, 0, 1, 33, 7, 5, 13, 10, 40, 3, 1, R | O, 0),
    K(conv2d_resized, 0, 0, 0, 1, 64, 20, 19, 20, 19, 64, 1, 0, O, 1), /* same size */
    K(conv2d_resized, 0, 0, 1, 1, 64, 148, 148, 296, 296, 64, 1, 0, 0, 1), /* refinenet1 */
    /* dpt_rcu: B C H W biases residual (2: in itself; in-place: out is the residual) shared
     * (1: w2 is w1, so the packed variants, which pack one weight, hold both and run the
     * fused path; else conv1 packed, conv2 fp32) */
    K(dpt_rcu, 0, 0, 0, 2, 40, 9, 13, 1, 1, 1),
    K(dpt_rcu, 0, 0, 0, 2, 40, 9, 13, 1, 1, 0),
    K(dpt_rcu, 0, 0, 0, 1, 33, 7, 20, 0, 2, 1),
    K(dpt_rcu, 0, 1, 0, 1, 64, 17, 11, 1, 1, 1),
    K(dpt_rcu, 0, 0, 0, 1, 16, 1, 3, 1, 0, 1),
    K(dpt_rcu, 0, 1, 4, 1, 64, 148, 148, 1, 1, 1), /* refinenet1 at ViT-S 518 */
    /* ---- round 8, head: conv2d_resized as output_conv1 (refinenet1's upsampling fused into
     * it; fp32 engines: the resize writes the padded planes): B Ci hi wi H W Co k pad flags bias */
    K(conv2d_resized, 0, 0, 0, 2, 24, 5, 6, 10, 12, 12, 3, 1, 0, 1),
    K(conv2d_resized, 0, 0, 0, 1, 70, 9, 8, 17, 15, 35, 3, 1, O, 1), /* Co past a panel */
    K(conv2d_resized, 0, 0, 1, 1, 64, 148, 148, 296, 296, 32, 3, 1, 0, 1), /* output_conv1 */
};
#undef R
#undef O
#undef K
enum { NCASES = sizeof cases / sizeof cases[0] };

/* Tolerance of max|d| / max|ref| per op and precision (see the top of this file). */
static double op_tol(const tcase *c, int prec) {
    const fathom_op_id op = c->op;
    if (op == FATHOM_OP_resize_bilinear && c->a[1] == c->a[3] && c->a[2] == c->a[4])
        return 0; /* same size: a copy */
    int gemm = op == FATHOM_OP_linear || op == FATHOM_OP_linear_residual || op == FATHOM_OP_ln_linear ||
               op == FATHOM_OP_ln_mlp_residual ||
               op == FATHOM_OP_conv2d || op == FATHOM_OP_conv_transpose ||
               op == FATHOM_OP_dpt_head_tail || op == FATHOM_OP_conv2d_resized ||
               op == FATHOM_OP_dpt_rcu;
    if (gemm && prec == P_N + W_BF16) return 3e-2;
    if (gemm && prec == P_N + W_INT8) return 5e-2;
    if (gemm && prec == P_N + W_Q4) return 2e-1;
    if (gemm && prec == P_BF16) return 3e-2;
    if (gemm && prec == P_FP16) return 5e-3;
    if (op == FATHOM_OP_attention && prec > P_N) return 2e-2; /* bf16 q, k, P, v */
    switch (op) {
    case FATHOM_OP_patchify:
    case FATHOM_OP_assemble_tokens:
    case FATHOM_OP_tokens_to_nchw:
    case FATHOM_OP_add:
    case FATHOM_OP_crop_tiles:
    case FATHOM_OP_merge_tiles:
    case FATHOM_OP_nchw_to_seq:
    case FATHOM_OP_seq_to_nchw_add:
    case FATHOM_OP_add_pe:
    case FATHOM_OP_copy_rows:
        return 0;
    case FATHOM_OP_group_norm:
        return 2e-6;
    case FATHOM_OP_geglu:
        return 1e-6;
    case FATHOM_OP_layernorm:
        return 2e-6;
    case FATHOM_OP_resize_bilinear:
    case FATHOM_OP_resize_bilinear_pt:
    case FATHOM_OP_depth_act:
        return 1e-6;
    default:
        return 1e-5;
    }
}

/* ---------------------------------------------------------------- shapes and adapters */

/* A tensor of a case: n floats, random in [-amp, amp] + off (seeded), or NaN when out (ops
 * must write every element). */
typedef struct tspec {
    size_t n;
    float amp, off;
    int out;
} tspec;

/* Tensors of case c in the op's argument order; returns their count and sets *cmp to the one
 * compared (the output) and *alias to the input the output aliases when c->inplace (or -1). */
static int shapes(const tcase *c, tspec *t, int *cmp, int *alias, double *flops) {
    const int *a = c->a;
    size_t n0, n1, n2;
    *alias = -1;
    *flops = 0;
#define T(i, n_, amp_, out_) t[i] = (tspec){(n_), (amp_), 0, (out_)}
    switch (c->op) {
    case FATHOM_OP_linear: /* out in w b */
        T(0, (size_t)a[0] * a[1], 0, 1), T(1, (size_t)a[0] * a[2], 1, 0);
        T(2, (size_t)a[1] * a[2], 0.1f, 0), T(3, a[4] ? a[1] : 0, 0.5f, 0);
        *cmp = 0, *flops = 2.0 * a[0] * a[1] * a[2];
        return 4;
    case FATHOM_OP_linear_residual: /* x in w b gamma */
        T(0, (size_t)a[0] * a[1], 3, 0), T(1, (size_t)a[0] * a[2], 1, 0);
        T(2, (size_t)a[1] * a[2], 0.1f, 0), T(3, a[3] ? a[1] : 0, 0.5f, 0), T(4, a[1], 1, 0);
        *cmp = 0, *flops = 2.0 * a[0] * a[1] * a[2];
        return 5;
    case FATHOM_OP_ln_linear: /* out y w b x ln_w ln_b */
        n0 = (size_t)a[0] * a[2];
        T(0, (size_t)a[0] * a[1], 0, 1), T(1, n0, 0, 0), T(2, (size_t)a[1] * a[2], 0.1f, 0);
        T(3, a[4] ? a[1] : 0, 0.5f, 0), T(4, n0, 2, 0), T(5, a[2], 1, 0), T(6, a[2], 0.2f, 0);
        t[4].off = 100.0f; /* the residual stream's offset: the mean must not lose it */
        *cmp = 0, *flops = 2.0 * a[0] * a[1] * a[2] + 8.0 * n0;
        return 7;
    case FATHOM_OP_ln_mlp_residual: /* x h w1 b1 w2 b2 gamma ln_w ln_b y */
        n0 = (size_t)a[0] * a[1], n1 = (size_t)a[1] * a[2];
        /* x small against the MLP's output, so an error in fc1 / GELU / fc2 is not hidden by it */
        T(0, n0, 0.3f, 0), T(1, (size_t)a[0] * a[2], 0, 0), T(2, n1, 0.1f, 0), T(3, a[2], 0.5f, 0);
        T(4, n1, 0.1f, 0), T(5, a[1], 0.5f, 0), T(6, a[1], 1, 0), T(7, a[1], 1, 0), T(8, a[1], 0.2f, 0);
        T(9, n0, 0, 0);
        *cmp = 0, *flops = 4.0 * a[0] * a[1] * a[2];
        return 10;
    case FATHOM_OP_layernorm: /* out in w b */
        n0 = (size_t)a[0] * a[1];
        T(0, n0, 0, 1), T(1, n0, 2, 0), T(2, a[1], 1, 0), T(3, a[1], 0.2f, 0);
        t[1].off = 100.0f; /* naive E[x^2] - E[x]^2 would lose digits here */
        *cmp = 0, *alias = 1, *flops = 8.0 * n0;
        return 4;
    case FATHOM_OP_attention: /* out qkv */
        n0 = (size_t)a[0] * a[1] * a[2];
        T(0, n0, 0, 1), T(1, 3 * n0, c->f, 0);
        *cmp = 0, *flops = 4.0 * a[0] * a[1] * (double)a[1] * a[2];
        return 2;
    case FATHOM_OP_patchify: /* out x */
        n0 = (size_t)a[0] * 3 * a[1] * a[2];
        T(0, n0, 0, 1), T(1, n0, 1, 0);
        *cmp = 0;
        return 2;
    case FATHOM_OP_assemble_tokens: /* tokens emb cls pos */
        n0 = (size_t)a[1] * a[2];
        T(0, (size_t)a[0] * (n0 + a[2]), 0, 1), T(1, a[0] * n0, 1, 0), T(2, a[2], 1, 0);
        T(3, n0 + a[2], 1, 0);
        *cmp = 0;
        return 4;
    case FATHOM_OP_tokens_to_nchw: /* out tokens */
        n0 = (size_t)a[0] * a[1] * a[2] * a[3];
        T(0, n0, 0, 1), T(1, n0 + (size_t)a[0] * a[3], 1, 0);
        *cmp = 0;
        return 2;
    case FATHOM_OP_conv2d: { /* out in w b residual */
        int Ho = (a[2] + 2 * a[7] - a[5]) / a[6] + 1, Wo = (a[3] + 2 * a[7] - a[5]) / a[6] + 1;
        n0 = (size_t)a[0] * a[4] * Ho * Wo;
        n1 = (size_t)a[0] * a[1] * a[2] * a[3];
        n2 = (size_t)a[4] * a[1] * a[5] * a[5];
        T(0, n0, 0, 1), T(1, n1, 1, 0), T(2, n2, 0.2f, 0), T(3, a[9] ? a[4] : 0, 0.5f, 0);
        T(4, a[10] ? n0 : 0, 1, 0);
        *cmp = 0, *alias = 4, *flops = 2.0 * n0 * a[1] * a[5] * a[5];
        return 5;
    }
    case FATHOM_OP_conv_transpose: /* out in w b */
        n1 = (size_t)a[0] * a[1] * a[2] * a[3];
        n0 = (size_t)a[0] * a[4] * a[2] * a[3] * a[5] * a[5];
        T(0, n0, 0, 1), T(1, n1, 1, 0), T(2, (size_t)a[1] * a[4] * a[5] * a[5], 0.3f, 0);
        T(3, a[6] ? a[4] : 0, 0.5f, 0);
        *cmp = 0, *flops = 2.0 * n0 * a[1];
        return 4;
    case FATHOM_OP_resize_bilinear: /* out in */
        T(0, (size_t)a[0] * a[3] * a[4], 0, 1), T(1, (size_t)a[0] * a[1] * a[2], 1, 0);
        *cmp = 0, *flops = 8.0 * a[0] * a[3] * a[4];
        return 2;
    case FATHOM_OP_add: /* out a b */
        T(0, a[0], 0, 1), T(1, a[0], 5, 0), T(2, a[0], 5, 0);
        *cmp = 0, *alias = 1, *flops = a[0];
        return 3;
    case FATHOM_OP_depth_act: /* x, in place by definition */
        T(0, a[0], 5, 0);
        *cmp = 0, *flops = a[0];
        return 1;
    case FATHOM_OP_resize_bilinear_pt: /* out in */
        T(0, (size_t)a[0] * a[3] * a[4], 0, 1), T(1, (size_t)a[0] * a[1] * a[2], 1, 0);
        *cmp = 0, *flops = 8.0 * a[0] * a[3] * a[4];
        return 2;
    case FATHOM_OP_crop_tiles: /* out (n n, C, t, t) in (C, H, W) */
        T(0, (size_t)a[5] * a[5] * a[0] * a[3] * a[3], 0, 1), T(1, (size_t)a[0] * a[1] * a[2], 1, 0);
        *cmp = 0;
        return 2;
    case FATHOM_OP_merge_tiles: { /* out (C, S, S) in (n n, C, g, g) */
        size_t S = (size_t)a[2] * a[1] - 2 * (size_t)a[3] * (a[2] - 1);
        T(0, (size_t)a[0] * S * S, 0, 1), T(1, (size_t)a[2] * a[2] * a[0] * a[1] * a[1], 1, 0);
        *cmp = 0;
        return 2;
    }
    case FATHOM_OP_group_norm: /* out in w b */
        n0 = (size_t)a[0] * a[1] * a[2];
        T(0, n0, 0, 1), T(1, n0, 2, 0), T(2, a[1], 1, 0), T(3, a[1], 0.2f, 0);
        t[1].off = 50.0f; /* a large mean: naive E[x^2] - E[x]^2 would lose digits */
        *cmp = 0, *alias = 1, *flops = 8.0 * n0;
        return 4;
    case FATHOM_OP_nchw_to_seq: /* out (P, T, C) in (T, C, HW) */
        T(0, (size_t)a[4] * a[0] * a[1], 0, 1), T(1, (size_t)a[0] * a[1] * a[2], 1, 0);
        *cmp = 0;
        return 2;
    case FATHOM_OP_seq_to_nchw_add: /* out (T, C, HW) seq (P, T, C) */
        T(0, (size_t)a[0] * a[1] * a[2], 1, 0), T(1, (size_t)a[4] * a[0] * a[1], 1, 0);
        *cmp = 0, *flops = (double)a[4] * a[0] * a[1];
        return 2;
    case FATHOM_OP_add_pe: /* x (S, T, C) pe (T, C) */
        T(0, (size_t)a[0] * a[1] * a[2], 1, 0), T(1, (size_t)a[1] * a[2], 1, 0);
        *cmp = 0, *flops = (double)a[0] * a[1] * a[2];
        return 2;
    case FATHOM_OP_geglu: /* out (M, H) in (M, 2H) */
        T(0, (size_t)a[0] * a[1], 0, 1), T(1, (size_t)a[0] * 2 * a[1], 3, 0);
        *cmp = 0, *flops = 20.0 * a[0] * a[1];
        return 2;
    case FATHOM_OP_copy_rows: /* dst (rows, ld_dst) src (rows, ld_src); untouched cells stay */
        T(0, (size_t)a[2] * a[0], 1, 0), T(1, (size_t)a[2] * a[1], 1, 0);
        *cmp = 0;
        return 2;
    case FATHOM_OP_dpt_head_tail: { /* depth in w2 b2 w3 b3 r u */
        size_t HW = (size_t)a[4] * a[5];
        T(0, (size_t)a[0] * HW, 0, 1), T(1, (size_t)a[0] * a[1] * a[2] * a[3], 1, 0);
        T(2, (size_t)a[6] * a[1] * 9, 0.2f, 0), T(3, a[7] ? a[6] : 0, 0.5f, 0);
        T(4, a[6], 0.3f, 0), T(5, a[8] ? 1 : 0, 0.5f, 0);
        T(6, (size_t)a[0] * a[1] * HW, 0, 1), T(7, (size_t)a[0] * a[6] * HW, 0, 1);
        *cmp = 0, *flops = 2.0 * a[0] * HW * a[6] * (9.0 * a[1] + 1);
        return 8;
    }
    case FATHOM_OP_conv2d_resized: { /* out in w b r */
        int Ho = a[4] + 2 * a[8] - a[7] + 1, Wo = a[5] + 2 * a[8] - a[7] + 1;
        n0 = (size_t)a[0] * a[6] * Ho * Wo;
        T(0, n0, 0, 1), T(1, (size_t)a[0] * a[1] * a[2] * a[3], 1, 0);
        T(2, (size_t)a[6] * a[1] * a[7] * a[7], 0.2f, 0), T(3, a[10] ? a[6] : 0, 0.5f, 0);
        T(4, (size_t)a[0] * a[1] * a[4] * a[5], 0, 1);
        *cmp = 0, *flops = 2.0 * n0 * a[1] * a[7] * a[7];
        return 5;
    }
    case FATHOM_OP_dpt_rcu: /* out in w1 b1 w2 b2 residual mid */
        n0 = (size_t)a[0] * a[1] * a[2] * a[3], n1 = (size_t)a[1] * a[1] * 9;
        T(0, n0, 0, 1), T(1, n0, 1, 0), T(2, n1, 0.2f, 0), T(3, a[4] ? a[1] : 0, 0.5f, 0);
        T(4, a[6] ? 0 : n1, 0.2f, 0), T(5, a[4] ? a[1] : 0, 0.5f, 0), T(6, a[5] == 1 ? n0 : 0, 1, 0);
        T(7, n0, 0, 1);
        *cmp = 0, *alias = a[5] == 1 ? 6 : -1, *flops = 4.0 * n0 * a[1] * 9;
        return 8;
    case FATHOM_OP_COUNT:
        break;
    }
#undef T
    return -1; /* an op without shapes: reported by the registry check */
}

/* Runs case c's op on be, or the reference when be is NULL, on tensors t (NULL for size 0).
 * With alias >= 0 the output pointer is t[alias]. */
static int run_op(fathom_backend *be, float **t, const tcase *c, int alias) {
    const int *a = c->a;
    const fathom_backend_ops *o = be ? be->ops : NULL;
    float *out = alias >= 0 ? t[alias] : t[0];
    switch (c->op) {
    case FATHOM_OP_linear:
        if (o) o->linear(be, out, t[1], t[2], t[3], a[0], a[1], a[2], (fathom_act)a[3]);
        else fathom_ref_linear(out, t[1], t[2], t[3], a[0], a[1], a[2], (fathom_act)a[3]);
        return 1;
    case FATHOM_OP_linear_residual:
        if (o) o->linear_residual(be, t[0], t[1], t[2], t[3], t[4], a[0], a[1], a[2]);
        else fathom_ref_linear_residual(t[0], t[1], t[2], t[3], t[4], a[0], a[1], a[2]);
        return 1;
    case FATHOM_OP_ln_linear:
        if (o) o->ln_linear(be, out, t[1], t[2], t[3], t[4], t[5], t[6], a[0], a[1], a[2], (fathom_act)a[3], c->f);
        else fathom_ref_ln_linear(out, t[1], t[2], t[3], t[4], t[5], t[6], a[0], a[1], a[2], (fathom_act)a[3], c->f);
        return 1;
    case FATHOM_OP_ln_mlp_residual:
        if (o) o->ln_mlp_residual(be, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], a[0], a[1], a[2], c->f);
        else fathom_ref_ln_mlp_residual(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], a[0], a[1], a[2], c->f);
        return 1;
    case FATHOM_OP_layernorm:
        if (o) o->layernorm(be, out, t[1], t[2], t[3], a[0], a[1], c->f);
        else fathom_ref_layernorm(out, t[1], t[2], t[3], a[0], a[1], c->f);
        return 1;
    case FATHOM_OP_attention: {
        float scale = 1.0f / sqrtf((float)(a[2] / a[3]));
        if (o) o->attention(be, out, t[1], a[0], a[1], a[2], a[3], scale);
        else fathom_ref_attention(out, t[1], a[0], a[1], a[2], a[3], scale);
        return 1;
    }
    case FATHOM_OP_patchify:
        if (o) o->patchify(be, out, t[1], a[0], a[1], a[2], a[3]);
        else fathom_ref_patchify(out, t[1], a[0], a[1], a[2], a[3]);
        return 1;
    case FATHOM_OP_assemble_tokens:
        if (o) o->assemble_tokens(be, out, t[1], t[2], t[3], a[0], a[1], a[2]);
        else fathom_ref_assemble_tokens(out, t[1], t[2], t[3], a[0], a[1], a[2]);
        return 1;
    case FATHOM_OP_tokens_to_nchw:
        if (o) o->tokens_to_nchw(be, out, t[1], a[0], a[1], a[2], a[3]);
        else fathom_ref_tokens_to_nchw(out, t[1], a[0], a[1], a[2], a[3]);
        return 1;
    case FATHOM_OP_conv2d:
        if (o)
            o->conv2d(be, out, t[1], t[2], t[3], t[4], a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                      a[7], a[8]);
        else
            fathom_ref_conv2d(out, t[1], t[2], t[3], t[4], a[0], a[1], a[2], a[3], a[4], a[5],
                              a[6], a[7], a[8]);
        return 1;
    case FATHOM_OP_conv_transpose:
        if (o) o->conv_transpose(be, out, t[1], t[2], t[3], a[0], a[1], a[2], a[3], a[4], a[5]);
        else fathom_ref_conv_transpose(out, t[1], t[2], t[3], a[0], a[1], a[2], a[3], a[4], a[5]);
        return 1;
    case FATHOM_OP_resize_bilinear:
        if (o) o->resize_bilinear(be, out, t[1], a[0], a[1], a[2], a[3], a[4]);
        else fathom_ref_resize_bilinear(out, t[1], a[0], a[1], a[2], a[3], a[4]);
        return 1;
    case FATHOM_OP_resize_bilinear_pt:
        if (o) o->resize_bilinear_pt(be, out, t[1], a[0], a[1], a[2], a[3], a[4], c->f, c->f);
        else fathom_ref_resize_bilinear_pt(out, t[1], a[0], a[1], a[2], a[3], a[4], c->f, c->f);
        return 1;
    case FATHOM_OP_crop_tiles:
        if (o) o->crop_tiles(be, out, t[1], a[0], a[1], a[2], a[3], a[4], a[5]);
        else fathom_ref_crop_tiles(out, t[1], a[0], a[1], a[2], a[3], a[4], a[5]);
        return 1;
    case FATHOM_OP_merge_tiles:
        if (o) o->merge_tiles(be, out, t[1], a[0], a[1], a[2], a[3]);
        else fathom_ref_merge_tiles(out, t[1], a[0], a[1], a[2], a[3]);
        return 1;
    case FATHOM_OP_group_norm:
        if (o) o->group_norm(be, out, t[1], t[2], t[3], a[0], a[1], a[2], a[3], c->f);
        else fathom_ref_group_norm(out, t[1], t[2], t[3], a[0], a[1], a[2], a[3], c->f);
        return 1;
    case FATHOM_OP_nchw_to_seq:
        if (o) o->nchw_to_seq(be, out, t[1], a[0], a[1], a[2], a[3], a[4]);
        else fathom_ref_nchw_to_seq(out, t[1], a[0], a[1], a[2], a[3], a[4]);
        return 1;
    case FATHOM_OP_seq_to_nchw_add:
        if (o) o->seq_to_nchw_add(be, t[0], t[1], a[0], a[1], a[2], a[3], a[4]);
        else fathom_ref_seq_to_nchw_add(t[0], t[1], a[0], a[1], a[2], a[3], a[4]);
        return 1;
    case FATHOM_OP_add_pe:
        if (o) o->add_pe(be, t[0], t[1], a[0], a[1], a[2]);
        else fathom_ref_add_pe(t[0], t[1], a[0], a[1], a[2]);
        return 1;
    case FATHOM_OP_geglu:
        if (o) o->geglu(be, out, t[1], a[0], a[1]);
        else fathom_ref_geglu(out, t[1], a[0], a[1]);
        return 1;
    case FATHOM_OP_copy_rows:
        if (o) o->copy_rows(be, t[0], (size_t)a[0], t[1], (size_t)a[1], a[2], a[3]);
        else fathom_ref_copy_rows(t[0], (size_t)a[0], t[1], (size_t)a[1], a[2], a[3]);
        return 1;
    case FATHOM_OP_add:
        if (o) o->add(be, out, t[1], t[2], (size_t)a[0]);
        else fathom_ref_add(out, t[1], t[2], (size_t)a[0]);
        return 1;
    case FATHOM_OP_depth_act:
        if (o) o->depth_act(be, t[0], (size_t)a[0], a[1], c->f);
        else fathom_ref_depth_act(t[0], (size_t)a[0], a[1], c->f);
        return 1;
    case FATHOM_OP_dpt_head_tail:
        if (o)
            o->dpt_head_tail(be, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], a[0], a[1], a[2],
                             a[3], a[4], a[5], a[6]);
        else
            fathom_ref_dpt_head_tail(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], a[0], a[1],
                                     a[2], a[3], a[4], a[5], a[6]);
        return 1;
    case FATHOM_OP_conv2d_resized:
        if (o)
            o->conv2d_resized(be, t[0], t[1], t[2], t[3], t[4], a[0], a[1], a[2], a[3], a[4], a[5],
                              a[6], a[7], a[8], a[9]);
        else
            fathom_ref_conv2d_resized(t[0], t[1], t[2], t[3], t[4], a[0], a[1], a[2], a[3], a[4],
                                      a[5], a[6], a[7], a[8], a[9]);
        return 1;
    case FATHOM_OP_dpt_rcu: { /* residual: t[6], or in itself (a[5] == 2) */
        const float *res = a[5] == 2 ? t[1] : t[6], *w2 = a[6] ? t[2] : t[4];
        if (o) o->dpt_rcu(be, out, t[1], t[2], t[3], w2, t[5], res, t[7], a[0], a[1], a[2], a[3]);
        else fathom_ref_dpt_rcu(out, t[1], t[2], t[3], w2, t[5], res, t[7], a[0], a[1], a[2], a[3]);
        return 1;
    }
    case FATHOM_OP_COUNT:
        break;
    }
    return 0; /* no adapter: reported by the registry check */
}

static void describe(const tcase *c, char *s, size_t cap) {
    int n = snprintf(s, cap, "%s", fathom_op_names[c->op]);
    const int nargs[FATHOM_OP_COUNT] = {
        [FATHOM_OP_linear] = 5,         [FATHOM_OP_linear_residual] = 4,
        [FATHOM_OP_layernorm] = 2,      [FATHOM_OP_attention] = 4,
        [FATHOM_OP_patchify] = 4,       [FATHOM_OP_assemble_tokens] = 3,
        [FATHOM_OP_tokens_to_nchw] = 4, [FATHOM_OP_conv2d] = 11,
        [FATHOM_OP_conv_transpose] = 7, [FATHOM_OP_resize_bilinear] = 5,
        [FATHOM_OP_add] = 1,            [FATHOM_OP_depth_act] = 2,
        [FATHOM_OP_resize_bilinear_pt] = 5, [FATHOM_OP_crop_tiles] = 6,
        [FATHOM_OP_merge_tiles] = 4,    [FATHOM_OP_group_norm] = 4,
        [FATHOM_OP_nchw_to_seq] = 5,    [FATHOM_OP_seq_to_nchw_add] = 5,
        [FATHOM_OP_add_pe] = 3,         [FATHOM_OP_geglu] = 2,
        [FATHOM_OP_copy_rows] = 4,      [FATHOM_OP_ln_linear] = 5,
        [FATHOM_OP_ln_mlp_residual] = 3, [FATHOM_OP_dpt_head_tail] = 7,
        [FATHOM_OP_conv2d_resized] = 10, [FATHOM_OP_dpt_rcu] = 7,
    };
    for (int i = 0; i < nargs[c->op] && n > 0 && (size_t)n < cap; i++)
        n += snprintf(s + n, cap - n, "%s%d", i ? "," : " ", c->a[i]);
    if (c->inplace && n > 0 && (size_t)n < cap) snprintf(s + n, cap - n, " in-place");
}

/* ---------------------------------------------------------------- variants */

typedef struct variant {
    const char *name;
    int prec;           /* P_*, or P_N + W_* for the packed CPU variants (op_tol) */
    int portable;       /* cpu: force the portable paths */
    fathom_backend *be; /* owned; NULL when absent */
    char skip[512];     /* why absent */
    int wfmt, kern;     /* packed variants: W_*, and the bf16 / q8 kernel forced (-1: cuda) */
} variant;

#define PACKED(fmt, kname, kern) {"cpu-" #fmt "-" kname, P_N + W_##fmt, 0, NULL, "", W_##fmt, kern}
#define W_bf16 W_BF16
#define W_int8 W_INT8
#define W_q4 W_Q4
static variant variants[] = {
    {"cpu-portable", P_FP32, 1, NULL, "", 0, 0}, {"cpu-avx512", P_FP32, 0, NULL, "", 0, 0},
    {"cuda-fp32", P_FP32, 0, NULL, "", 0, 0},    {"cuda-bf16", P_BF16, 0, NULL, "", 0, 0},
    {"cuda-fp16", P_FP16, 0, NULL, "", 0, 0},
    PACKED(bf16, "portable", FATHOM_CPU_BF16_PORTABLE), PACKED(bf16, "avx512bf16", FATHOM_CPU_BF16_AVX512),
    PACKED(bf16, "amx", FATHOM_CPU_BF16_AMX),           PACKED(int8, "portable", FATHOM_CPU_Q8_PORTABLE),
    PACKED(int8, "avx512vnni", FATHOM_CPU_Q8_VNNI),     PACKED(int8, "amx", FATHOM_CPU_Q8_AMX),
    PACKED(q4, "portable", FATHOM_CPU_BF16_PORTABLE),   PACKED(q4, "avx512bf16", FATHOM_CPU_BF16_AVX512),
    PACKED(q4, "amx", FATHOM_CPU_BF16_AMX),
    {"cuda-int8", P_N + W_INT8, 0, NULL, "", W_INT8, -1}, {"cuda-q4", P_N + W_Q4, 0, NULL, "", W_Q4, -1},
};
enum { NVAR = sizeof variants / sizeof variants[0] };

static int packed_available(const variant *x) {
    return x->wfmt == W_INT8 ? fathom_cpu_q8_kernel_available((fathom_cpu_q8_kernel)x->kern)
                             : fathom_cpu_bf16_kernel_available((fathom_cpu_bf16_kernel)x->kern);
}

static const char *packed_kernel_name(const variant *x) {
    return x->wfmt == W_INT8 ? fathom_cpu_q8_kernel_name((fathom_cpu_q8_kernel)x->kern)
                             : fathom_cpu_bf16_kernel_name((fathom_cpu_bf16_kernel)x->kern);
}

static void open_variants(const char *only, int perf) {
    const fathom_precision cp[P_N] = {FATHOM_PRECISION_FP32, FATHOM_PRECISION_BF16,
                                      FATHOM_PRECISION_FP16};
    for (int v = 0; v < NVAR; v++) {
        variant *x = &variants[v];
        if (only && !strstr(x->name, only)) {
            snprintf(x->skip, sizeof x->skip, "not selected (-b %s)", only);
            continue;
        }
        fathom_status s;
        if (x->wfmt && x->kern < 0 && perf) { /* --perf times the CPU's packed variants (perf_case) */
            snprintf(x->skip, sizeof x->skip, "--perf times the CPU's packed variants only");
            continue;
        }
        if (x->wfmt && x->kern >= 0 && !packed_available(x)) {
            snprintf(x->skip, sizeof x->skip, "this CPU has no %s kernel", packed_kernel_name(x));
            continue;
        }
        if (!strncmp(x->name, "cpu", 3)) {
            fathom_cpu_force_portable(0);
            if (!x->portable && !fathom_cpu_has_avx512()) {
                snprintf(x->skip, sizeof x->skip, "this CPU has no AVX-512");
                continue;
            }
            s = fathom_backend_cpu_create(getenv("TBO_THREADS") ? atoi(getenv("TBO_THREADS")) : 2, &x->be);
        } else {
            s = fathom_backend_cuda_create(0, x->prec < P_N ? cp[x->prec] : FATHOM_PRECISION_FP32, 0, &x->be);
        }
        if (s != FATHOM_OK) snprintf(x->skip, sizeof x->skip, "%s", fathom_last_error());
    }
}

/* The CPU dispatcher reads the force flag on every call: set it for the variant about to run. */
static void enter(const variant *x) {
    if (x->be && x->be->kind == FATHOM_DEVICE_CPU) fathom_cpu_force_portable(x->portable);
}

/* ---------------------------------------------------------------- running a case */

typedef struct host_bufs {
    float *t[MAXT]; /* owned: the inputs (and the NaN-filled output) */
    tspec s[MAXT];
    int nt, cmp, alias;
    double flops;
} host_bufs;

static int make_host(const tcase *c, uint64_t seed, host_bufs *h) {
    memset(h, 0, sizeof *h);
    h->nt = shapes(c, h->s, &h->cmp, &h->alias, &h->flops);
    if (h->nt < 0) return 0;
    for (int i = 0; i < h->nt; i++) {
        if (!h->s[i].n) continue;
        h->t[i] = malloc(h->s[i].n * sizeof(float) + 1);
        if (!h->t[i]) return 0;
        if (h->s[i].out) {
            for (size_t j = 0; j < h->s[i].n; j++) h->t[i][j] = NAN;
        } else {
            tu_fill_random(h->t[i], h->s[i].n, seed * 16 + i, h->s[i].amp);
            for (size_t j = 0; h->s[i].off != 0 && j < h->s[i].n; j++) h->t[i][j] += h->s[i].off;
        }
    }
    return 1;
}

static void free_host(host_bufs *h) {
    for (int i = 0; i < MAXT; i++) free(h->t[i]);
}

/* Backend copies of h's tensors in d (NULL for size 0); 0 on failure (message recorded). */
static int to_backend(fathom_backend *be, const host_bufs *h, float **d) {
    for (int i = 0; i < h->nt; i++) {
        d[i] = NULL;
        if (!h->s[i].n) continue;
        void *p = NULL;
        size_t bytes = h->s[i].n * sizeof(float);
        if (be->ops->alloc(be, &p, bytes) != FATHOM_OK) return 0;
        d[i] = p;
        if (be->ops->upload(be, p, h->t[i], bytes) != FATHOM_OK) return 0;
    }
    return 1;
}

static void free_backend(fathom_backend *be, const host_bufs *h, float **d) {
    for (int i = 0; i < h->nt; i++) be->ops->free(be, d[i], h->s[i].n * sizeof(float));
}

/* summary: worst error / tolerance per op x variant; -1 none run */
static double worst[FATHOM_OP_COUNT][NVAR];
static int failed[FATHOM_OP_COUNT][NVAR];

/* Checks case c on every open variant; returns the number of failures. */
static int weight_op(fathom_op_id op) {
    return op == FATHOM_OP_linear || op == FATHOM_OP_linear_residual || op == FATHOM_OP_ln_linear ||
           op == FATHOM_OP_ln_mlp_residual || op == FATHOM_OP_conv2d ||
           op == FATHOM_OP_conv_transpose || op == FATHOM_OP_dpt_head_tail ||
           op == FATHOM_OP_conv2d_resized || op == FATHOM_OP_dpt_rcu;
}

/* Packed variant x: pack case c's weight (d[2] in every weight op) alone with x's kernel
 * forced. 1: packed, the dispatcher reporting that kernel; 0: the shape stays fp32 (SKIP);
 * -1: failure (printed). */
static int pack_case(const variant *x, const tcase *c, float **d, const char *name) {
    const int *a = c->a;
    int N, K, conv = -1;
    if (c->op == FATHOM_OP_conv2d) N = a[4], K = a[1] * a[5] * a[5], conv = 0;
    else if (c->op == FATHOM_OP_dpt_head_tail) N = a[6], K = a[1] * 9, conv = 0; /* w2 */
    else if (c->op == FATHOM_OP_conv2d_resized) N = a[6], K = a[1] * a[7] * a[7], conv = 0;
    else if (c->op == FATHOM_OP_dpt_rcu) N = a[1], K = a[1] * 9, conv = 0; /* w1; w2 below */
    else if (c->op == FATHOM_OP_conv_transpose) N = a[4] * a[5] * a[5], K = a[1], conv = a[5];
    else N = a[1], K = a[2];
    static const fathom_weight_format fmt[] = {FATHOM_WEIGHTS_DEFAULT, FATHOM_WEIGHTS_DEFAULT,
                                               FATHOM_WEIGHTS_INT8, FATHOM_WEIGHTS_Q4};
    setenv("FATHOM_CPU_KERNEL", packed_kernel_name(x), 1);
    /* ln_mlp_residual: fc1 (H, D) at d[2] and fc2 (D, H) at d[4], packed together */
    const int mlp = c->op == FATHOM_OP_ln_mlp_residual;
    if (mlp) N = a[2], K = a[1];
    fathom_status s = mlp ? fathom_cpu_pack_pair(x->be, fmt[x->wfmt], d[2], N, K, d[4], K, N)
                          : fathom_cpu_pack_one(x->be, fmt[x->wfmt], d[2], N, K, conv);
    unsetenv("FATHOM_CPU_KERNEL");
    if (s != FATHOM_OK) {
        printf("FAIL %-40s %-12s packing: %s\n", name, x->name, fathom_last_error());
        return -1;
    }
    int got = x->wfmt == W_BF16 ? fathom_cpu_bf16_kernel_of(x->be)
              : x->wfmt == W_INT8 ? fathom_cpu_q8_kernel_of(x->be) : fathom_cpu_q4_kernel_of(x->be);
    if (got != x->kern) {
        printf("FAIL %-40s %-12s FATHOM_CPU_KERNEL=%s: the dispatcher picked kernel %d\n", name, x->name,
               packed_kernel_name(x), got);
        return -1;
    }
    const fathom_bf16_mat *wb;
    const fathom_q4_mat *w4;
    int kern;
    if (conv >= 0) return fathom_cpu_conv_find(x->be, d[2], &wb, &w4, &kern);
    for (int i = 2; i <= (mlp ? 4 : 2); i += 2)
        if (!(x->wfmt == W_BF16   ? fathom_cpu_bf16_find(x->be, d[i]) != NULL
              : x->wfmt == W_INT8 ? fathom_cpu_q8_find(x->be, d[i]) != NULL
                                  : fathom_cpu_q4_find(x->be, d[i]) != NULL))
            return 0;
    return 1;
}

/* cuda-int8 / cuda-q4: case c's weight packed on the host in the CPU format (into *q8 or
 * *q4, freed by the caller) and handed to the device under its address; *pm views it. */
static int pack_device(const variant *x, const host_bufs *h, float **d, fathom_q8_mat *q8,
                       fathom_q4_mat *q4, fathom_packed_mat *pm, const tcase *c, const char *name) {
    const int N = c->a[1], K = c->a[2];
    fathom_status s;
    if (x->wfmt == W_INT8) {
        s = fathom_cpu_q8_mat_pack(q8, h->t[2], N, K);
        *pm = (fathom_packed_mat){FATHOM_PACKED_MAT_INT8, N, K, q8->Np, q8->Kp, q8->w, q8->scale,
                                  (size_t)q8->Np * q8->Kp, (size_t)q8->Np * sizeof(float)};
    } else {
        s = fathom_cpu_q4_mat_pack(q4, h->t[2], N, K);
        *pm = (fathom_packed_mat){FATHOM_PACKED_MAT_Q4, N, K, q4->Np, q4->Kp, q4->q, q4->scale,
                                  (size_t)q4->Np * q4->Kp / 2, (size_t)q4->Np * (q4->Kp / 32) * sizeof(uint16_t)};
    }
    if (s == FATHOM_OK) s = x->be->ops->load_packed(x->be, d[2], pm);
    if (s != FATHOM_OK) printf("FAIL %-40s %-12s packing: %s\n", name, x->name, fathom_last_error());
    return s == FATHOM_OK ? 1 : -1;
}

/* cuda-int8 / cuda-q4 against their twin on the host; 1 when within 1e-5 */
static int check_twin(const variant *x, const tcase *c, const host_bufs *h, const fathom_packed_mat *pm,
                      const float *got, const char *name) {
    const size_t n = h->s[h->cmp].n;
    float *twin = malloc(n * sizeof *twin + 1);
    if (!twin) return 0;
    memcpy(twin, h->t[h->cmp], n * sizeof *twin); /* linear_residual: x as it came in */
    const int res = c->op == FATHOM_OP_linear_residual;
    fathom_ref_linear_packed(twin, h->t[1], pm, h->t[3], res ? h->t[4] : NULL, c->a[0],
                             res ? FATHOM_ACT_NONE : (fathom_act)c->a[3]);
    tu_diff df = tu_compare(got, twin, n);
    int pass = df.nonfinite == 0 && df.max_rel <= 1e-5;
    printf("%s %-40s %-12s twin err %.2e  tol 1e-05\n", pass ? "PASS" : "FAIL", name, x->name, df.max_rel);
    free(twin);
    return pass;
}

/* Packed variant x, an op whose activations the packed engine rounds (attention: bf16 on
 * fathom_cpu_bf16_act_kernel): gives the backend a one-matrix set with x's kernel forced, as
 * an engine of that format has. 1: the op runs in bf16 on x's kernel; 0: that engine keeps it
 * fp32 (int8 without AVX512-BF16: SKIP); -1: failure (printed). */
static int pack_act(const variant *x, const char *name) {
    static float w[32 * 32]; /* the set's one weight: only its existence matters */
    static const fathom_weight_format fmt[] = {FATHOM_WEIGHTS_DEFAULT, FATHOM_WEIGHTS_DEFAULT,
                                               FATHOM_WEIGHTS_INT8, FATHOM_WEIGHTS_Q4};
    setenv("FATHOM_CPU_KERNEL", packed_kernel_name(x), 1);
    fathom_status s = fathom_cpu_pack_one(x->be, fmt[x->wfmt], w, 32, 32, -1);
    unsetenv("FATHOM_CPU_KERNEL");
    if (s != FATHOM_OK) {
        printf("FAIL %-40s %-12s packing: %s\n", name, x->name, fathom_last_error());
        return -1;
    }
    int got = fathom_cpu_bf16_act_kernel(x->be);
    if (x->wfmt == W_INT8) return got >= 0; /* its bf16 kernel is the best there is */
    if (got != x->kern) {
        printf("FAIL %-40s %-12s FATHOM_CPU_KERNEL=%s: attention got kernel %d\n", name, x->name,
               packed_kernel_name(x), got);
        return -1;
    }
    return 1;
}

static int check_case(int ci) {
    const tcase *c = &cases[ci];
    char name[96];
    describe(c, name, sizeof name);
    host_bufs h;
    int fails = 0;
    if (!make_host(c, (uint64_t)ci + 1, &h)) {
        printf("FAIL %-40s cannot build the case (no shapes or out of memory)\n", name);
        free_host(&h);
        return 1;
    }
    /* reference: never in place, so a kernel's aliasing is checked against clean data */
    float *ref = malloc(h.s[h.cmp].n * sizeof(float) + 1);
    float *got = malloc(h.s[h.cmp].n * sizeof(float) + 1);
    float *rt[MAXT];
    memcpy(rt, h.t, sizeof rt);
    if (!ref || !got) {
        printf("FAIL %-40s out of memory\n", name);
        free(ref), free(got), free_host(&h);
        return 1;
    }
    memcpy(ref, h.t[h.cmp], h.s[h.cmp].n * sizeof(float));
    rt[h.cmp] = ref;
    if (!run_op(NULL, rt, c, -1)) {
        printf("FAIL %-40s no adapter for this op in run_op\n", name);
        free(ref), free(got), free_host(&h);
        return 1;
    }
    const int alias = c->inplace ? h.alias : -1;
    for (int v = 0; v < NVAR; v++) {
        variant *x = &variants[v];
        if (!x->be) continue;
        if (!fathom_backend_supports(x->be, c->op)) {
            printf("SKIP %-40s %-12s no kernel for this op\n", name, x->name);
            continue;
        }
        const int dev_packed = x->wfmt && x->kern < 0;
        const int act = c->op == FATHOM_OP_attention && !dev_packed; /* bf16 in packed CPU engines */
        if (x->wfmt && !weight_op(c->op) && !act) continue; /* the fp32 op: the cpu-* variants' */
        if (dev_packed && c->op != FATHOM_OP_linear && c->op != FATHOM_OP_linear_residual) continue;
        fathom_q8_mat q8 = {0};
        fathom_q4_mat q4 = {0};
        fathom_packed_mat pm = {0};
        double tol = op_tol(c, x->prec);
        float *d[MAXT] = {0};
        int ok = to_backend(x->be, &h, d);
        if (ok && x->wfmt) {
            int pk = dev_packed ? pack_device(x, &h, d, &q8, &q4, &pm, c, name)
                     : act      ? pack_act(x, name)
                                : pack_case(x, c, d, name);
            if (pk <= 0) {
                if (!pk) printf("SKIP %-40s %-12s the engine keeps this %s fp32\n", name, x->name,
                                act ? "op" : "shape");
                else failed[c->op][v] = 1, fails++;
                if (dev_packed) x->be->ops->load_packed(x->be, d[2], NULL);
                free_backend(x->be, &h, d);
                fathom_cpu_q8_mat_free(&q8), fathom_cpu_q4_mat_free(&q4);
                continue;
            }
        }
        if (ok) {
            enter(x);
            run_op(x->be, d, c, alias);
            int idx = alias >= 0 ? alias : h.cmp;
            ok = x->be->ops->sync(x->be) == FATHOM_OK &&
                 x->be->ops->download(x->be, got, d[idx], h.s[h.cmp].n * sizeof(float)) ==
                     FATHOM_OK;
        }
        if (dev_packed) x->be->ops->load_packed(x->be, d[2], NULL);
        free_backend(x->be, &h, d);
        if (ok && dev_packed && !check_twin(x, c, &h, &pm, got, name)) failed[c->op][v] = 1, fails++;
        fathom_cpu_q8_mat_free(&q8), fathom_cpu_q4_mat_free(&q4);
        if (!ok) {
            printf("FAIL %-40s %-12s backend error: %s\n", name, x->name, fathom_last_error());
            failed[c->op][v] = 1, fails++;
            continue;
        }
        tu_diff df = tu_compare(got, ref, h.s[h.cmp].n);
        int pass = df.nonfinite == 0 && df.max_rel <= tol;
        printf("%s %-40s %-12s err %.2e  tol %.0e%s\n", pass ? "PASS" : "FAIL", name, x->name,
               df.max_rel, tol, df.nonfinite ? "  NON-FINITE" : "");
        if (!pass)
            printf("     worst at %zu: got %.7g ref %.7g\n", df.worst, got[df.worst],
                   ref[df.worst]);
        double r = tol > 0 ? df.max_rel / tol : (df.max_rel > 0 ? INFINITY : 0);
        if (df.nonfinite) r = INFINITY;
        if (r > worst[c->op][v]) worst[c->op][v] = r;
        if (!pass) failed[c->op][v] = 1, fails++;
    }
    free(ref), free(got), free_host(&h);
    return fails;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Times case c on every open variant: best of repeated runs after one warm-up. */
static void perf_case(int ci, double *total) {
    const tcase *c = &cases[ci];
    char name[96];
    describe(c, name, sizeof name);
    host_bufs h;
    if (!make_host(c, (uint64_t)ci + 1, &h)) {
        printf("%-40s cannot build the case\n", name);
        free_host(&h);
        return;
    }
    for (int v = 0; v < NVAR; v++) {
        variant *x = &variants[v];
        if (!x->be || !fathom_backend_supports(x->be, c->op)) continue;
        const int act = c->op == FATHOM_OP_attention;
        if (x->wfmt && !weight_op(c->op) && !act) continue; /* the fp32 op */
        float *d[MAXT] = {0};
        if (!to_backend(x->be, &h, d)) {
            printf("%-40s %-12s backend error: %s\n", name, x->name, fathom_last_error());
            free_backend(x->be, &h, d);
            continue;
        }
        if (x->wfmt && (act ? pack_act(x, name) : pack_case(x, c, d, name)) <= 0) {
            free_backend(x->be, &h, d); /* kept fp32 (or failed, printed): timed with cpu-* */
            continue;
        }
        enter(x);
        run_op(x->be, d, c, c->inplace ? h.alias : -1); /* warm-up (plans, caches) */
        x->be->ops->sync(x->be);
        double best = INFINITY, spent = 0;
        for (int r = 0; r < 50 && (r < 3 || spent < 0.3); r++) {
            double t0 = now();
            run_op(x->be, d, c, c->inplace ? h.alias : -1);
            x->be->ops->sync(x->be);
            double dt = now() - t0;
            spent += dt;
            if (dt < best) best = dt;
        }
        free_backend(x->be, &h, d);
        total[v] += c->perf * best;
        printf("%-40s %-12s %9.3f ms", name, x->name, best * 1e3);
        if (h.flops > 0) printf("  %8.1f GFLOP/s", h.flops / best * 1e-9);
        printf("\n");
    }
    free_host(&h);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    int perf = 0;
    const char *only_op = NULL, *only_be = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--perf")) perf = 1;
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) only_op = argv[++i];
        else if (!strcmp(argv[i], "-b") && i + 1 < argc) only_be = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--perf] [-o OP] [-b VARIANT]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* registry: every op of ops.def has a checked case and an adapter */
    int fails = 0;
    for (int op = 0; op < FATHOM_OP_COUNT; op++) {
        int n = 0;
        for (int i = 0; i < NCASES; i++) n += cases[i].op == (fathom_op_id)op && !cases[i].perf;
        if (!n) {
            printf("FAIL op '%s' (ops.def) has no case in tests/ops/test_backend_ops.c\n",
                   fathom_op_names[op]);
            fails++;
        }
    }

    open_variants(only_be, perf);
    for (int v = 0; v < NVAR; v++)
        if (!variants[v].be) printf("SKIP %-12s %s\n", variants[v].name, variants[v].skip);

    if (perf) {
        double total[NVAR] = {0};
        for (int i = 0; i < NCASES; i++)
            if (!only_op || strstr(fathom_op_names[cases[i].op], only_op)) perf_case(i, total);
        printf("\nViT-S 518 shapes (the perf cases), best time x occurrences per pass:\n");
        for (int v = 0; v < NVAR; v++)
            if (variants[v].be) printf("  %-12s %9.3f ms\n", variants[v].name, total[v] * 1e3);
    } else {
        for (int i = 0; i < NCASES; i++) {
            if (cases[i].perf) continue;
            if (only_op && !strstr(fathom_op_names[cases[i].op], only_op)) continue;
            fails += check_case(i);
        }
        printf("\n%-18s", "op \\ variant");
        for (int v = 0; v < NVAR; v++) printf(" %-16s", variants[v].name);
        printf("\n");
        for (int op = 0; op < FATHOM_OP_COUNT; op++) {
            if (only_op && !strstr(fathom_op_names[op], only_op)) continue;
            printf("%-18s", fathom_op_names[op]);
            for (int v = 0; v < NVAR; v++) {
                char cell[32];
                if (!variants[v].be)
                    snprintf(cell, sizeof cell, "SKIP");
                else if (!fathom_backend_supports(variants[v].be, (fathom_op_id)op))
                    snprintf(cell, sizeof cell, "SKIP (no kernel)");
                else if (variants[v].wfmt && !weight_op((fathom_op_id)op) && op != FATHOM_OP_attention)
                    snprintf(cell, sizeof cell, "- (fp32 op)");
                else
                    snprintf(cell, sizeof cell, "%s %.2f", failed[op][v] ? "FAIL" : "PASS",
                             worst[op][v]);
                printf(" %-16s", cell);
            }
            printf("\n");
        }
        printf("(PASS r: worst error / tolerance over the op's cases)\n");
    }
    for (int v = 0; v < NVAR; v++) fathom_backend_free(&variants[v].be);
    printf("%s\n", fails ? "FAILED" : "all run cases passed");
    return fails ? 1 : 0;
}
