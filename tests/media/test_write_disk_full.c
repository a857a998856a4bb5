/* test_write_disk_full.c - writing onto a full filesystem (a 64 KiB tmpfs): every format
 * reports FATHOM_ERR_DISK_FULL naming the path, the previous output stays byte-identical and
 * no temporary file is left behind. Needs mount(2) (root); SKIPs where it is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "fathom.h"
#include "test_util.h"

#define SIDE 256 /* 256 KiB of float32 noise: incompressible, four times the filesystem */

static char *dir;
static float *noise;

static int setup(void **state) {
    (void)state;
    dir = tu_mkdtemp();
    if (mount("none", dir, "tmpfs", 0, "size=64k") != 0) {
        char why[256];
        snprintf(why, sizeof why, "cannot mount a tmpfs (%s)", strerror(errno));
        tu_rmtree(dir);
        tu_skip(why);
    }
    noise = malloc(sizeof(float) * SIDE * SIDE);
    tu_fill_random(noise, (size_t)SIDE * SIDE, 42, 100.0f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    umount2(dir, MNT_DETACH);
    tu_rmtree(dir);
    free(dir);
    free(noise);
    return 0;
}

static unsigned char *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*n + 1);
    if (fread(b, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return b;
}

static int count_entries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.' || strstr(e->d_name, "fathom-tmp");
    closedir(d);
    return n;
}

static void test_disk_full_every_format(void **state) {
    (void)state;
    fathom_output_format fmts[] = {FATHOM_OUT_NPY, FATHOM_OUT_NPZ, FATHOM_OUT_PNG16,
                                   FATHOM_OUT_PNG8, FATHOM_OUT_COLOR, FATHOM_OUT_EXR};
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "out.%d.%s", i, fathom_output_ext(fmts[i]));
        const char *path = tu_path(dir, name);
        /* a small previous output that fits */
        assert_int_equal(fathom_depth_write(path, fmts[i], noise, 8, 8, NULL), FATHOM_OK);
        long n0, n1;
        unsigned char *before = slurp(path, &n0);
        assert_non_null(before);
        fathom_status s = fathom_depth_write(path, fmts[i], noise, SIDE, SIDE, NULL);
        if (s != FATHOM_ERR_DISK_FULL)
            fail_msg("%s: expected disk full, got %s: %s", name, fathom_strerror(s), fathom_last_error());
        assert_non_null(strstr(fathom_last_error(), path));
        unsigned char *after = slurp(path, &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(before, after, (size_t)n0);
        assert_int_equal(count_entries(), i + 1); /* the finished outputs, no temp files */
        free(before);
        free(after);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_full_every_format),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
