/* test_progress.c - progress text: the terminal bar and NDJSON events (escaping, nulls), with
 * and without a (real) governor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "governor/governor.h"
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
    fathom_progress_json_stats(&s, 1, NULL, 0, line, sizeof line);
    assert_non_null(strstr(line, "\"event\":\"summary\""));
    assert_non_null(strstr(line, "\"total\":null"));
    assert_non_null(strstr(line, "\"eta_s\":null"));
    assert_non_null(strstr(line, "\"fatal\":null"));
    assert_int_equal(line[strlen(line) - 1], '\n');
}

/* The governor fragment outranks the queue fill and the bar graphic on a narrow line. */
static void test_bar_extra(void **state) {
    (void)state;
    fathom_run_stats s;
    memset(&s, 0, sizeof s);
    s.total = 300;
    s.finished = s.done = 120;
    s.elapsed_s = 10;
    const char *gov = "target 50% util 49.8% batch 4 pause 0.20s";
    char line[512];
    fathom_progress_bar_extra(&s, gov, 400, line, sizeof line);
    assert_non_null(strstr(line, "[########............] 120/300"));
    assert_non_null(strstr(line, "ETA 0:15  target 50% util 49.8% batch 4 pause 0.20s  q 0/0"));
    fathom_progress_bar_extra(&s, gov, 79, line, sizeof line); /* no queue fill, no graphic */
    assert_string_equal(line, "120/300  12.0 img/s  ETA 0:15  target 50% util 49.8% batch 4 "
                              "pause 0.20s");
    fathom_progress_bar_extra(&s, "", 400, line, sizeof line); /* "" = the plain bar */
    char plain[512];
    fathom_progress_bar(&s, 400, plain, sizeof plain);
    assert_string_equal(line, plain);
}

/* Stats events carry the governor's target and each slot's advice. */
static void test_json_governor(void **state) {
    (void)state;
    fathom_governor_params gp = fathom_governor_default_params();
    gp.target_util = 50;
    gp.batch_max = 3;
    fathom_governor *g = NULL;
    assert_int_equal(fathom_governor_create(&gp, &g), FATHOM_OK);
    int batch = 3;
    double pause = -1;
    fathom_governor_advise(g, 0, &batch, &pause);
    fathom_governor_record(g, 0, 0.01, batch);
    fathom_run_stats s;
    memset(&s, 0, sizeof s);
    char line[4096], want[64];
    fathom_progress_json_stats(&s, 0, g, 1, line, sizeof line);
    assert_non_null(strstr(line, "\"governor\":{\"target_util\":50,\"slots\":[{\"slot\":0,"));
    snprintf(want, sizeof want, "\"batch\":%d,", batch);
    assert_non_null(strstr(line, want));
    assert_true(batch >= 1 && batch <= 3);
    assert_non_null(strstr(line, "\"util_limit_hits\":0,\"mem_limit_hits\":0}]}}\n"));
    fathom_governor_free(&g);
    fathom_progress_json_stats(&s, 0, g, 1, line, sizeof line); /* g NULL: no field */
    assert_null(strstr(line, "governor"));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bar), cmocka_unit_test(test_bar_extra),
                                       cmocka_unit_test(test_json),
                                       cmocka_unit_test(test_json_governor)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
