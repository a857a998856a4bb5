/* test_util.h - helpers shared by the C tests (cmocka is used inside each test program).
 *
 * Each tests/<area>/test_*.c is its own executable and ctest entry. Exit code 77 = SKIP
 * (ctest SKIP_RETURN_CODE): used for GPU tests without a device, never to hide a failure. */
#ifndef FATHOM_TEST_UTIL_H
#define FATHOM_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The golden data (FATHOM_GOLDEN from ctest: ../shared/golden, else the small copy in
 * tests/data/golden); exits 77 (SKIP, saying why) if absent. */
const char *tu_golden_dir(void);
/* tu_golden_dir()/rel when that file exists, else NULL after printing "SKIP: ... not in this
 * copy of the golden data" (the repository's copy lacks the large files). Use with cmocka's
 * skip(): `const char *p = tu_golden_file("vits-pth/model.pth"); if (!p) skip();` */
const char *tu_golden_file(const char *rel);
/* path join into a static rotating buffer (valid for 8 calls) */
const char *tu_path(const char *a, const char *b);
/* A fresh empty temporary directory (removed by tu_rmtree). Returns malloc'd path. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *dir);

/* Load a little-endian float32 C-order .npy. Returns malloc'd data; shape/ndim filled. */
float *tu_load_npy(const char *path, int64_t shape[8], int *ndim, size_t *count);
/* Write float32 .npy (for debugging dumps). */
int tu_save_npy(const char *path, const float *data, const int64_t *shape, int ndim);

typedef struct tu_diff {
    double max_abs, max_ref, rms, max_rel; /* max_rel = max_abs / max_ref; rms also / max_ref */
    size_t worst;                          /* index of the largest |out - ref| */
    int nonfinite;                         /* NaN/Inf in out */
} tu_diff;

tu_diff tu_compare(const float *out, const float *ref, size_t n);
/* Print one line "name: max|d| ... rel ... rms ... [OK|FAIL]" and return 1 if within
 * max_rel_tol (max|d|/max|ref|) and rms_rel_tol (rms/max|ref|; < 0 to skip). */
int tu_check(const char *name, const float *out, const float *ref, size_t n, double max_rel_tol,
             double rms_rel_tol);

/* Fill with a deterministic pseudo-random uniform [-scale, scale] sequence. */
void tu_fill_random(float *x, size_t n, uint64_t seed, float scale);

/* malloc'd n floats filled by tu_fill_random; the caller frees. NULL on allocation failure. */
float *tu_random_alloc(size_t n, uint64_t seed, float scale);

/* Run a shell command built from fmt; prints it on failure. Returns system()'s status. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exit with SKIP (77) after printing why. */
void tu_skip(const char *why) __attribute__((noreturn));

#endif
