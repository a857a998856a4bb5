/* test_public_api.c - the public calls the CLI is built on (fathom.h only, as the CLI; the log
 * callback is tested through the binary in test_cli_habits.sh):
 * network-size cap, device probe / auto, model names, NDJSON message lines,
 * video options set by name (times as HH:MM:SS), the scale-out calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fathom.h"

static void test_network_cap(void **state) {
    (void)state;
    int h, w, uh, uw;
    /* ordinary shapes: untouched, equal to the official size */
    for (int i = 0; i < 4; i++) {
        static const int s[4][2] = {{480, 640}, {1080, 1920}, {518, 518}, {100, 355}};
        fathom_network_size(s[i][0], s[i][1], 518, &uh, &uw);
        assert_int_equal(fathom_network_size_capped(s[i][0], s[i][1], 518,
                                                     FATHOM_DEFAULT_MAX_NETWORK_PIXELS, &h, &w), 0);
        assert_int_equal(h, uh);
        assert_int_equal(w, uw);
    }
    /* 4000x100 (w x h): 518x20720 uncapped; capped keeps the aspect within one patch */
    fathom_network_size(100, 4000, 518, &uh, &uw);
    assert_int_equal(uh, 518);
    assert_int_equal(uw, 20720);
    assert_int_equal(fathom_network_size_capped(100, 4000, 518, 1048576, &h, &w), 1);
    assert_true((uint64_t)h * w <= 1048576);
    assert_true((uint64_t)h * w > 1048576 / 2); /* not needlessly small */
    assert_int_equal(h % 14, 0);
    assert_int_equal(w % 14, 0);
    double a0 = 20720.0 / 518, a1 = (double)w / h;
    assert_true(a1 > a0 * 0.9 && a1 < a0 * 1.1);
    /* no cap, and a cap below one patch row still gives a valid network size */
    assert_int_equal(fathom_network_size_capped(100, 4000, 518, 0, &h, &w), 0);
    assert_int_equal(w, 20720);
    assert_int_equal(fathom_network_size_capped(100, 4000, 518, 14 * 14 * 3, &h, &w), 1);
    assert_true(h >= 14 && w >= 14 && (uint64_t)h * w <= 14 * 14 * 3);
}

static void test_device_probe_and_auto(void **state) {
    (void)state;
    assert_int_equal(fathom_device_probe(FATHOM_DEVICE_CPU, 0), FATHOM_OK);
    int cpu = -1;
    fathom_engine_params ep = fathom_device_auto(&cpu);
    fathom_status cuda = fathom_device_probe(FATHOM_DEVICE_CUDA, 0);
    assert_int_equal(cpu, cuda != FATHOM_OK);
    assert_int_equal(ep.device, cuda == FATHOM_OK ? FATHOM_DEVICE_CUDA : FATHOM_DEVICE_CPU);
    if (cuda != FATHOM_OK) assert_true(strlen(fathom_last_error()) > 0); /* says why */
    assert_int_not_equal(fathom_device_probe(FATHOM_DEVICE_CUDA, 999), FATHOM_OK);
}

static void test_model_names(void **state) {
    (void)state;
    const char *small = "depth-anything/Depth-Anything-V2-Small-hf";
    assert_string_equal(fathom_model_repo("small"), small);
    assert_string_equal(fathom_model_repo("vits"), small);
    assert_string_equal(fathom_model_repo("ViTS"), small);
    assert_string_equal(fathom_model_repo(small), small);
    assert_string_equal(fathom_model_repo("Depth-Anything-V2-Small-hf"), small);
    assert_string_equal(fathom_model_repo("vitl"), "depth-anything/Depth-Anything-V2-Large-hf");
    assert_string_equal(fathom_model_repo("metric-outdoor-vitb"),
                        "depth-anything/Depth-Anything-V2-Metric-Outdoor-Base-hf");
    assert_null(fathom_model_repo("vitg"));
    assert_null(fathom_model_repo("other/Depth-Anything-V2-Small-hf"));
    assert_null(fathom_model_repo(NULL));
}

static void test_json_message(void **state) {
    (void)state;
    char line[256];
    fathom_progress_json_message("warning", "a \"quoted\"\nline", line, sizeof line);
    assert_string_equal(line, "{\"event\":\"message\",\"level\":\"warning\","
                              "\"text\":\"a \\\"quoted\\\"\\nline\"}\n");
}

static void test_video_opts_by_name(void **state) {
    (void)state;
    fathom_video_opts *o = NULL;
    assert_int_equal(fathom_video_opts_create(&o), FATHOM_OK);
    assert_int_equal(fathom_video_opts_set(o, "start", "1:02:03.5"), 1);
    assert_int_equal(fathom_video_opts_set(o, "end", "90"), 1);
    assert_int_equal(fathom_video_opts_set(o, "end", "01:30"), 1);
    assert_int_equal(fathom_video_opts_set(o, "start", "1:60"), -1);   /* SS below 60 */
    assert_non_null(strstr(fathom_last_error(), "not a time"));
    assert_int_equal(fathom_video_opts_set(o, "start", "-3"), -1);
    assert_int_equal(fathom_video_opts_set(o, "start", "1.5:00"), -1); /* ms only last */
    assert_int_equal(fathom_video_opts_set(o, "start", "1:2:3:4"), -1);
    char path[] = "depth.mkv"; /* the options keep their own copy */
    assert_int_equal(fathom_video_opts_set(o, "video", path), 1);
    path[0] = 'X';
    assert_int_equal(fathom_video_opts_set(o, "crf", "99"), -1);
    assert_int_equal(fathom_video_opts_set(o, "no-such-key", "1"), 0);
    fathom_video_opts_free(&o);
    assert_null(o);
    fathom_video_opts_free(&o); /* accepts NULL */
}

/* scale-out: shards partition the positions; MPI calls exist in every build */
static void test_scale_out(void **state) {
    (void)state;
    int k = -1, n = -1;
    assert_int_equal(fathom_shard_parse("2/3", &k, &n), FATHOM_OK);
    assert_int_equal(k, 1);
    assert_int_equal(n, 3);
    assert_int_not_equal(fathom_shard_parse("4/3", &k, &n), FATHOM_OK);
    /* the library names the setting, not the CLI's flag (cli_flag_words shows "--shard") */
    assert_non_null(strstr(fathom_last_error(), "shard K/N 4/3"));
    assert_null(strstr(fathom_last_error(), "--"));
    assert_int_not_equal(fathom_shard_parse("x", &k, &n), FATHOM_OK);
    for (uint64_t pos = 0; pos < 20; pos++) {
        int owners = 0;
        for (int i = 0; i < 3; i++) owners += fathom_shard_takes(pos, i, 3) != 0;
        assert_int_equal(owners, 1);
        assert_true(fathom_shard_takes(pos, 0, 1));
    }
    const char *none[1] = {"/nonexistent/report.json"};
    assert_int_not_equal(fathom_report_merge(none, 1, "/nonexistent/m.json", NULL), FATHOM_OK);
#ifndef FATHOM_HAVE_MPI
    int rank = -1, size = -1;
    assert_int_equal(fathom_mpi_init(NULL, NULL, &rank, &size), FATHOM_ERR_UNSUPPORTED);
    assert_non_null(strstr(fathom_last_error(), "built without MPI"));
    fathom_chunk_run_result res;
    assert_int_equal(fathom_mpi_video_run(NULL, NULL, "x.mp4", NULL, 2, 0, 0, &res),
                     FATHOM_ERR_UNSUPPORTED);
    assert_int_equal(fathom_mpi_images_serve_start(3), FATHOM_ERR_UNSUPPORTED);
    assert_int_equal(fathom_mpi_images_serve_end(), 0);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_cap),       cmocka_unit_test(test_device_probe_and_auto),
        cmocka_unit_test(test_model_names),       cmocka_unit_test(test_json_message),
        cmocka_unit_test(test_video_opts_by_name), cmocka_unit_test(test_scale_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
