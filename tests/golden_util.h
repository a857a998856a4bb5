/* golden_util.h - the golden reference data as the C tests read it (../shared/golden*, see
 * each README): stored intermediates, the case folders and each case's model. Linked into
 * every C test with test_util.c. */
#ifndef FATHOM_TEST_GOLDEN_UTIL_H
#define FATHOM_TEST_GOLDEN_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

/* One stored reference tensor, as float. */
typedef struct tu_ref {
    char name[64];
    float *data;      /* owned */
    size_t n;
    int ndim;
    int64_t shape[8];
    double tol;       /* max|d| / max|ref|: 1e-3 for float16 storage, 1e-4 for float32 */
    int seen, ok;     /* for the caller's tap */
} tu_ref;

/* Every tensor of a safetensors file (float16 or float32), as float. NULL after printing why
 * (missing file, another dtype); the caller fails the test. */
tu_ref *tu_load_refs(const char *path, int *count);
void tu_free_refs(tu_ref *r, int n);

/* IEEE half to float, subnormals included. */
float tu_half_to_float(uint16_t h);

/* The case folders (holding case.json) of a golden folder, sorted: at most cap names into
 * names. Returns how many, or -1 when the folder cannot be read. */
int tu_golden_cases(const char *golden, char (*names)[256], int cap);

/* A golden case's model as users have it (dir/model, the HF folder, else dir/model.pth), with
 * case.json's metric and max_depth; *input_size (may be NULL) gets case.json's input_size.
 * NULL after printing why. */
fathom_model *tu_load_case_model(const char *dir, int *input_size);

/* A case's network pass: x = pixel_values.npy (1, 3, H, W), ref = depth_net.npy (H, W). 1 when
 * both are read and agree in size, else 0 after printing why (nothing left to free). */
typedef struct tu_net_case {
    float *x, *ref; /* owned (tu_free_net_case) */
    size_t n;       /* floats of x (3 * H * W) */
    size_t nd;      /* floats of ref (H * W) */
    int H, W;
} tu_net_case;
int tu_load_net_case(const char *dir, tu_net_case *c);
void tu_free_net_case(tu_net_case *c);

#endif
