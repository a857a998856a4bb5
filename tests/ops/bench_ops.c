/* bench_ops.c - CPU backend throughput on the ViT-S / 518x518 Depth Anything V2 op sequence.
 *
 * Not a ctest program (the name does not match test_*): build by hand against the library,
 *   gcc -O3 -fopenmp -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-openmp \
 *       tests/ops/bench_ops.c build-ops/libfathom.a \
 *       -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lm -o /tmp/bench_ops
 *   /tmp/bench_ops [threads] [reps]
 * Runs the forward pass's op sequence with random weights (encoder: 12 blocks, L = 1370,
 * D = 384, 6 heads; DPT head with features 64), times each op kind, and prints GFLOP/s per
 * kind, the whole-sequence GFLOP/s and plain OpenBLAS sgemm GFLOP/s for comparison. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_internal.h"

enum { K_PATCH, K_QKV, K_ATT, K_PROJ, K_FC1, K_FC2, K_LN, K_CONV, K_CONVT, K_RESIZE, K_MISC, K_N };
static const char *kind_name[K_N] = {"patch_embed", "linear qkv", "attention", "linear proj+res",
                                     "linear fc1+gelu", "linear fc2+res", "layernorm", "conv2d",
                                     "conv_transpose", "resize", "misc"};
static double t_kind[K_N], f_kind[K_N];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *mk(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) exit(1);
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) s = s * 1103515245u + 12345u, p[i] = ((s >> 9) & 0xffff) / 65536.0f - 0.5f;
    return p;
}

/* process CPU seconds (all threads): on a shared, overloaded machine wall time mostly
 * measures the other processes; flops per CPU-second x threads estimates an idle machine
 * (run with OMP_WAIT_POLICY=passive so spinning at barriers is not counted as work) */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double c_kind[K_N];

static double t0_, c0_;
#define TIME(kind, flops, call)                                                          \
    (t0_ = now(), c0_ = cpu_now(), (call), t_kind[kind] += now() - t0_,                  \
     c_kind[kind] += cpu_now() - c0_, f_kind[kind] += (flops))

static void conv(fathom_backend *be, float *out, const float *in, const float *w, const float *b,
                 const float *res, int Ci, int H, int Co, int k, int s, int flags) {
    int pad = k / 2, Ho = (H + 2 * pad - k) / s + 1;
    TIME(K_CONV, 2.0 * Co * Ci * k * k * Ho * Ho,
         be->ops->conv2d(be, out, in, w, b, res, 1, Ci, H, H, Co, k, s, pad, flags));
}

static void resize(fathom_backend *be, float *out, const float *in, int P, int Hi, int Ho) {
    TIME(K_RESIZE, 0.0, be->ops->resize_bilinear(be, out, in, P, Hi, Hi, Ho, Ho));
}

/* fusion block at size n: [x + rcu1(skip)] -> rcu2 -> resize to m -> 1x1 conv; an RCU is
 * conv(relu(conv(relu(x)))) + x, with the inner ReLU as RELU_OUT as src/model/dpt.c does */
static void fusion(fathom_backend *be, float *x, const float *skip, float *t1, float *t2,
                   float *up, const float *w3, const float *w1, const float *b, int n, int m) {
    size_t sz = (size_t)64 * n * n;
    if (skip) {
        conv(be, t1, skip, w3, b, NULL, 64, n, 64, 3, 1, FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
        conv(be, t2, t1, w3, b, skip, 64, n, 64, 3, 1, 0);
        TIME(K_MISC, 0.0, be->ops->add(be, x, x, t2, sz));
    }
    conv(be, t1, x, w3, b, NULL, 64, n, 64, 3, 1, FATHOM_CONV_RELU_IN | FATHOM_CONV_RELU_OUT);
    conv(be, t2, t1, w3, b, x, 64, n, 64, 3, 1, 0);
    resize(be, up, t2, 64, n, m);
    conv(be, x, up, w1, b, NULL, 64, m, 64, 1, 1, 0);
}

static void forward(fathom_backend *be, float **buf, float **w) {
    const int L = 1370, N = 1369, D = 384, H = 518, g = 37;
    float *img = buf[0], *patches = buf[1], *x = buf[2], *y = buf[3], *qkv = buf[4];
    float *att = buf[5], *hid = buf[6];
    float *feat[4] = {buf[7], buf[8], buf[9], buf[10]};
    TIME(K_MISC, 0.0, be->ops->patchify(be, patches, img, 1, H, H, 14));
    TIME(K_PATCH, 2.0 * N * D * 588, be->ops->linear(be, y, patches, w[0], w[1], N, D, 588, FATHOM_ACT_NONE));
    TIME(K_MISC, 0.0, be->ops->assemble_tokens(be, x, y, w[1], w[2], 1, N, D));
    for (int blk = 0; blk < 12; blk++) {
        TIME(K_LN, 0.0, be->ops->layernorm(be, y, x, w[1], w[1], L, D, 1e-6f));
        TIME(K_QKV, 2.0 * L * 3 * D * D, be->ops->linear(be, qkv, y, w[3], w[1], L, 3 * D, D, FATHOM_ACT_NONE));
        TIME(K_ATT, 4.0 * L * L * D, be->ops->attention(be, att, qkv, 1, L, D, 6, 0.125f));
        TIME(K_PROJ, 2.0 * L * D * D, be->ops->linear_residual(be, x, att, w[4], w[1], w[1], L, D, D));
        TIME(K_LN, 0.0, be->ops->layernorm(be, y, x, w[1], w[1], L, D, 1e-6f));
        TIME(K_FC1, 2.0 * L * 4 * D * D, be->ops->linear(be, hid, y, w[5], w[1], L, 4 * D, D, FATHOM_ACT_GELU));
        TIME(K_FC2, 2.0 * L * 4 * D * D, be->ops->linear_residual(be, x, hid, w[6], w[1], w[1], L, D, 4 * D));
        if (blk % 3 == 2) { /* intermediate layers 2, 5, 8, 11 through the final norm */
            TIME(K_LN, 0.0, be->ops->layernorm(be, y, x, w[1], w[1], L, D, 1e-6f));
            TIME(K_MISC, 0.0, be->ops->tokens_to_nchw(be, feat[blk / 3], y, 1, g, g, D));
        }
    }
    /* reassemble: 1x1 projections to (48, 96, 192, 384), resample, layer_rn 3x3 -> 64 */
    int oc[4] = {48, 96, 192, 384}, sz[4] = {148, 74, 37, 19};
    float *rs[4] = {buf[11], buf[12], buf[13], buf[14]}, *t1 = buf[15], *t2 = buf[16], *up = buf[17];
    for (int i = 0; i < 4; i++) {
        conv(be, t1, feat[i], w[7], w[1], NULL, D, g, oc[i], 1, 1, 0);
        if (i < 2) {
            int k = i == 0 ? 4 : 2;
            TIME(K_CONVT, 2.0 * oc[i] * oc[i] * k * k * g * g,
                 be->ops->conv_transpose(be, t2, t1, w[8], w[1], 1, oc[i], g, g, oc[i], k));
        } else if (i == 3) {
            conv(be, t2, t1, w[9], w[1], NULL, oc[i], g, oc[i], 3, 2, 0);
        } else {
            memcpy(t2, t1, sizeof(float) * oc[i] * g * g);
        }
        conv(be, rs[i], t2, w[10], NULL, NULL, oc[i], sz[i], 64, 3, 1, 0);
    }
    fusion(be, rs[3], NULL, t1, t2, up, w[11], w[12], w[1], 19, 37);
    float *x3 = rs[3]; /* 64 x 37 x 37 now */
    fusion(be, x3, rs[2], t1, t2, up, w[11], w[12], w[1], 37, 74);
    fusion(be, x3, rs[1], t1, t2, up, w[11], w[12], w[1], 74, 148);
    fusion(be, x3, rs[0], t1, t2, up, w[11], w[12], w[1], 148, 296);
    conv(be, t1, x3, w[13], w[1], NULL, 64, 296, 32, 3, 1, 0); /* output_conv1 */
    resize(be, up, t1, 32, 296, 518);
    conv(be, t2, up, w[14], w[1], NULL, 32, 518, 32, 3, 1, FATHOM_CONV_RELU_OUT);
    conv(be, t1, t2, w[15], w[1], NULL, 32, 518, 1, 1, 1, 0);
    TIME(K_MISC, 0.0, be->ops->depth_act(be, t1, (size_t)518 * 518, 0, 1.0f));
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0, reps = argc > 2 ? atoi(argv[2]) : 3;
    fathom_blas_serial(1); /* as the CLI: the kernels thread around sgemm themselves */
    fathom_backend *be = NULL;
    if (fathom_backend_cpu_create(threads, &be) != FATHOM_OK) return 1;
    size_t big = (size_t)64 * 296 * 296 * 4; /* >= every activation here */
    float *buf[19], *w[16];
    for (int i = 0; i < 19; i++) buf[i] = mk(big);
    for (int i = 0; i < 16; i++) w[i] = mk((size_t)1536 * 384 * 2);
    for (int i = 0; i < 16; i++) /* small weights keep activations finite through 12 blocks */
        for (size_t j = 0; j < (size_t)1536 * 384 * 2; j++) w[i][j] *= 0.05f;

    /* plain sgemm on the fc1 shape with OpenBLAS's own threads, as the reference peak; the
     * backend runs OpenBLAS serially inside its own team, so restore that afterwards */
    openblas_set_num_threads(be->threads);
    double ts = now(), tc = cpu_now();
    for (int r = 0; r < 10; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1370, 1536, 384, 1.0f, buf[0], 384,
                    w[5], 384, 0.0f, buf[1], 1536);
    double sgemm = 10 * 2.0 * 1370 * 1536 * 384 / (now() - ts) * 1e-9;
    double sgemm_cpu = 10 * 2.0 * 1370 * 1536 * 384 / (cpu_now() - tc) * 1e-9 * be->threads;
    openblas_set_num_threads(1);

    forward(be, buf, w); /* warm-up */
    memset(t_kind, 0, sizeof t_kind);
    memset(f_kind, 0, sizeof f_kind);
    memset(c_kind, 0, sizeof c_kind);
    double best = 1e30, tot = 0, cpu = cpu_now();
    for (int r = 0; r < reps; r++) {
        double t = now();
        forward(be, buf, w);
        t = now() - t;
        tot += t;
        if (t < best) best = t;
    }
    cpu = (cpu_now() - cpu) / reps;
    double flops = 0;
    for (int k = 0; k < K_N; k++) flops += f_kind[k] / reps;
    printf("threads %d, reps %d\n%-18s %9s %9s %8s %8s %12s\n", be->threads, reps, "op", "ms/fwd",
           "cpu-ms", "GFLOP", "GFLOP/s", "GF/cpu-s*thr");
    for (int k = 0; k < K_N; k++)
        printf("%-18s %9.1f %9.1f %8.2f %8.1f %12.1f\n", kind_name[k], t_kind[k] / reps * 1e3,
               c_kind[k] / reps * 1e3, f_kind[k] / reps * 1e-9,
               t_kind[k] > 0 ? f_kind[k] / t_kind[k] * 1e-9 : 0.0,
               c_kind[k] > 0 ? f_kind[k] / c_kind[k] * 1e-9 * be->threads : 0.0);
    printf("whole forward: best %.1f ms, mean %.1f ms, %.2f GFLOP -> %.1f GFLOP/s (best), %.1f (mean)\n",
           best * 1e3, tot / reps * 1e3, flops * 1e-9, flops / best * 1e-9, flops / (tot / reps) * 1e-9);
    printf("cpu time per forward %.1f ms -> %.1f GFLOP/cpu-s x %d threads = %.1f GFLOP/s if idle\n",
           cpu * 1e3, flops / cpu * 1e-9, be->threads, flops / cpu * 1e-9 * be->threads);
    printf("OpenBLAS sgemm 1370x1536x384, %d threads: %.1f GFLOP/s wall, %.1f per cpu-s x threads\n",
           be->threads, sgemm, sgemm_cpu);
    printf("whole forward vs sgemm: %.0f%% (wall), %.0f%% (cpu-time based)\n",
           100.0 * flops / best * 1e-9 / sgemm, 100.0 * (flops / cpu * 1e-9 * be->threads) / sgemm_cpu);
    for (int i = 0; i < 19; i++) free(buf[i]);
    for (int i = 0; i < 16; i++) free(w[i]);
    fathom_backend_free(&be);
    return 0;
}
