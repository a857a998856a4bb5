/* vda_fp16_case.h - the worst case for `--precision fp16` in VDA's temporal feed-forward block
 * (LayerNorm -> ff.net.0 -> GEGLU -> ff.net.2), shared by tests/vda/test_vda_fp16.c (the plain-C
 * fp16 twin) and tests/gpu/test_cuda_fp16_guard.c (the device). Long-video-like input: 32 frames
 * whose level and spread grow frame after frame; ff.net.0's weights are scaled so the largest
 * GEGLU product is FP16_CASE_PEAK, past fp16's 65504. */
#ifndef FATHOM_TESTS_VDA_FP16_CASE_H
#define FATHOM_TESTS_VDA_FP16_CASE_H

#include <math.h>
#include <stdlib.h>

#include "backend/cpu/ref_ops.h"
#include "test_util.h"

#define FP16_CASE_PEAK 4.0e5f

typedef struct fp16_case {
    int rows, C;                /* rows = T * positions */
    float *x, *ln_w, *ln_b;     /* x (rows, C) */
    float *w1, *b1, *w2, *b2;   /* ff.net.0 (8C, C), ff.net.2 (C, 4C) */
    float *ref;                 /* (rows, C): the fp32 reference output */
    float *ln, *hid, *gg;       /* fp32 intermediates (ln (rows, C), hid (rows, 8C), gg (rows, 4C)) */
} fp16_case;

static inline void fp16_case_free(fp16_case *k) {
    float *p[] = {k->x, k->ln_w, k->ln_b, k->w1, k->b1, k->w2, k->b2, k->ref, k->ln, k->hid, k->gg};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

static inline float fp16_case_amax(const float *x, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* 1 on success; seed varies every tensor. */
static inline int fp16_case_make(fp16_case *k, int T, int P, int C, uint64_t seed) {
    const int rows = T * P;
    k->rows = rows, k->C = C;
    k->x = tu_random_alloc((size_t)rows * C, seed, 1.0f);
    k->ln_w = tu_random_alloc(C, seed + 1, 0.5f);
    k->ln_b = tu_random_alloc(C, seed + 2, 0.2f);
    k->w1 = tu_random_alloc((size_t)8 * C * C, seed + 3, 1.0f);
    k->b1 = tu_random_alloc((size_t)8 * C, seed + 4, 0.1f);
    k->w2 = tu_random_alloc((size_t)C * 4 * C, seed + 5, 0.2f);
    k->b2 = tu_random_alloc(C, seed + 6, 0.1f);
    k->ref = malloc((size_t)rows * C * sizeof(float));
    k->ln = malloc((size_t)rows * C * sizeof(float));
    k->hid = malloc((size_t)rows * 8 * C * sizeof(float));
    k->gg = malloc((size_t)rows * 4 * C * sizeof(float));
    if (!k->x || !k->ln_w || !k->ln_b || !k->w1 || !k->b1 || !k->w2 || !k->b2 || !k->ref ||
        !k->ln || !k->hid || !k->gg)
        return 0;
    for (int c = 0; c < C; c++) k->ln_w[c] += 1.0f;
    for (int r = 0; r < rows; r++) { /* frame t = r % T: drifting level, growing spread */
        int t = r % T;
        for (int c = 0; c < C; c++)
            k->x[(size_t)r * C + c] = k->x[(size_t)r * C + c] * (1.0f + 0.5f * t) + 40.0f * t;
    }
    /* scale ff.net.0 so the largest GEGLU product is FP16_CASE_PEAK (quadratic in the scale) */
    fathom_ref_layernorm(k->ln, k->x, k->ln_w, k->ln_b, rows, C, 1e-5f);
    for (int pass = 0; pass < 3; pass++) {
        fathom_ref_linear(k->hid, k->ln, k->w1, k->b1, rows, 8 * C, C, FATHOM_ACT_NONE);
        fathom_ref_geglu(k->gg, k->hid, rows, 4 * C);
        float s = sqrtf(FP16_CASE_PEAK / fp16_case_amax(k->gg, (size_t)rows * 4 * C));
        for (size_t i = 0; i < (size_t)8 * C * C; i++) k->w1[i] *= s;
        for (int i = 0; i < 8 * C; i++) k->b1[i] *= s;
    }
    fathom_ref_linear(k->hid, k->ln, k->w1, k->b1, rows, 8 * C, C, FATHOM_ACT_NONE);
    fathom_ref_geglu(k->gg, k->hid, rows, 4 * C);
    fathom_ref_linear(k->ref, k->gg, k->w2, k->b2, rows, C, 4 * C, FATHOM_ACT_NONE);
    return 1;
}

#endif
