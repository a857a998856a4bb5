/* test_depthpro_weights.c - Depth Pro weight loading: both formats give the same tensors, and
 * bad files (truncated, a wrong shape, a renamed or mistyped tensor, a contradicting config,
 * no config for a non-released size, Depth Anything V2 weights and the reverse) fail with a
 * message naming the file and the first bad tensor. Files are real golden weights, edited
 * byte for byte in a temporary folder. The slot table moves every tensor (device uploads). */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fathom.h"
#include "model/depthpro.h"
#include "model/weights.h"
#include "test_util.h"

static char *tmp;

static const char *case_dir(void) {
    static char d[4096];
    snprintf(d, sizeof d, "%s/../golden-depthpro/tiny", tu_golden_dir());
    return d;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* A copy of the HF folder in tmp/<name> with `from` replaced by `to` (same length) once in
 * model.safetensors, or truncated to `keep` bytes when keep > 0. */
static const char *hf_variant(const char *name, const char *from, const char *to, size_t keep) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    assert_int_equal(tu_sh("mkdir -p '%s' && cp '%s/hf/config.json' '%s/'", dir, case_dir(), dir), 0);
    size_t n;
    uint8_t *b = slurp(tu_path(case_dir(), "hf/model.safetensors"), &n);
    if (from) {
        assert_int_equal(strlen(from), strlen(to));
        uint8_t *hit = memmem(b, n, from, strlen(from));
        assert_non_null(hit);
        memcpy(hit, to, strlen(to));
    }
    spit(tu_path(dir, "model.safetensors"), b, keep ? keep : n);
    free(b);
    return dir;
}

static void expect_fail(const char *path, fathom_status want, const char *needle) {
    fathom_dp_weights *w = NULL;
    fathom_status st = fathom_dp_load(path, &w);
    printf("  %s -> %s: %s\n", path, fathom_strerror(st), fathom_last_error());
    assert_null(w);
    if (want != FATHOM_OK) assert_int_equal(st, want);
    else assert_int_not_equal(st, FATHOM_OK);
    assert_non_null(strstr(fathom_last_error(), needle));
}

static int setup(void **s) {
    (void)s;
    tmp = tu_mkdtemp();
    return tmp ? 0 : -1;
}

static int teardown(void **s) {
    (void)s;
    tu_rmtree(tmp);
    free(tmp);
    return 0;
}

static void test_both_formats_agree(void **s) {
    (void)s;
    fathom_dp_weights *a = NULL, *b = NULL;
    if (fathom_dp_load(tu_path(case_dir(), "model.pth"), &a) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    if (fathom_dp_load(tu_path(case_dir(), "hf"), &b) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    assert_string_equal(a->format, "pth");
    assert_string_equal(b->format, "hf-folder");
    assert_int_equal(a->params, 405096); /* README: 279 tensors, 405,096 values */
    assert_int_equal(b->params, a->params);
    /* architecture from shapes and hf/config.json (README "The tiny architecture") */
    for (int v = 0; v < 3; v++) {
        assert_int_equal(a->vit[v].D, 32);
        assert_int_equal(a->vit[v].depth, 4);
        assert_int_equal(a->vit[v].heads, 2);
        assert_int_equal(a->vit[v].mlp, 128);
    }
    assert_int_equal(a->hooks[0], 1);
    assert_int_equal(a->hooks[1], 2);
    int d[4] = {24, 32, 40, 48};
    for (int k = 0; k < 4; k++) assert_int_equal(a->d[k], d[k]);
    assert_int_equal(a->dec, 16);
    assert_int_equal(a->fov_c, 8);
    /* same slots in the same order: the arenas must be byte-identical (qkv re-packed) */
    assert_int_equal(a->arena_bytes, b->arena_bytes);
    assert_memory_equal(a->arena, b->arena, a->arena_bytes);
    fathom_dp_free(&a);
    fathom_dp_free(&b);
}

static void test_bad_tensors(void **s) {
    (void)s;
    expect_fail(hf_variant("shape", "\"fov_model.head.layers.4.weight\":{\"dtype\":\"F32\",\"shape\":[1,2,6,6]",
                           "\"fov_model.head.layers.4.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,6,6]", 0),
                FATHOM_ERR_SHAPE, "fov_model.head.layers.4.weight");
    expect_fail(hf_variant("name", "\"fov_model.conv.bias\"", "\"fov_model.conX.bias\"", 0), FATHOM_ERR_FORMAT,
                "fov_model.conX.bias");
    expect_fail(hf_variant("dtype", "\"fov_model.conv.bias\":{\"dtype\":\"F32\"", "\"fov_model.conv.bias\":{\"dtype\":\"I32\"", 0),
                FATHOM_ERR_UNSUPPORTED, "fov_model.conv.bias");
    /* a config that contradicts the shapes */
    const char *dir = hf_variant("config", NULL, NULL, 0);
    assert_int_equal(tu_sh("sed -i 's/\"num_hidden_layers\": 4/\"num_hidden_layers\": 5/' '%s/config.json'", dir), 0);
    expect_fail(dir, FATHOM_ERR_SHAPE, "layers");
}

static void test_truncated(void **s) {
    (void)s;
    size_t n;
    uint8_t *b = slurp(tu_path(case_dir(), "hf/model.safetensors"), &n);
    free(b);
    expect_fail(hf_variant("trunc", NULL, NULL, n / 2), FATHOM_OK, "model.safetensors");
    b = slurp(tu_path(case_dir(), "model.pth"), &n);
    char path[4096];
    snprintf(path, sizeof path, "%s/trunc.pth", tmp);
    spit(path, b, n / 2);
    free(b);
    expect_fail(path, FATHOM_OK, "trunc.pth");
}

static void test_pth_without_config(void **s) {
    (void)s;
    /* a tiny .pth alone: shapes cannot give the heads, and it is not the released size */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/alone", tmp);
    assert_int_equal(tu_sh("mkdir -p '%s' && cp '%s/model.pth' '%s/'", dir, case_dir(), dir), 0);
    expect_fail(tu_path(dir, "model.pth"), FATHOM_ERR_UNSUPPORTED, "config.json");
}

static void test_cross_family(void **s) {
    (void)s;
    /* Depth Anything V2 weights given as Depth Pro */
    expect_fail(tu_path(tu_golden_dir(), "vits-pth/model.pth"), FATHOM_ERR_UNSUPPORTED, "Depth Anything V2");
    expect_fail(tu_path(tu_golden_dir(), "tiny-hf/model"), FATHOM_ERR_UNSUPPORTED, "Depth Anything V2");
    /* Depth Pro weights given to the Depth Anything V2 loader */
    fathom_weights *w = NULL;
    fathom_status st = fathom_weights_load(tu_path(case_dir(), "model.pth"), NULL, &w);
    printf("  DA-V2 loader on Depth Pro: %s\n", fathom_last_error());
    assert_int_not_equal(st, FATHOM_OK);
    assert_null(w);
    assert_non_null(strstr(fathom_last_error(), "Depth Pro checkpoint"));
}

/* The slot table moves every tensor: each field of the view sits at its offset in the new
 * base, and a table missing one field is refused rather than leaving a host pointer.
 * (test_depthpro_golden runs the network through such a view.) */
static void test_rebase(void **s) {
    (void)s;
    fathom_dp_weights *h = NULL;
    if (fathom_dp_load(tu_path(case_dir(), "hf"), &h) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    assert_int_equal(h->n_fields, 279); /* README: 279 tensors */
    char *base = malloc(h->arena_bytes);
    fathom_block_weights *blocks[3];
    for (int v = 0; v < 3; v++) blocks[v] = calloc((size_t)h->vit[v].depth, sizeof *blocks[v]);
    fathom_dp_weights view;
    if (fathom_dp_rebase(h, base, &view, blocks) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    const char *a = h->arena;
    assert_ptr_equal(view.arena, base);
    assert_ptr_equal(view.fov_head_w[2], base + ((char *)h->fov_head_w[2] - a));
    assert_ptr_equal(view.vit[2].blocks[3].fc2_w, base + ((char *)h->vit[2].blocks[3].fc2_w - a));
    assert_ptr_equal(view.vit[0].cls, base + ((char *)h->vit[0].cls - a));
    h->n_fields--;
    assert_int_equal(fathom_dp_rebase(h, base, &view, blocks), FATHOM_ERR_INTERNAL);
    printf("  one slot dropped: %s\n", fathom_last_error());
    h->n_fields++;
    for (int v = 0; v < 3; v++) free(blocks[v]);
    free(base);
    fathom_dp_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_formats_agree), cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_truncated), cmocka_unit_test(test_pth_without_config),
        cmocka_unit_test(test_cross_family), cmocka_unit_test(test_rebase),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
