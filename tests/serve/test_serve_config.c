/* test_serve_config.c - the settings parsers of `fathom serve`: JSON patches and the YAML file
 * are validated all-or-nothing, name the bad key, and the written file loads back the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "serve/config.h"
#include "serve/serve.h"

static void test_patch_ok(void **state) {
    (void)state;
    sv_config c;
    char err[300];
    sv_config_defaults(&c);
    const char *j = "{\"colormap\":\"turbo\",\"invert\":true,\"input_size\":70,\"target_util\":42.5,"
                    "\"source\":\"udp://127.0.0.1:5000\",\"max_body\":\"2M\"}";
    assert_int_equal(sv_config_patch_json(&c, j, strlen(j), err, sizeof err), 0);
    assert_int_equal(c.colormap, FATHOM_CMAP_TURBO);
    assert_int_equal(c.invert, 1);
    assert_int_equal(c.input_size, 70);
    assert_true(c.target_util == 42.5);
    assert_string_equal(c.source, "udp://127.0.0.1:5000");
    assert_int_equal(c.max_body, 2u << 20);
}

static void test_patch_all_or_nothing(void **state) {
    (void)state;
    sv_config c, before;
    char err[300];
    sv_config_defaults(&c);
    before = c;
    const char *bad[] = {"{\"colormap\":\"turbo\",\"input_size\":0}", "{\"invert\":\"maybe\"}",
                         "{\"nope\":1}", "[1,2]", "{", "", "{\"input_size\":70.5}",
                         "{\"colormap\":null}", "{\"max_res\":1e400}", "{\"source\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(sv_config_patch_json(&c, bad[i], strlen(bad[i]), err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_memory_equal(&c, &before, sizeof c);
    }
    sv_config_patch_json(&c, bad[0], strlen(bad[0]), err, sizeof err);
    assert_non_null(strstr(err, "input_size"));
    sv_config_patch_json(&c, bad[2], strlen(bad[2]), err, sizeof err);
    assert_non_null(strstr(err, "nope"));
}

static void test_yaml_roundtrip(void **state) {
    (void)state;
    sv_config c, d;
    char err[300];
    sv_config_defaults(&c);
    snprintf(c.source, sizeof c.source, "file \"with\" quotes\\and: colon #hash");
    c.colormap = FATHOM_CMAP_INFERNO;
    c.realtime = 1;
    c.target_util = 0.71111111111111; /* 15 digits do not read back: the file keeps 17 */
    char *y = sv_config_to_yaml(&c);
    assert_non_null(y);
    assert_non_null(strstr(y, "# ")); /* commented */
    sv_config_defaults(&d);
    assert_int_equal(sv_config_load_yaml(&d, y, strlen(y), err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
    free(y);
}

static void test_yaml_errors(void **state) {
    (void)state;
    sv_config c, before;
    char err[300];
    sv_config_defaults(&c);
    before = c;
    const char *bad[] = {"colormap: [unclosed\n", "invert: true\ncolormap: purple\n",
                         "nested:\n  a: 1\n", "- a\n- b\n", "a: &x 1\nb: *x\n", "input_size: 1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sv_config_load_yaml(&c, bad[i], strlen(bad[i]), err, sizeof err), -1);
        assert_memory_equal(&c, &before, sizeof c);
    }
    assert_int_equal(sv_config_load_yaml(&c, "", 0, err, sizeof err), 0); /* empty file: defaults */
    assert_int_equal(sv_config_load_yaml(&c, "loop: yes\n", 10, err, sizeof err), 0);
    assert_int_equal(c.loop, 1);
}

/* Strings take printable UTF-8 only: YAML line breaks (U+2028 from "\L", NEL), C1 controls,
 * BOM, surrogates, overlong forms and bytes past U+10FFFF are refused by both parsers (the
 * fuzzer's round-trip crash was "\L" folded on reload); other non-ASCII text round-trips. */
static void test_string_chars(void **state) {
    (void)state;
    sv_config c, before, d;
    char err[300];
    sv_config_defaults(&c);
    before = c;
    const char *bad_yaml[] = {"source: \"0\\L\ndu\"\n", "source: \"a\\Pb\"\n", "source: \"a\\Nb\"\n",
                              "source: \"a\\x85b\"\n", "source: \"a\\uFEFFb\"\n", "model: \"a\\x9fb\"\n"};
    for (size_t i = 0; i < sizeof bad_yaml / sizeof bad_yaml[0]; i++) {
        err[0] = '\0';
        assert_int_equal(sv_config_load_yaml(&c, bad_yaml[i], strlen(bad_yaml[i]), err, sizeof err), -1);
        assert_non_null(strstr(err, "UTF-8"));
        assert_memory_equal(&c, &before, sizeof c);
    }
    const char *bad_json[] = {"{\"source\":\"a\\u2028b\"}", "{\"record\":\"a\\u0085b\"}",
                              "{\"source\":\"a\xed\xa0\x80z\"}", "{\"source\":\"a\xc0\xafz\"}",
                              "{\"source\":\"a\xf4\x90\x80\x80z\"}", "{\"source\":\"a\xe0\x80\xafz\"}"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        err[0] = '\0';
        assert_int_equal(sv_config_patch_json(&c, bad_json[i], strlen(bad_json[i]), err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_memory_equal(&c, &before, sizeof c);
    }
    const char *ok = "{\"source\":\"/srv/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xa5.mp4\"}";
    assert_int_equal(sv_config_patch_json(&c, ok, strlen(ok), err, sizeof err), 0);
    char *y = sv_config_to_yaml(&c);
    assert_non_null(y);
    sv_config_defaults(&d);
    assert_int_equal(sv_config_load_yaml(&d, y, strlen(y), err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
    free(y);
}

static void test_token_rule(void **state) {
    (void)state;
    assert_false(sv_host_needs_token("127.0.0.1"));
    assert_false(sv_host_needs_token("::1"));
    assert_false(sv_host_needs_token("localhost"));
    assert_true(sv_host_needs_token("0.0.0.0"));
    assert_true(sv_host_needs_token("127.0.0.2"));
    assert_true(sv_host_needs_token("::"));
    assert_true(sv_host_needs_token("192.168.1.5"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch_ok), cmocka_unit_test(test_patch_all_or_nothing),
        cmocka_unit_test(test_yaml_roundtrip), cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_string_chars),
        cmocka_unit_test(test_token_rule)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
