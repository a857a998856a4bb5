/* py_overhead_c.c - the C side of bench/bench_python.sh: the exact work of fathom.Model.infer
 * (preprocess, forward, resize to the image) through the public API, timed per call.
 * Usage: py_overhead_c MODEL IMAGE INPUT_SIZE THREADS REPS -> one line per call: "c <ms>" */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <fathom.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 6) { fprintf(stderr, "usage: py_overhead_c MODEL IMAGE INPUT_SIZE THREADS REPS\n"); return 2; }
    fathom_model *m = NULL;   /* owned */
    fathom_engine *e = NULL;  /* owned */
    fathom_image img = {0};   /* owned pixels */
    fathom_engine_params ep = fathom_engine_default_params();
    ep.threads = atoi(argv[4]);
    if (fathom_model_load(argv[1], NULL, &m) || fathom_engine_create(m, &ep, &e) ||
        fathom_image_load(argv[2], 0, &img)) {
        fprintf(stderr, "py_overhead_c: %s\n", fathom_last_error());
        return 1;
    }
    int H, W, reps = atoi(argv[5]);
    fathom_network_size(img.height, img.width, atoi(argv[3]), &H, &W);
    float *x = malloc(sizeof(float) * 3 * H * W), *net = malloc(sizeof(float) * H * W); /* owned */
    float *depth = malloc(sizeof(float) * img.height * img.width);                     /* owned */
    /* as the binding does: buffers allocated per call, here once; the engine warmed up once */
    for (int r = -1; r < reps; r++) {
        double t0 = now_ms();
        if (fathom_preprocess(img.rgb, img.height, img.width, img.stride, H, W, x) ||
            fathom_engine_forward(e, x, 1, H, W, net)) {
            fprintf(stderr, "py_overhead_c: %s\n", fathom_last_error());
            return 1;
        }
        fathom_resize_depth(net, H, W, depth, img.height, img.width);
        if (r >= 0) printf("c %.3f\n", now_ms() - t0);
        fflush(stdout);
    }
    free(x); free(net); free(depth);
    fathom_image_free(&img);
    fathom_engine_free(&e);
    fathom_model_free(&m);
    return 0;
}
