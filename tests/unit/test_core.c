/* test_core.c - status messages, errno mapping and the tracked allocator. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/status.h"

static void test_status_text(void **state) {
    (void)state;
    for (int s = 0; s < FATHOM_STATUS_COUNT; s++) assert_non_null(fathom_strerror((fathom_status)s));
    assert_string_equal(fathom_strerror((fathom_status)999), "unknown status");
    assert_int_equal(fathom_fail(FATHOM_ERR_FORMAT, "%s: bad %d", "x.pth", 3), FATHOM_ERR_FORMAT);
    assert_string_equal(fathom_last_error(), "x.pth: bad 3");
    assert_int_equal(fathom_status_from_errno(ENOSPC), FATHOM_ERR_DISK_FULL);
    assert_int_equal(fathom_status_from_errno(ENOENT), FATHOM_ERR_NOT_FOUND);
}

static void test_alloc_counts(void **state) {
    (void)state;
    size_t before = fathom_alloc_current();
    void *p = fathom_alloc(1000);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    assert_int_equal(fathom_alloc_current(), before + 1000);
    assert_true(fathom_alloc_peak() >= before + 1000);
    fathom_free_sized(p, 1000);
    assert_int_equal(fathom_alloc_current(), before);
    fathom_free_sized(NULL, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_alloc_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
