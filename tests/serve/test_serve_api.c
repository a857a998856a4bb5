/* test_serve_api.c - the public serve section of fathom.h, used as a host program would (this
 * file includes no internal header): settings validated with the key named, the config file
 * text round-trips, a model that fails to load changes nothing, and a worker started and
 * stopped FATHOM_SERVE_CYCLES times (default 50) in one process serves every time and leaves
 * no thread behind (ASan builds also check for leaks). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "fathom.h"
#include "serve_status.h"
#include "test_util.h"

static void test_config(void **state) {
    (void)state;
    fathom_serve_config *c = NULL, *d = NULL;
    assert_int_equal(fathom_serve_config_new(&c), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "colormap", "turbo"), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "record", "/tmp/x.mkv"), FATHOM_OK);
    assert_int_not_equal(fathom_serve_config_set(c, "colourmap", "turbo"), FATHOM_OK);
    assert_non_null(strstr(fathom_last_error(), "colourmap"));
    assert_int_not_equal(fathom_serve_config_set(c, "input_size", "-3"), FATHOM_OK);
    assert_non_null(strstr(fathom_last_error(), "input_size"));
    char *y = fathom_serve_config_yaml(c);
    assert_non_null(y);
    assert_non_null(strstr(y, "colormap: turbo"));
    assert_int_equal(fathom_serve_config_new(&d), FATHOM_OK);
    assert_int_equal(fathom_serve_config_load_yaml(d, y, strlen(y)), FATHOM_OK);
    char *y2 = fathom_serve_config_yaml(d);
    assert_string_equal(y, y2);
    assert_int_not_equal(fathom_serve_config_load_yaml(d, "input_size: [1,2]\n", 18), FATHOM_OK);
    free(y);
    free(y2);
    fathom_serve_config_free(&c);
    fathom_serve_config_free(&d);
    fathom_serve_config_free(&d); /* NULL again: no-op */
    assert_int_equal(fathom_serve_host_needs_token("127.0.0.1"), 0);
    assert_int_equal(fathom_serve_host_needs_token("::1"), 0);
    assert_int_not_equal(fathom_serve_host_needs_token("0.0.0.0"), 0);
}

static int threads(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_cycles(void **state) {
    (void)state;
    fathom_model *m = NULL;
    const char *mp = tu_golden_file("tiny-hf/model");
    if (!mp || !tu_golden_file("tiny-hf/input.png")) skip();
    if (fathom_model_load(mp, NULL, &m) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_serve_config *c = NULL;
    assert_int_equal(fathom_serve_config_new(&c), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "source", tu_golden_file("tiny-hf/input.png")), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "loop", "true"), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "input_size", "56"), FATHOM_OK);
    fathom_serve_params p = serve_test_params(m, c);
    const char *env = getenv("FATHOM_SERVE_CYCLES");
    int n = env ? atoi(env) : 50, base = -1;
    for (int i = 0; i < n; i++) {
        fathom_server *s = NULL;
        if (fathom_serve_start(&p, &s) != FATHOM_OK) fail_msg("cycle %d: %s", i, fathom_last_error());
        int port = fathom_serve_port(s);
        assert_true(port > 0);
        long long f = -1;
        for (int t = 0; t < 600 && (f = serve_analysed(port)) < 1; t++) usleep(50 * 1000);
        if (f < 1) fail_msg("cycle %d: no frame analysed in 30 s", i);
        if (i == 0) { /* a model that does not load: refused, the worker serves on */
            fathom_serve_config *bad = NULL;
            assert_int_equal(fathom_serve_config_new(&bad), FATHOM_OK);
            assert_int_equal(fathom_serve_config_load_yaml(bad, "model: /no/such/model\n", 22), FATHOM_OK);
            assert_int_not_equal(fathom_serve_set_config(s, bad), FATHOM_OK);
            assert_non_null(strstr(fathom_last_error(), "/no/such/model"));
            fathom_serve_config_free(&bad);
            long long f2 = f;
            for (int t = 0; t < 600 && (f2 = serve_analysed(port)) <= f; t++) usleep(50 * 1000);
            assert_true(f2 > f);
        }
        fathom_serve_stop(&s);
        assert_null(s);
        /* the first cycle leaves the engine's thread pool (OpenMP) behind; after that every
         * stop must come back to the same count */
        if (i == 0) base = threads();
        else if (threads() != base) fail_msg("cycle %d: %d threads after stop, %d after the first", i, threads(), base);
    }
    printf("%d start/stop cycles, %d threads after each\n", n, base);
    fathom_serve_config_free(&c);
    fathom_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_config), cmocka_unit_test(test_cycles)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
