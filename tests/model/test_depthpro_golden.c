/* test_depthpro_golden.c - parity with the official Depth Pro code on every case in
 * ../shared/golden-depthpro, for the official model.pth and the HF folder alike.
 *
 * Per case and weight format: decode input.png, preprocess (vs pixel_values_s5.npy, every 5th
 * row/column, 1e-5 absolute), run the network with a tap that compares every stored stage
 * (maps of 192^2 and more, and encoder.x1, through their 48x48 corner windows) and names the
 * first one that diverges, then canonical_inverse_depth.npy and fov_deg.npy, then the
 * post-processing with the estimated and the given focal length (depth.npy, depth_fpx.npy,
 * focallength_px.npy). The HF run goes through weights rebased by the slot table (device
 * uploads use it). Tolerances: golden-depthpro/README.md "Tolerances". */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "fathom.h"
#include "model/depthpro.h"
#include "golden_util.h"
#include "test_util.h"

typedef struct tap_state {
    tu_ref *refs;
    int nrefs;
    char first_bad[64];
} tap_state;

/* The stored stages; a file that cannot be read fails the test. */
static tu_ref *load_refs(const char *path, int *count) {
    tu_ref *r = tu_load_refs(path, count);
    if (!r) fail_msg("%s: cannot read the reference tensors", path);
    return r;
}

static void compare(tap_state *st, tu_ref *r, const float *data, size_t n) {
    char label[96];
    snprintf(label, sizeof label, "  %s", r->name);
    r->seen = 1;
    r->ok = n == r->n && tu_check(label, data, r->data, r->n, 1e-4, -1);
    if (!r->ok && !st->first_bad[0]) snprintf(st->first_bad, sizeof st->first_bad, "%s", r->name);
}

static void on_tap(void *user, const char *name, const float *data, int ndim, const int64_t *shape) {
    tap_state *st = user;
    size_t nl = strlen(name);
    for (int i = 0; i < st->nrefs; i++) {
        tu_ref *r = &st->refs[i];
        if (strcmp(r->name, name) == 0) {
            int same = ndim == r->ndim;
            for (int d = 0; same && d < ndim; d++) same = shape[d] == r->shape[d];
            if (!same) printf("  %s: shape mismatch\n", name);
            compare(st, r, data, same ? r->n : 0);
        } else if (strncmp(r->name, name, nl) == 0 && r->name[nl] == '@' && ndim == 4) {
            /* corner window [C, 48, 48] of the (1, C, h, w) map */
            int br = strcmp(r->name + nl, "@br") == 0;
            int64_t C = shape[1], h = shape[2], w = shape[3], win = r->shape[2];
            size_t n = (size_t)C * win * win;
            float *cut = malloc(n * sizeof(float));
            for (int64_t c = 0; c < C; c++)
                for (int64_t y = 0; y < win; y++)
                    for (int64_t x = 0; x < win; x++)
                        cut[(c * win + y) * win + x] =
                            data[(c * h + (br ? h - win : 0) + y) * w + (br ? w - win : 0) + x];
            compare(st, r, cut, C == r->shape[1] ? n : 0);
            free(cut);
        }
    }
}

static float *load_npy_any(const char *path, size_t *n) {
    int64_t shape[8];
    int ndim;
    return tu_load_npy(path, shape, &ndim, n);
}

/* float64 .npy of a few values (focallength_px.npy) */
static int load_f64(const char *path, double *v, int cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 128, SEEK_SET);
    int n = (int)fread(v, sizeof(double), (size_t)cap, f);
    fclose(f);
    return n;
}

/* rebase: run through a view of the weights moved onto a copy of the arena by the slot table
 * (as a device upload does), with the loaded arena poisoned (NaN), so a tensor the table
 * missed cannot pass. */
static int run_weights(const char *dir, const char *wpath, const float *x, const fathom_image *img, int rebase) {
    int ok = 1;
    printf("-- %s%s\n", wpath, rebase ? " (rebased weights)" : "");
    fathom_dp_weights *h = NULL, view, *w;
    if (fathom_dp_load(wpath, &h) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    void *base = NULL;
    fathom_block_weights *blocks[3] = {NULL, NULL, NULL};
    w = h;
    if (rebase) {
        base = malloc(h->arena_bytes);
        memcpy(base, h->arena, h->arena_bytes);
        for (int v = 0; v < 3; v++) blocks[v] = calloc((size_t)h->vit[v].depth, sizeof *blocks[v]);
        if (fathom_dp_rebase(h, base, &view, blocks) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        memset(h->arena, 0xff, h->arena_bytes);
        w = &view;
    }
    tap_state st = {0};
    st.refs = load_refs(tu_path(dir, "intermediates.safetensors"), &st.nrefs);
    fathom_backend *be = NULL;
    assert_int_equal(fathom_backend_cpu_create(2, &be), FATHOM_OK);
    const size_t NN = (size_t)FATHOM_DP_NET * FATHOM_DP_NET;
    float *canon = malloc(NN * sizeof(float)), fov = 0;
    if (fathom_dp_forward(be, w, x, canon, &fov, on_tap, &st) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    for (int i = 0; i < st.nrefs; i++) {
        if (strcmp(st.refs[i].name, "preprocess.normalized") == 0) continue; /* checked by the caller */
        if (!st.refs[i].seen) {
            printf("  %s: never produced\n", st.refs[i].name);
            ok = 0;
        }
        ok &= st.refs[i].ok;
    }
    if (st.first_bad[0]) printf("  FIRST DIVERGING STAGE: %s\n", st.first_bad);

    size_t n;
    float *cref = load_npy_any(tu_path(dir, "canonical_inverse_depth.npy"), &n);
    assert_int_equal(n, NN);
    ok &= tu_check("  canonical_inverse_depth", canon, cref, n, 1e-4, 1e-5);
    float *fref = load_npy_any(tu_path(dir, "fov_deg.npy"), &n);
    printf("  fov_deg: %.9g vs %.9g\n", fov, fref[0]);
    ok &= fabsf(fov - fref[0]) <= 1e-4f * fabsf(fref[0]);

    /* post-processing, estimated and given focal length, on our own network output */
    double fl[2];
    assert_int_equal(load_f64(tu_path(dir, "focallength_px.npy"), fl, 2), 2);
    const char *files[2] = {"depth.npy", "depth_fpx.npy"};
    for (int k = 0; k < 2; k++) {
        float *dref = load_npy_any(tu_path(dir, files[k]), &n);
        assert_int_equal(n, (size_t)img->width * img->height);
        float *depth = malloc(n * sizeof(float));
        double f_used = 0;
        assert_int_equal(fathom_dp_postprocess(canon, fov, k ? fl[1] : 0.0, img->height, img->width, depth, &f_used),
                         FATHOM_OK);
        char label[64];
        snprintf(label, sizeof label, "  %s", files[k]);
        ok &= tu_check(label, depth, dref, n, 1e-4, 1e-5);
        printf("  focallength_px[%d]: %.12g vs %.12g\n", k, f_used, fl[k]);
        ok &= fabs(f_used - fl[k]) <= 1e-4 * fabs(fl[k]);
        /* post-processing alone, on the reference network outputs */
        assert_int_equal(fathom_dp_postprocess(cref, fref[0], k ? fl[1] : 0.0, img->height, img->width, depth, NULL),
                         FATHOM_OK);
        snprintf(label, sizeof label, "  %s (reference network output)", files[k]);
        ok &= tu_check(label, depth, dref, n, 1e-4, 1e-5);
        free(depth), free(dref);
    }
    tu_free_refs(st.refs, st.nrefs);
    free(canon), free(cref), free(fref);
    fathom_backend_free(&be);
    for (int v = 0; v < 3; v++) free(blocks[v]);
    free(base);
    fathom_dp_free(&h);
    return ok;
}

static int run_case(const char *dir, const char *cname) {
    int ok = 1;
    printf("== %s\n", cname);
    fathom_image img = {0};
    if (fathom_image_load(tu_path(dir, "input.png"), 0, &img) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    const int N = FATHOM_DP_NET;
    float *x = malloc((size_t)3 * N * N * sizeof(float));
    assert_int_equal(fathom_dp_preprocess(img.rgb, img.height, img.width, img.stride, x), FATHOM_OK);
    size_t n;
    float *pv = load_npy_any(tu_path(dir, "pixel_values_s5.npy"), &n);
    int s5 = (N + 4) / 5;
    assert_int_equal(n, (size_t)3 * s5 * s5);
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < s5; y++)
            for (int xx = 0; xx < s5; xx++) {
                double dd = fabs((double)x[((size_t)c * N + 5 * y) * N + 5 * xx] - pv[((size_t)c * s5 + y) * s5 + xx]);
                if (dd > worst) worst = dd;
            }
    printf("  pixel_values_s5: max|d| %.3g\n", worst);
    ok &= worst <= 1e-5;
    ok &= run_weights(dir, tu_path(dir, "model.pth"), x, &img, 0);
    ok &= run_weights(dir, tu_path(dir, "hf"), x, &img, 1);
    free(pv), free(x);
    fathom_image_free(&img);
    return ok;
}

static void test_golden_depthpro(void **state) {
    (void)state;
    char root[4096];
    snprintf(root, sizeof root, "%s/../golden-depthpro", tu_golden_dir());
    DIR *d = opendir(root);
    if (!d) fail_msg("no golden-depthpro folder at %s", root);
    int cases = 0, ok = 1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char dir[4096 + 256];
        struct stat sb;
        snprintf(dir, sizeof dir, "%s/%s", root, de->d_name);
        if (stat(tu_path(dir, "case.json"), &sb) != 0) continue;
        ok &= run_case(dir, de->d_name);
        cases++;
    }
    closedir(d);
    assert_true(cases > 0);
    assert_true(ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden_depthpro)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
