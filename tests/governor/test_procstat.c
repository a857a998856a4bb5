/* test_procstat.c - the /proc parsers on real files and on hostile text, the real /proc
 * reader, and fathom_parse_bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "governor/sensor.h"

static void test_proc_stat(void **state) {
    (void)state;
    uint64_t busy, total;
    assert_int_equal(gov_parse_proc_stat("cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 1 2 3 4\n", &busy,
                                         &total), 0);
    assert_int_equal(total, 1000);
    assert_int_equal(busy, 160); /* all but idle + iowait */
    assert_int_equal(gov_parse_proc_stat("cpu 1 2 3 4\n", &busy, &total), 0); /* old kernels */
    assert_int_equal(total, 10);
    const char *bad[] = {"", "cpu", "cpu 1 2 3", "cpux 1 2 3 4", "intr 1 2 3 4",
                         "cpu  -1 2 3 4", "cpu  99999999999999999999999 2 3 4",
                         "cpu  18446744073709551615 18446744073709551615 0 0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(gov_parse_proc_stat(bad[i], &busy, &total), -1);
}

static void test_self_stat(void **state) {
    (void)state;
    double cpu;
    /* comm with spaces and a ')' inside; tpgid -1 (no controlling terminal) */
    const char *ok = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 120 0 0 0 250 50 0 0 20 0 1";
    assert_int_equal(gov_parse_self_stat(ok, 100, &cpu), 0);
    assert_true(cpu == 3.0);
    const char *bad[] = {"", "4242 (x", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 abc 5",
                         "4242 (x)", "4242 (x)  "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(gov_parse_self_stat(bad[i], 100, &cpu), -1);
    assert_int_equal(gov_parse_self_stat(ok, 0, &cpu), -1);
}

static void test_statm(void **state) {
    (void)state;
    size_t rss;
    assert_int_equal(gov_parse_statm("1000 250 30 5 0 100 0\n", 4096, &rss), 0);
    assert_true(rss == 250 * 4096);
    assert_int_equal(gov_parse_statm("1000", 4096, &rss), -1);
    assert_int_equal(gov_parse_statm("x 1", 4096, &rss), -1);
    assert_int_equal(gov_parse_statm("1 18446744073709551615", 4096, &rss), -1);
    assert_int_equal(gov_parse_statm("1 2", 0, &rss), -1);
}

/* The real files of this machine parse, and our CPU time grows with work. */
static void test_real_proc(void **state) {
    (void)state;
    gov_proc_reading a, b;
    assert_int_equal(gov_proc_read(&a), 0);
    assert_true(a.cpu_total > 0 && a.cpu_busy <= a.cpu_total);
    assert_true(a.rss_bytes > 0);
    volatile double x = 0;
    for (long i = 0; i < 300000000L && x >= 0; i++) x += 1e-9 * (double)i;
    assert_int_equal(gov_proc_read(&b), 0);
    assert_true(b.self_cpu_s > a.self_cpu_s);
    assert_true(b.cpu_total >= a.cpu_total);
}

static void test_parse_bytes(void **state) {
    (void)state;
    struct { const char *text; size_t want; } ok[] = {
        {"1048576", 1048576}, {"4G", 4ull << 30}, {"512M", 512ull << 20}, {"300k", 300 * 1024},
        {"1.5GiB", 3ull << 29}, {"2T", 2ull << 40}, {" 7 ", 7}, {"64B", 64}, {"1gb", 1ull << 30},
        {"0", 0}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        size_t v = 1;
        assert_int_equal(fathom_parse_bytes(ok[i].text, &v), FATHOM_OK);
        assert_true(v == ok[i].want);
    }
    const char *bad[] = {"", "G", "-1G", "4X", "4GG", "nan", "inf", "1e30T", "4 G B", "0x10", "1.5.2M"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t v = 1;
        assert_int_equal(fathom_parse_bytes(bad[i], &v), FATHOM_ERR_INVALID_ARG);
        assert_non_null(strstr(fathom_last_error(), "byte size"));
        assert_true(v == 1);
    }
    size_t v;
    assert_int_equal(fathom_parse_bytes(NULL, &v), FATHOM_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_stat),
        cmocka_unit_test(test_self_stat),
        cmocka_unit_test(test_statm),
        cmocka_unit_test(test_real_proc),
        cmocka_unit_test(test_parse_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
