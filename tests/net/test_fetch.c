/* test_fetch.c - fathom_fetch_url / fathom_fetch_to_file against the loopback test server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "net/fetch.h"
#include "net_server.h"

static net_server srv;
static char url_buf[512];

static const char *url(const char *path) {
    snprintf(url_buf, sizeof url_buf, "%s%s", srv.base, path);
    return url_buf;
}

/* Fast limits so failures are quick: 2 retries from 20 ms, 1 MiB, 3 redirects. */
static fathom_fetch_opts test_opts(void) {
    fathom_fetch_opts o = fathom_fetch_default_opts();
    o.connect_timeout_ms = 3000;
    o.timeout_ms = 10000;
    o.retries = 2;
    o.retry_delay_ms = 20;
    o.max_bytes = 1 << 20;
    o.max_redirects = 3;
    return o;
}

static fathom_fetcher *make(const fathom_fetch_opts *o) {
    fathom_fetcher *f = NULL;
    assert_int_equal(fathom_fetcher_create(o, &f), FATHOM_OK);
    assert_non_null(f);
    return f;
}

/* Requests the server saw on path (read through the fetcher itself). */
static int hits(fathom_fetcher *f, const char *path) {
    char u[512];
    snprintf(u, sizeof u, "%s/_hits%s", srv.base, path);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, u, &d, &n), FATHOM_OK);
    int h = atoi((char *)d);
    free(d);
    return h;
}

static void test_is_url(void **state) {
    assert_true(fathom_is_url("http://x/y"));
    assert_true(fathom_is_url("HTTPS://x/y"));
    assert_false(fathom_is_url("ftp://x/y"));
    assert_false(fathom_is_url("file:///etc/passwd"));
    assert_false(fathom_is_url("photo.jpg"));
    assert_false(fathom_is_url(NULL));
}

static void test_success_matches_file(void **state) {
    fathom_fetcher *f = make(NULL);
    size_t ref_n = 0;
    unsigned char *ref =
        net_read_file(tu_path(tu_golden_dir(), "tiny-hf/model/config.json"), &ref_n);
    assert_non_null(ref);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, url("/tiny-hf/model/config.json"), &d, &n), FATHOM_OK);
    assert_int_equal(n, ref_n);
    assert_memory_equal(d, ref, n);
    assert_int_equal(d[n], 0); /* NUL-terminated for text users */
    free(d);
    free(ref);
    fathom_fetcher_free(&f);
    assert_null(f);
    fathom_fetcher_free(&f); /* NULL-safe */
}

static void test_404_names_url(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    uint8_t *d = (uint8_t *)"x";
    size_t n = 7;
    const char *u = url("/no/such/file.jpg");
    assert_int_equal(fathom_fetch_url(f, u, &d, &n), FATHOM_ERR_NETWORK);
    assert_null(d);
    assert_int_equal(n, 0);
    assert_non_null(strstr(fathom_last_error(), "HTTP 404"));
    assert_non_null(strstr(fathom_last_error(), u));
    assert_int_equal(hits(f, "/no/such/file.jpg"), 1); /* 4xx is not retried */
    fathom_fetcher_free(&f);
}

static void test_500_retried_then_fails(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, url("/fail/500"), &d, &n), FATHOM_ERR_NETWORK);
    assert_non_null(strstr(fathom_last_error(), "HTTP 500"));
    assert_int_equal(hits(f, "/fail/500"), 1 + o.retries);
    assert_int_equal(fathom_fetch_url(f, url("/fail/403"), &d, &n), FATHOM_ERR_NETWORK);
    assert_int_equal(hits(f, "/fail/403"), 1);
    fathom_fetcher_free(&f);
}

static void test_flaky_recovers(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, url("/flaky/2/recover"), &d, &n), FATHOM_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(d, "ok", 2);
    free(d);
    assert_int_equal(hits(f, "/flaky/2/recover"), 3);
    /* more failures than retries: gives up with the last cause */
    assert_int_equal(fathom_fetch_url(f, url("/flaky/5/giveup"), &d, &n), FATHOM_ERR_NETWORK);
    assert_non_null(strstr(fathom_last_error(), "HTTP 503"));
    assert_int_equal(hits(f, "/flaky/5/giveup"), 3);
    fathom_fetcher_free(&f);
}

static void test_timeout_on_slow(void **state) {
    fathom_fetch_opts o = test_opts();
    o.timeout_ms = 400;
    o.retries = 0;
    fathom_fetcher *f = make(&o);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, url("/slow/40?ms=100"), &d, &n), FATHOM_ERR_NETWORK);
    assert_null(d);
    assert_non_null(strstr(fathom_last_error(), "/slow/40"));
    fathom_fetcher_free(&f);

    /* no total timeout, but far below the low-speed limit */
    o.timeout_ms = 0;
    o.low_speed_bytes = 1000;
    o.low_speed_time_s = 1;
    f = make(&o);
    assert_int_equal(fathom_fetch_url(f, url("/slow/40?ms=100"), &d, &n), FATHOM_ERR_NETWORK);
    fathom_fetcher_free(&f);
}

static void test_size_limits(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    uint8_t *d = NULL;
    size_t n = 0;
    /* declared by Content-Length */
    assert_int_equal(fathom_fetch_url(f, url("/big/2000000"), &d, &n), FATHOM_ERR_TOO_LARGE);
    assert_null(d);
    assert_non_null(strstr(fathom_last_error(), "/big/2000000"));
    /* streamed without a length */
    assert_int_equal(fathom_fetch_url(f, url("/bigstream/3000000"), &d, &n), FATHOM_ERR_TOO_LARGE);
    assert_null(d);
    /* exactly at the limit is fine, with or without a length */
    assert_int_equal(fathom_fetch_url(f, url("/big/1048576"), &d, &n), FATHOM_OK);
    assert_int_equal(n, 1048576);
    free(d);
    assert_int_equal(fathom_fetch_url(f, url("/nolength/1048576"), &d, &n), FATHOM_OK);
    assert_int_equal(n, 1048576);
    assert_int_equal(d[0], 'x');
    assert_int_equal(d[n - 1], 'x');
    free(d);
    fathom_fetcher_free(&f);
}

static void test_redirects(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, url("/redirect/3"), &d, &n), FATHOM_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(d, "done", 4);
    free(d);
    assert_int_equal(fathom_fetch_url(f, url("/redirect/4"), &d, &n), FATHOM_ERR_NETWORK);
    assert_null(d);
    assert_int_equal(hits(f, "/redirect/4"), 1); /* not retried */
    /* a redirect may not leave http(s) */
    assert_int_equal(fathom_fetch_url(f, url("/redirect-ftp"), &d, &n), FATHOM_ERR_UNSUPPORTED);
    assert_null(d);
    fathom_fetcher_free(&f);
}

static void test_scheme_refused(void **state) {
    fathom_fetcher *f = make(NULL);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, "file:///etc/passwd", &d, &n), FATHOM_ERR_UNSUPPORTED);
    assert_non_null(strstr(fathom_last_error(), "file:///etc/passwd"));
    assert_int_equal(fathom_fetch_url(f, "ftp://127.0.0.1/x", &d, &n), FATHOM_ERR_UNSUPPORTED);
    assert_int_equal(fathom_fetch_url(f, "gopher://127.0.0.1/x", &d, &n), FATHOM_ERR_UNSUPPORTED);
    assert_null(d);
    fathom_fetcher_free(&f);
}

static void test_connection_refused(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    uint8_t *d = NULL;
    size_t n = 0;
    /* port 1 on loopback: nothing listens there */
    assert_int_equal(fathom_fetch_url(f, "http://127.0.0.1:1/x.jpg", &d, &n), FATHOM_ERR_NETWORK);
    assert_non_null(strstr(fathom_last_error(), "http://127.0.0.1:1/x.jpg"));
    fathom_fetcher_free(&f);
}

static void test_cancel(void **state) {
    atomic_int cancel = 1;
    fathom_fetch_opts o = test_opts();
    o.cancel = &cancel;
    fathom_fetcher *f = make(&o);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, url("/slow/100?ms=100"), &d, &n), FATHOM_ERR_INTERRUPTED);
    assert_null(d);
    /* cleared flag: the same fetcher works again */
    atomic_store(&cancel, 0);
    assert_int_equal(fathom_fetch_url(f, url("/redirect/0"), &d, &n), FATHOM_OK);
    free(d);
    fathom_fetcher_free(&f);
}

typedef struct worker {
    fathom_fetcher *f;
    int id, failures;
    size_t ref_n;
    const unsigned char *ref;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    char u[512];
    for (int i = 0; i < 12; i++) {
        uint8_t *d = NULL;
        size_t n = 0;
        switch (i % 3) {
        case 0:
            snprintf(u, sizeof u, "%s/tiny-hf/model/config.json", srv.base);
            if (fathom_fetch_url(w->f, u, &d, &n) != FATHOM_OK || n != w->ref_n ||
                memcmp(d, w->ref, n) != 0)
                w->failures++;
            break;
        case 1:
            snprintf(u, sizeof u, "%s/flaky/1/w%d-%d", srv.base, w->id, i);
            if (fathom_fetch_url(w->f, u, &d, &n) != FATHOM_OK || n != 2) w->failures++;
            break;
        default:
            snprintf(u, sizeof u, "%s/fail/404", srv.base);
            if (fathom_fetch_url(w->f, u, &d, &n) != FATHOM_ERR_NETWORK ||
                !strstr(fathom_last_error(), "HTTP 404"))
                w->failures++;
            break;
        }
        free(d);
    }
    return NULL;
}

static void test_concurrent_threads(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    size_t ref_n = 0;
    unsigned char *ref =
        net_read_file(tu_path(tu_golden_dir(), "tiny-hf/model/config.json"), &ref_n);
    assert_non_null(ref);
    enum { T = 6 };
    pthread_t th[T];
    worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){.f = f, .id = i, .ref = ref, .ref_n = ref_n};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    free(ref);
    fathom_fetcher_free(&f);
}

static void progress_cb(void *user, int64_t done, int64_t total) {
    int64_t *last = user;
    last[0] = done;
    last[1] = total;
}

static void test_to_file_resume(void **state) {
    fathom_fetch_opts o = test_opts();
    fathom_fetcher *f = make(&o);
    const char *model = tu_path(tu_golden_dir(), "tiny-hf/model/model.safetensors");
    size_t ref_n = 0;
    unsigned char *ref = net_read_file(model, &ref_n);
    assert_non_null(ref);
    assert_true(ref_n > 100000);
    char *dir = tu_mkdtemp();
    assert_non_null(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/part", dir);
    assert_int_equal(net_write_file(path, ref, 100000), 0);

    fathom_fetch_meta meta;
    int64_t last[2] = {-2, -2};
    assert_int_equal(fathom_fetch_to_file(f, url("/tiny-hf/model/model.safetensors"), path, 1,
                                          progress_cb, last, &meta),
                     FATHOM_OK);
    size_t got_n = 0;
    unsigned char *got = net_read_file(path, &got_n);
    assert_int_equal(got_n, ref_n);
    assert_memory_equal(got, ref, ref_n);
    free(got);
    assert_int_equal(last[0], (int64_t)ref_n);
    assert_int_equal(last[1], (int64_t)ref_n);
    assert_int_equal(meta.total, (int64_t)ref_n);
    assert_int_equal(meta.http_status, 206);
    uint8_t *d = NULL;
    size_t n = 0;
    char u[512];
    snprintf(u, sizeof u, "%s/_range/tiny-hf/model/model.safetensors", srv.base);
    assert_int_equal(fathom_fetch_url(f, u, &d, &n), FATHOM_OK);
    assert_string_equal((char *)d, "bytes=100000-");
    free(d);

    /* a partial that is already whole: the server answers 416 and the file is kept */
    assert_int_equal(fathom_fetch_to_file(f, url("/tiny-hf/model/model.safetensors"), path, 1,
                                          NULL, NULL, &meta),
                     FATHOM_OK);
    got = net_read_file(path, &got_n);
    assert_int_equal(got_n, ref_n);
    assert_memory_equal(got, ref, ref_n);
    free(got);
    char want[64];
    snprintf(want, sizeof want, "bytes=%zu-", ref_n); /* last request: no fresh full download */
    assert_int_equal(fathom_fetch_url(f, u, &d, &n), FATHOM_OK);
    assert_string_equal((char *)d, want);
    free(d);

    /* without resume the file is rewritten, and a 404 names the URL */
    assert_int_equal(fathom_fetch_to_file(f, url("/redirect/0"), path, 0, NULL, NULL, NULL),
                     FATHOM_OK);
    got = net_read_file(path, &got_n);
    assert_int_equal(got_n, 4);
    free(got);
    assert_int_equal(fathom_fetch_to_file(f, url("/missing.bin"), path, 1, NULL, NULL, NULL),
                     FATHOM_ERR_NETWORK);
    assert_non_null(strstr(fathom_last_error(), "HTTP 404"));

    /* a 206 for other bytes than asked is not spliced in */
    assert_int_equal(net_write_file(path, "01234", 5), 0);
    assert_int_equal(fathom_fetch_to_file(f, url("/badrange"), path, 1, NULL, NULL, NULL),
                     FATHOM_ERR_NETWORK);
    assert_non_null(strstr(fathom_last_error(), "range"));
    got = net_read_file(path, &got_n);
    assert_int_equal(got_n, 5);
    free(got);

    /* unwritable destination names the path */
    snprintf(path, sizeof path, "%s/no/such/dir/file", dir);
    assert_int_not_equal(fathom_fetch_to_file(f, url("/redirect/0"), path, 1, NULL, NULL, NULL),
                         FATHOM_OK);
    assert_non_null(strstr(fathom_last_error(), path));
    tu_rmtree(dir);
    free(dir);
    free(ref);
    fathom_fetcher_free(&f);
}

static int setup(void **state) {
    return net_server_start(&srv, tu_golden_dir(), NULL);
}

static int teardown(void **state) {
    net_server_stop(&srv);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_url),
        cmocka_unit_test(test_success_matches_file),
        cmocka_unit_test(test_404_names_url),
        cmocka_unit_test(test_500_retried_then_fails),
        cmocka_unit_test(test_flaky_recovers),
        cmocka_unit_test(test_timeout_on_slow),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_scheme_refused),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_concurrent_threads),
        cmocka_unit_test(test_to_file_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
