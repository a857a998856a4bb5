/* test_naming.c - output naming rules: format suffixes, stems, folder cleaning, input clashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/naming.h"

static void test_suffixes(void **state) {
    (void)state;
    unsigned all = FATHOM_OUT_NPY | FATHOM_OUT_PNG16 | FATHOM_OUT_PNG8 | FATHOM_OUT_COLOR;
    assert_string_equal(fathom_naming_suffix(all, FATHOM_OUT_NPY), "npy");
    assert_string_equal(fathom_naming_suffix(all, FATHOM_OUT_PNG16), "png");
    assert_string_equal(fathom_naming_suffix(all, FATHOM_OUT_PNG8), "png8.png");
    assert_string_equal(fathom_naming_suffix(all, FATHOM_OUT_COLOR), "color.png");
    unsigned two = FATHOM_OUT_PNG8 | FATHOM_OUT_COLOR;
    assert_string_equal(fathom_naming_suffix(two, FATHOM_OUT_PNG8), "png8.png");
    assert_string_equal(fathom_naming_suffix(two, FATHOM_OUT_COLOR), "color.png");
    assert_string_equal(fathom_naming_suffix(FATHOM_OUT_COLOR, FATHOM_OUT_COLOR), "color.png");
    assert_string_equal(fathom_naming_suffix(FATHOM_OUT_EXR, FATHOM_OUT_EXR), "exr");
    char path[64];
    assert_int_equal(fathom_naming_path("out", "sub/a", two, FATHOM_OUT_COLOR, path, sizeof path),
                     FATHOM_OK);
    assert_string_equal(path, "out/sub/a.color.png");
    assert_int_equal(fathom_naming_path("out", "a-very-long-name-that-does-not-fit", two,
                                        FATHOM_OUT_COLOR, path, 16),
                     FATHOM_ERR_TOO_LARGE);
}

static void test_stem_ext_dirs(void **state) {
    (void)state;
    char b[256];
    fathom_naming_stem("x/y/a.b.jpg", b, sizeof b);
    assert_string_equal(b, "a.b");
    fathom_naming_stem("noext", b, sizeof b);
    assert_string_equal(b, "noext");
    fathom_naming_stem("dir/.jpg", b, sizeof b);
    assert_string_equal(b, ".jpg");
    assert_string_equal(fathom_naming_ext("a/b.c/d"), "");
    assert_string_equal(fathom_naming_ext("a/b.JPEG"), "JPEG");
    b[0] = '\0';
    fathom_naming_clean_dir("../a/./b//../c/img.jpg", b, sizeof b);
    assert_string_equal(b, "a/b/c/"); /* never climbs out of the output folder */
    b[0] = '\0';
    fathom_naming_clean_dir("img.jpg", b, sizeof b);
    assert_string_equal(b, "");
}

static void claim(fathom_names *n, fathom_item *it, const char *src, const char *rel,
                  const char *want) {
    assert_int_equal(fathom_str_set(&it->source, src), FATHOM_OK);
    assert_int_equal(fathom_str_set(&it->rel_out, rel), FATHOM_OK);
    assert_int_equal(fathom_names_claim(n, it), FATHOM_OK);
    assert_string_equal(it->rel_out.s, want);
}

static void test_clashes(void **state) {
    (void)state;
    fathom_names *n;
    fathom_item it;
    fathom_item_init(&it);
    assert_int_equal(fathom_names_create(&n), FATHOM_OK);
    claim(n, &it, "in/a.jpg", "a", "a");
    claim(n, &it, "in/a.png", "a", "a.png");
    claim(n, &it, "other/a.png", "a", "a.png.2");
    claim(n, &it, "third/a.png", "a", "a.png.3");
    claim(n, &it, "in/sub/a.jpg", "sub/a", "sub/a");
    claim(n, &it, "http://h/x/a?q=1", "a", "a.2"); /* no extension: numbers */
    claim(n, &it, "http://h/x/a.jpg?q=1", "a", "a.jpg");
    /* many names: the set grows and keeps every claim */
    char src[64], rel[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(src, sizeof src, "d/f%d.jpg", i);
        snprintf(rel, sizeof rel, "f%d", i);
        claim(n, &it, src, rel, rel);
    }
    claim(n, &it, "e/f4999.jpg", "f4999", "f4999.jpg");
    fathom_names_free(&n);
    assert_null(n);
    fathom_item_destroy(&it);
}

/* Clash across formats: every output file is claimed (x.color png16 vs x color). */
static void test_format_clash(void **state) {
    (void)state;
    fathom_names *n;
    fathom_item it;
    fathom_item_init(&it);
    assert_int_equal(fathom_names_create(&n), FATHOM_OK);
    fathom_names_configure(n, FATHOM_OUT_PNG16 | FATHOM_OUT_COLOR, NULL);
    claim(n, &it, "in/x.color.jpg", "x.color", "x.color"); /* x.color.png, x.color.color.png */
    claim(n, &it, "in/x.jpg", "x", "x.jpg");               /* x.color.png is taken */
    claim(n, &it, "in/y.jpg", "y", "y");
    /* the same input again: a duplicate of index 0, no name claimed */
    fathom_item_reset(&it);
    it.index = 7;
    assert_int_equal(fathom_str_set(&it.source, "in/x.color.jpg"), FATHOM_OK);
    assert_int_equal(fathom_str_set(&it.rel_out, "x.color"), FATHOM_OK);
    assert_int_equal(fathom_names_claim(n, &it), FATHOM_OK);
    assert_int_equal(it.state, FATHOM_ITEM_SKIPPED);
    assert_int_equal(it.dup_of, 0);
    /* control bytes never reach an output name */
    fathom_item_reset(&it);
    claim(n, &it, "in/a\nb.jpg", "a\nb", "a_b");
    fathom_names_free(&n);
    fathom_item_destroy(&it);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suffixes),
        cmocka_unit_test(test_stem_ext_dirs),
        cmocka_unit_test(test_clashes),
        cmocka_unit_test(test_format_clash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
