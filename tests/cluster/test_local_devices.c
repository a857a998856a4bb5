/* test_local_devices.c - GPU binding of `--device local[:K]`: which local rank a process is
 * (launcher environment) and which of the visible devices it takes. No GPU needed: the
 * devices are counted from CUDA_VISIBLE_DEVICES, as the CUDA runtime counts them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "fathom.h"

typedef struct want {
    int lr, ls, per, visible, first, count, shared;
} want;

static void test_mapping(void **state) {
    (void)state;
    unsetenv("CUDA_VISIBLE_DEVICES"); /* set: a rank seeing exactly K devices was bound to them */
    const want w[] = {
        {0, 2, 0, 4, 0, 2, 0}, {1, 2, 0, 4, 2, 2, 0},   /* an even share: 2 each */
        {2, 4, 1, 8, 2, 1, 0}, {3, 4, 2, 8, 6, 2, 0},   /* K each, disjoint blocks */
        {1, 3, 0, 8, 2, 2, 0},                          /* 8 / 3: 2 each, 2 left idle */
        {0, 4, 0, 1, 0, 1, 1}, {3, 4, 0, 1, 0, 1, 1},   /* more ranks than devices */
        {4, 5, 1, 3, 1, 1, 1},                          /* round robin: 4 -> 4 % 3 */
        {1, 4, 2, 2, 0, 2, 1},                          /* a rank sees exactly its K */
        {0, 1, 0, 4, 0, 4, 0},                          /* one rank takes every device */
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        int first = -1, count = -1, shared = -1;
        assert_int_equal(fathom_local_devices(w[i].lr, w[i].ls, w[i].per, w[i].visible, &first,
                                              &count, &shared), FATHOM_OK);
        assert_int_equal(first, w[i].first);
        assert_int_equal(count, w[i].count);
        assert_int_equal(shared, w[i].shared);
    }
    int f, c, sh;
    setenv("CUDA_VISIBLE_DEVICES", "5,7", 1); /* Slurm --gpus-per-task=2: this rank's own two */
    assert_int_equal(fathom_local_devices(1, 4, 2, 2, &f, &c, &sh), FATHOM_OK);
    assert_int_equal(f, 0), assert_int_equal(c, 2), assert_int_equal(sh, 0);
    unsetenv("CUDA_VISIBLE_DEVICES");
    assert_int_equal(fathom_local_devices(0, 2, 1, 0, &f, &c, &sh), FATHOM_ERR_DEVICE);
    assert_int_equal(fathom_local_devices(0, 2, 3, 2, &f, &c, &sh), FATHOM_ERR_INVALID_ARG);
    assert_int_equal(fathom_local_devices(2, 2, 1, 2, &f, &c, &sh), FATHOM_ERR_INVALID_ARG);
}

/* every rank of a machine gets disjoint devices while there are enough of them */
static void test_disjoint(void **state) {
    (void)state;
    for (int ls = 1; ls <= 8; ls++)
        for (int v = ls; v <= 16; v++) {
            int used[16] = {0};
            for (int lr = 0; lr < ls; lr++) {
                int f, c, sh;
                assert_int_equal(fathom_local_devices(lr, ls, 0, v, &f, &c, &sh), FATHOM_OK);
                assert_int_equal(sh, 0);
                assert_true(c >= 1 && c == v / ls);
                for (int j = 0; j < c; j++) assert_int_equal(used[(f + j) % v]++, 0);
            }
        }
}

static void test_environment(void **state) {
    (void)state;
    int lr, ls;
    unsetenv("OMPI_COMM_WORLD_LOCAL_RANK"), unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    unsetenv("SLURM_LOCALID"), unsetenv("SLURM_TASKS_PER_NODE");
    fathom_local_rank(&lr, &ls);
    assert_int_equal(lr, 0), assert_int_equal(ls, 1);
    setenv("SLURM_LOCALID", "2", 1), setenv("SLURM_TASKS_PER_NODE", "4(x3)", 1);
    fathom_local_rank(&lr, &ls);
    assert_int_equal(lr, 2), assert_int_equal(ls, 4);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1), setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "3", 1);
    fathom_local_rank(&lr, &ls); /* mpirun's wins over Slurm's */
    assert_int_equal(lr, 1), assert_int_equal(ls, 3);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "5", 1); /* not below the size: not trusted */
    fathom_local_rank(&lr, &ls);
    assert_int_equal(lr, 2), assert_int_equal(ls, 4);
    setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3", 1);
    assert_int_equal(fathom_cuda_visible_count(), 4);
    setenv("CUDA_VISIBLE_DEVICES", "GPU-5d1a,GPU-77b0", 1); /* UUIDs count too */
    assert_int_equal(fathom_cuda_visible_count(), 2);
    setenv("CUDA_VISIBLE_DEVICES", "3,-1,2", 1); /* the runtime stops at an invalid entry */
    assert_int_equal(fathom_cuda_visible_count(), 1);
    setenv("CUDA_VISIBLE_DEVICES", "", 1);
    assert_int_equal(fathom_cuda_visible_count(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_disjoint),
        cmocka_unit_test(test_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
