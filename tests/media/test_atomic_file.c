/* test_atomic_file.c - the internal atomic writing API other stages reuse: temp name in the
 * target directory, commit renames, abort leaves nothing, long names, pwrite; mkdir -p. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/atomic_file.h"
#include "test_util.h"

static char *dir;

static int setup(void **state) {
    (void)state;
    dir = tu_mkdtemp();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static int entries(const char *d) {
    DIR *dd = opendir(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(dd));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(dd);
    return n;
}

static void read_all(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void test_commit_and_abort(void **state) {
    (void)state;
    const char *path = tu_path(dir, "out.txt");
    fathom_atomic_file f;
    assert_int_equal(fathom_atomic_open(&f, path), FATHOM_OK);
    /* the temp lives next to the target, hidden, and the target does not exist yet */
    assert_true(strncmp(f.tmp_path, dir, strlen(dir)) == 0);
    assert_non_null(strstr(f.tmp_path, "/.out.txt.fathom-tmp-"));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(fathom_atomic_write(&f, "hello world", 11), FATHOM_OK);
    assert_int_equal(fathom_atomic_pwrite(&f, "W", 1, 6), FATHOM_OK);
    assert_int_equal(fathom_atomic_commit(&f), FATHOM_OK);
    assert_null(f.tmp_path);
    char buf[64];
    read_all(path, buf, sizeof buf);
    assert_string_equal(buf, "hello World");
    assert_int_equal(entries(dir), 1);

    /* abort: previous content stays, temp removed; abort accepts a released file */
    assert_int_equal(fathom_atomic_open(&f, path), FATHOM_OK);
    assert_int_equal(fathom_atomic_write(&f, "partial", 7), FATHOM_OK);
    assert_int_equal(entries(dir), 2);
    fathom_atomic_abort(&f);
    fathom_atomic_abort(&f);
    fathom_atomic_abort(NULL);
    read_all(path, buf, sizeof buf);
    assert_string_equal(buf, "hello World");
    assert_int_equal(entries(dir), 1);

    /* two open at once get distinct temp names */
    fathom_atomic_file a, b;
    assert_int_equal(fathom_atomic_open(&a, path), FATHOM_OK);
    assert_int_equal(fathom_atomic_open(&b, path), FATHOM_OK);
    assert_string_not_equal(a.tmp_path, b.tmp_path);
    fathom_atomic_abort(&a);
    fathom_atomic_abort(&b);
    assert_int_equal(entries(dir), 1);
}

static void test_long_name_and_errors(void **state) {
    (void)state;
    char name[251];
    memset(name, 'n', 250);
    name[250] = '\0';
    const char *path = tu_path(dir, name);
    assert_int_equal(fathom_atomic_write_file(path, "x", 1), FATHOM_OK);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);

    const char *missing = tu_path(dir, "no/such/dir/f.bin");
    fathom_atomic_file f;
    assert_int_equal(fathom_atomic_open(&f, missing), FATHOM_ERR_NOT_FOUND);
    assert_non_null(strstr(fathom_last_error(), missing));
    assert_int_equal(fathom_atomic_open(&f, ""), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_atomic_open(&f, tu_path(dir, "trailing/")), FATHOM_ERR_INVALID_ARG);
}

static void test_mkdir(void **state) {
    (void)state;
    const char *deep = tu_path(dir, "a/b/c/");
    assert_int_equal(fathom_mkdir_p(deep), FATHOM_OK);
    assert_int_equal(fathom_mkdir_p(deep), FATHOM_OK); /* existing is fine */
    struct stat st;
    assert_int_equal(stat(tu_path(dir, "a/b/c"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(fathom_mkdir_parents(tu_path(dir, "x/y/file.png")), FATHOM_OK);
    assert_int_equal(stat(tu_path(dir, "x/y"), &st), 0);
    assert_int_equal(access(tu_path(dir, "x/y/file.png"), F_OK), -1);
    assert_int_equal(fathom_mkdir_parents("file.png"), FATHOM_OK); /* no directory part */
    /* a regular file in the way is named in the error */
    const char *file = tu_path(dir, "plain");
    assert_int_equal(fathom_atomic_write_file(file, "", 0), FATHOM_OK);
    const char *under = tu_path(dir, "plain/sub");
    assert_int_equal(fathom_mkdir_p(under), FATHOM_ERR_IO);
    assert_non_null(strstr(fathom_last_error(), "plain"));
    assert_non_null(strstr(fathom_last_error(), "not a directory"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_abort),
        cmocka_unit_test(test_long_name_and_errors),
        cmocka_unit_test(test_mkdir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
