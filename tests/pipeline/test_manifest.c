/* test_manifest.c - OUTDIR/.fathom-manifest (pipeline/manifest.h) and the input guard
 * (pipeline/input_guard.h) on real files: ownership, persistence, escaping, torn lines,
 * canonical input ids, identity through symlinks and hard links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/input_guard.h"
#include "pipeline/manifest.h"
#include "test_util.h"

static char *dir;

static int setup(void **state) {
    (void)state;
    dir = tu_mkdtemp();
    return dir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void test_owner_and_reload(void **state) {
    (void)state;
    char out[4096];
    snprintf(out, sizeof out, "%s", tu_path(dir, "o1"));
    mkdir(out, 0777);
    fathom_manifest *m = NULL;
    assert_int_equal(fathom_manifest_open(out, &m), FATHOM_OK);
    assert_int_equal(fathom_manifest_owner(m, "a.npy", "/in/a.png"), FATHOM_OWNER_NONE);
    assert_int_equal(fathom_manifest_record(m, "a.npy", "/in/a.png"), FATHOM_OK);
    assert_int_equal(fathom_manifest_owner(m, "a.npy", "/in/a.png"), FATHOM_OWNER_SELF);
    assert_int_equal(fathom_manifest_owner(m, "a.npy", "/in/a.jpg"), FATHOM_OWNER_OTHER);
    /* names with the escaped bytes survive a reload */
    const char *odd_src = "/in/t\tab\\back\nnew\rcr.png", *odd_out = "sub/t\tab\\x\ny.npy";
    assert_int_equal(fathom_manifest_record(m, odd_out, odd_src), FATHOM_OK);
    /* many records: the table grows */
    char a[64], b[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(a, sizeof a, "f%d.npy", i);
        snprintf(b, sizeof b, "/in/f%d.png", i);
        assert_int_equal(fathom_manifest_record(m, a, b), FATHOM_OK);
    }
    /* re-recording an output for another input moves it; a repeat writes nothing */
    assert_int_equal(fathom_manifest_record(m, "a.npy", "/in/a.jpg"), FATHOM_OK);
    fathom_manifest_free(&m);
    assert_null(m);
    struct stat st0;
    assert_int_equal(stat(tu_path(out, FATHOM_MANIFEST_NAME), &st0), 0);

    assert_int_equal(fathom_manifest_open(out, &m), FATHOM_OK);
    assert_int_equal(fathom_manifest_owner(m, "a.npy", "/in/a.jpg"), FATHOM_OWNER_SELF);
    assert_int_equal(fathom_manifest_owner(m, "a.npy", "/in/a.png"), FATHOM_OWNER_OTHER);
    assert_int_equal(fathom_manifest_owner(m, odd_out, odd_src), FATHOM_OWNER_SELF);
    assert_int_equal(fathom_manifest_owner(m, "f2999.npy", "/in/f2999.png"), FATHOM_OWNER_SELF);
    assert_int_equal(fathom_manifest_record(m, "f7.npy", "/in/f7.png"), FATHOM_OK);
    fathom_manifest_free(&m);
    struct stat st1;
    assert_int_equal(stat(tu_path(out, FATHOM_MANIFEST_NAME), &st1), 0);
    assert_int_equal(st0.st_size, st1.st_size); /* already recorded: not appended again */
}

static void test_torn_line(void **state) {
    (void)state;
    char out[4096];
    snprintf(out, sizeof out, "%s", tu_path(dir, "o2"));
    mkdir(out, 0777);
    FILE *f = fopen(tu_path(out, FATHOM_MANIFEST_NAME), "w");
    assert_non_null(f);
    fputs("/in/a.png\ta.npy\nno tab here\n/in/b.png\tb.n", f); /* killed mid-append */
    fclose(f);
    fathom_manifest *m = NULL;
    assert_int_equal(fathom_manifest_open(out, &m), FATHOM_OK);
    assert_int_equal(fathom_manifest_owner(m, "a.npy", "/in/a.png"), FATHOM_OWNER_SELF);
    assert_int_equal(fathom_manifest_owner(m, "b.n", "/in/b.png"), FATHOM_OWNER_NONE);
    assert_int_equal(fathom_manifest_owner(m, "b.npy", "/in/b.png"), FATHOM_OWNER_NONE);
    fathom_manifest_free(&m);
    /* NULL manifest: nothing recorded, nothing owned */
    assert_int_equal(fathom_manifest_owner(NULL, "a.npy", "x"), FATHOM_OWNER_NONE);
    assert_int_equal(fathom_manifest_record(NULL, "a.npy", "x"), FATHOM_OK);
}

static void test_source_id(void **state) {
    (void)state;
    char sub[2048], a[4096], b[4096], c[4096];
    snprintf(sub, sizeof sub, "%.2000s", tu_path(dir, "ids"));
    mkdir(sub, 0777);
    snprintf(a, sizeof a, "%s/x/../a.png", sub);
    mkdir(tu_path(sub, "x"), 0777);
    fathom_manifest_source_id(a, b, sizeof b);
    snprintf(a, sizeof a, "%s/./a.png", sub);
    fathom_manifest_source_id(a, c, sizeof c);
    assert_string_equal(b, c);
    assert_null(strstr(b, ".."));
    /* a symlinked file keeps its own name */
    symlink("a.png", tu_path(sub, "s.png"));
    fathom_manifest_source_id(tu_path(sub, "s.png"), c, sizeof c);
    assert_string_not_equal(b, c);
    /* URLs and unresolvable folders stay as given */
    fathom_manifest_source_id("http://h/a.png?q=1", c, sizeof c);
    assert_string_equal(c, "http://h/a.png?q=1");
    fathom_manifest_source_id("/no/such/dir/a.png", c, sizeof c);
    assert_string_equal(c, "/no/such/dir/a.png");
}

static void test_input_guard(void **state) {
    (void)state;
    char in[2048], img[4096], hard[4096], soft[4096], other[4096];
    snprintf(in, sizeof in, "%.2000s", tu_path(dir, "guard"));
    mkdir(in, 0777);
    snprintf(img, sizeof img, "%s/a.png", in);
    snprintf(hard, sizeof hard, "%s/hard.png", in);
    snprintf(soft, sizeof soft, "%s/soft.png", in);
    snprintf(other, sizeof other, "%s/other.png", in);
    FILE *f = fopen(img, "w");
    fputs("x", f);
    fclose(f);
    f = fopen(other, "w");
    fputs("y", f);
    fclose(f);
    assert_int_equal(link(img, hard), 0);
    assert_int_equal(symlink("a.png", soft), 0);
    const char *inputs[] = {"http://h/x.png", img, "-"};
    assert_int_equal(fathom_path_is_input(hard, inputs, 3), 1);
    assert_int_equal(fathom_path_is_input(soft, inputs, 3), 1);
    assert_int_equal(fathom_path_is_input(other, inputs, 3), 0);
    assert_int_equal(fathom_path_is_input(tu_path(in, "missing.png"), inputs, 3), 0);
    /* the output folder may not be an input folder, in any spelling */
    char dots[4096];
    snprintf(dots, sizeof dots, "%s/../guard/", in);
    const char *folders[] = {dots};
    assert_int_equal(fathom_outdir_check(in, NULL, folders, 1), FATHOM_ERR_INVALID_ARG);
    assert_non_null(strstr(fathom_last_error(), "is the input folder"));
    assert_int_equal(fathom_outdir_check(tu_path(in, "depth"), NULL, folders, 1), FATHOM_OK);
    /* nor the report an input */
    assert_int_equal(fathom_outdir_check(tu_path(in, "depth"), hard, inputs, 3),
                     FATHOM_ERR_INVALID_ARG);
    fathom_input_ids *ids = NULL;
    assert_int_equal(fathom_input_ids_collect(inputs, 3, &ids), FATHOM_OK);
    struct stat st;
    assert_int_equal(stat(hard, &st), 0);
    assert_int_equal(fathom_input_ids_has(ids, &st), 1);
    assert_int_equal(stat(other, &st), 0);
    assert_int_equal(fathom_input_ids_has(ids, &st), 0);
    fathom_input_ids_free(&ids);
    assert_null(ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_and_reload),
        cmocka_unit_test(test_torn_line),
        cmocka_unit_test(test_source_id),
        cmocka_unit_test(test_input_guard),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
