/* test_progress.c - progress text: the terminal bar and NDJSON events (escaping, nulls). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pipeline/progress.h"

static void test_bar(void **state) {
    (void)state;
    fathom_run_stats s;
    memset(&s, 0, sizeof s);
    s.total = 10;
    s.finished = 5;
    s.done = 4;
    s.failed = 1;
    s.elapsed_s = 2.5;
    s.queue_fill[1] = 3;
    s.queue_cap[0] = s.queue_cap[1] = s.queue_cap[2] = 4;
    char line[256];
    fathom_progress_bar(&s, 200, line, sizeof line);
    assert_non_null(strstr(line, "[##########..........]"));
    assert_non_null(strstr(line, "5/10"));
    assert_non_null(strstr(line, "2.0 img/s"));
    assert_non_null(strstr(line, "ETA 0:03")); /* 5 left at 2/s */
    assert_non_null(strstr(line, "q 0/4 3/4 0/4"));
    assert_non_null(strstr(line, "1 failed"));
    fathom_progress_bar(&s, 10, line, sizeof line);
    assert_int_equal(strlen(line), 10); /* cut to the terminal width */
    s.total = -1;
    fathom_progress_bar(&s, 200, line, sizeof line);
    assert_non_null(strstr(line, "5 done"));
}

static void test_json(void **state) {
    (void)state;
    fathom_item_event ev = {7, "in/we\"ird\n.png", "out/a.npy\nout/a.png", 3,
                            FATHOM_ERR_FORMAT, "in/we\"ird: bad", 0.5};
    char line[1024];
    fathom_progress_json_item(&ev, line, sizeof line);
    assert_string_equal(line, "{\"event\":\"item\",\"index\":7,\"source\":\"in/we\\\"ird\\n.png\","
                              "\"state\":\"failed\",\"outputs\":[\"out/a.npy\",\"out/a.png\"],"
                              "\"error\":\"in/we\\\"ird: bad\",\"seconds\":0.5}\n");
    fathom_run_stats s;
    memset(&s, 0, sizeof s);
    s.total = -1;
    fathom_progress_json_stats(&s, 1, line, sizeof line);
    assert_non_null(strstr(line, "\"event\":\"summary\""));
    assert_non_null(strstr(line, "\"total\":null"));
    assert_non_null(strstr(line, "\"eta_s\":null"));
    assert_non_null(strstr(line, "\"fatal\":null"));
    assert_int_equal(line[strlen(line) - 1], '\n');
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bar), cmocka_unit_test(test_json)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
