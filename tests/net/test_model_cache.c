/* test_model_cache.c - model names -> cache folders, downloads from a fake Hugging Face hub
 * (tests/tools/http_server.py serving the golden tiny-hf model files). No real internet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "net/hub.h"
#include "net_server.h"

static net_server srv;
static char hub_dir[4096];
static const char *dead_endpoint = "http://127.0.0.1:1"; /* nothing listens on port 1 */

static const char *golden_file(const char *name) {
    static char p[4200];
    snprintf(p, sizeof p, "%s/%s", hub_dir, name);
    return p;
}

static void sha256_hex(const unsigned char *d, size_t n, char hex[65]) {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(d, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Server-side counter or last Range of a path, read with the fetcher. */
static char *server_query(const char *kind, const char *path) {
    fathom_fetcher *f = NULL;
    assert_int_equal(fathom_fetcher_create(NULL, &f), FATHOM_OK);
    char u[512];
    snprintf(u, sizeof u, "%s/%s%s", srv.base, kind, path);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fathom_fetch_url(f, u, &d, &n), FATHOM_OK);
    fathom_fetcher_free(&f);
    return (char *)d;
}

static int server_hits(const char *path) {
    char *s = server_query("_hits", path);
    int h = atoi(s);
    free(s);
    return h;
}

static void assert_same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *da = net_read_file(a, &na), *db = net_read_file(b, &nb);
    assert_non_null(da);
    assert_non_null(db);
    assert_int_equal(na, nb);
    assert_memory_equal(da, db, na);
    free(da);
    free(db);
}

typedef struct progress_log {
    int calls;
    int64_t last_done, last_total;
    char last_file[32];
} progress_log;

static void on_progress(void *user, const char *file, int64_t done, int64_t total) {
    progress_log *p = user;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    snprintf(p->last_file, sizeof p->last_file, "%s", file);
}

static void test_names(void **state) {
    assert_string_equal(fathom_model_repo("small"), "depth-anything/Depth-Anything-V2-Small-hf");
    assert_string_equal(fathom_model_repo("large"), "depth-anything/Depth-Anything-V2-Large-hf");
    assert_string_equal(fathom_model_repo("metric-indoor-base"),
                        "depth-anything/Depth-Anything-V2-Metric-Indoor-Base-hf");
    assert_string_equal(fathom_model_repo("metric-outdoor-large"),
                        "depth-anything/Depth-Anything-V2-Metric-Outdoor-Large-hf");
    assert_string_equal(fathom_model_repo("depth-pro"), "apple/DepthPro-hf");
    assert_string_equal(fathom_model_repo("video-small"), "depth-anything/Video-Depth-Anything-Small");
    assert_string_equal(fathom_model_repo("video-metric-large"),
                        "depth-anything/Metric-Video-Depth-Anything-Large");
    assert_null(fathom_model_repo("huge"));
    assert_null(fathom_model_repo(NULL));
    int n = 0;
    for (const char *const *p = fathom_model_names(); *p; p++, n++)
        assert_non_null(fathom_model_repo(*p));
    assert_int_equal(n, 16); /* 9 DA-V2, Depth Pro, 6 Video Depth Anything */
}

static void test_paths_and_unknown_names(void **state) {
    char out[4096];
    const char *cfg = golden_file("config.json");
    assert_int_equal(fathom_model_resolve(cfg, NULL, out, sizeof out), FATHOM_OK);
    assert_string_equal(out, cfg);
    assert_int_equal(fathom_model_resolve(hub_dir, NULL, out, sizeof out), FATHOM_OK);
    assert_string_equal(out, hub_dir);
    char tiny[4];
    assert_int_equal(fathom_model_resolve(cfg, NULL, tiny, sizeof tiny), FATHOM_ERR_INVALID_ARG);
    fathom_resolve_opts o = {.endpoint = dead_endpoint, .offline = 1, .cache_dir = "/nonexistent"};
    assert_int_equal(fathom_model_resolve("no-such-model.pth", &o, out, sizeof out),
                     FATHOM_ERR_NOT_FOUND);
    assert_non_null(strstr(fathom_last_error(), "no-such-model.pth"));
    assert_non_null(strstr(fathom_last_error(), "metric-outdoor-large")); /* lists the names */
}

static void test_cache_dir_env(void **state) {
    char *dir = tu_mkdtemp();
    char out[4096], want[4200];
    const char *old = getenv("XDG_CACHE_HOME");
    char *saved = old ? strdup(old) : NULL;
    setenv("XDG_CACHE_HOME", dir, 1);
    assert_int_equal(fathom_model_cache_dir(NULL, out, sizeof out), FATHOM_OK);
    snprintf(want, sizeof want, "%s/fathom", dir);
    assert_string_equal(out, want);
    fathom_resolve_opts o = {.cache_dir = "/some/where/"};
    assert_int_equal(fathom_model_cache_dir(&o, out, sizeof out), FATHOM_OK);
    assert_string_equal(out, "/some/where");
    unsetenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (home) {
        assert_int_equal(fathom_model_cache_dir(NULL, out, sizeof out), FATHOM_OK);
        snprintf(want, sizeof want, "%s/.cache/fathom", home);
        assert_string_equal(out, want);
    }
    if (saved) setenv("XDG_CACHE_HOME", saved, 1);
    free(saved);
    tu_rmtree(dir);
    free(dir);
}

static void test_download_then_cached(void **state) {
    char *cache = tu_mkdtemp();
    progress_log pl = {0};
    fathom_resolve_opts o = {.cache_dir = cache, .endpoint = srv.base, .progress = on_progress,
                             .progress_user = &pl};
    char out[4096], folder[4200], p[4300];
    snprintf(folder, sizeof folder, "%s/Depth-Anything-V2-Small-hf", cache);
    const char *blob_path = "/depth-anything/Depth-Anything-V2-Small-hf/resolve/main/model.safetensors";
    int before = server_hits(blob_path);

    assert_int_equal(fathom_model_resolve(NULL, &o, out, sizeof out), FATHOM_OK); /* NULL = small */
    assert_string_equal(out, folder);
    snprintf(p, sizeof p, "%s/config.json", folder);
    assert_same_file(p, golden_file("config.json"));
    snprintf(p, sizeof p, "%s/model.safetensors", folder);
    assert_same_file(p, golden_file("model.safetensors"));
    snprintf(p, sizeof p, "%s/model.safetensors.incomplete", folder);
    assert_false(net_file_exists(p));
    assert_int_equal(server_hits(blob_path), before + 1);
    /* the last report is the finished model file */
    size_t model_n = 0;
    free(net_read_file(golden_file("model.safetensors"), &model_n));
    assert_true(pl.calls >= 1);
    assert_string_equal(pl.last_file, "model.safetensors");
    assert_int_equal(pl.last_done, (int64_t)model_n);
    assert_int_equal(pl.last_total, (int64_t)model_n);

    /* second time: no network at all (the endpoint is dead) */
    fathom_resolve_opts dead = {.cache_dir = cache, .endpoint = dead_endpoint};
    assert_int_equal(fathom_model_resolve("small", &dead, out, sizeof out), FATHOM_OK);
    assert_string_equal(out, folder);
    fathom_resolve_opts off = {.cache_dir = cache, .offline = 1};
    assert_int_equal(fathom_model_resolve("small", &off, out, sizeof out), FATHOM_OK);
    assert_int_equal(server_hits(blob_path), before + 1);
    tu_rmtree(cache);
    free(cache);
}

static void test_endpoint_from_env(void **state) {
    char *cache = tu_mkdtemp();
    char out[4096], p[4300];
    setenv("FATHOM_HF_ENDPOINT", srv.base, 1);
    fathom_resolve_opts o = {.cache_dir = cache};
    assert_int_equal(fathom_model_resolve("metric-outdoor-base", &o, out, sizeof out), FATHOM_OK);
    unsetenv("FATHOM_HF_ENDPOINT");
    snprintf(p, sizeof p, "%s/Depth-Anything-V2-Metric-Outdoor-Base-hf/model.safetensors", cache);
    assert_same_file(p, golden_file("model.safetensors"));
    tu_rmtree(cache);
    free(cache);
}

static void test_resume_partial(void **state) {
    char *cache = tu_mkdtemp();
    char out[4096], folder[4200], part[4300], final[4300];
    snprintf(folder, sizeof folder, "%s/Depth-Anything-V2-Base-hf", cache);
    assert_int_equal(mkdir(folder, 0755), 0);
    size_t n = 0;
    unsigned char *ref = net_read_file(golden_file("model.safetensors"), &n);
    assert_non_null(ref);
    snprintf(part, sizeof part, "%s/model.safetensors.incomplete", folder);
    assert_int_equal(net_write_file(part, ref, n / 3), 0);

    fathom_resolve_opts o = {.cache_dir = cache, .endpoint = srv.base};
    assert_int_equal(fathom_model_resolve("base", &o, out, sizeof out), FATHOM_OK);
    snprintf(final, sizeof final, "%s/model.safetensors", folder);
    assert_same_file(final, golden_file("model.safetensors"));
    assert_false(net_file_exists(part));
    char hex[65], blob[128], want[64];
    sha256_hex(ref, n, hex);
    snprintf(blob, sizeof blob, "/blobs/%s", hex);
    snprintf(want, sizeof want, "bytes=%zu-", n / 3);
    char *rng = server_query("_range", blob);
    assert_string_equal(rng, want); /* only the rest was asked for */
    free(rng);

    /* a partial that is not a prefix of the real file: resumed, then refused by SHA-256 */
    tu_rmtree(folder);
    assert_int_equal(mkdir(folder, 0755), 0);
    memset(ref, 0xAB, n / 2);
    assert_int_equal(net_write_file(part, ref, n / 2), 0);
    assert_int_equal(fathom_model_resolve("base", &o, out, sizeof out), FATHOM_ERR_FORMAT);
    assert_false(net_file_exists(final));
    assert_false(net_file_exists(part)); /* deleted, so the next run starts clean */
    /* ... and the next run succeeds */
    assert_int_equal(fathom_model_resolve("base", &o, out, sizeof out), FATHOM_OK);
    assert_same_file(final, golden_file("model.safetensors"));
    free(ref);
    tu_rmtree(cache);
    free(cache);
}

static void test_sha_mismatch_refused(void **state) {
    char *cache = tu_mkdtemp();
    char out[4096] = "unchanged", endpoint[128], final[4300], part[4320];
    snprintf(endpoint, sizeof endpoint, "%s/corrupt/", srv.base); /* trailing slash is fine */
    fathom_resolve_opts o = {.cache_dir = cache, .endpoint = endpoint};
    assert_int_equal(fathom_model_resolve("large", &o, out, sizeof out), FATHOM_ERR_FORMAT);
    assert_string_equal(out, "");
    assert_non_null(strstr(fathom_last_error(), "model.safetensors"));
    assert_non_null(strstr(fathom_last_error(), "SHA-256"));
    snprintf(final, sizeof final, "%s/Depth-Anything-V2-Large-hf/model.safetensors", cache);
    snprintf(part, sizeof part, "%s.incomplete", final);
    assert_false(net_file_exists(final));
    assert_false(net_file_exists(part));
    tu_rmtree(cache);
    free(cache);
}

static void test_redirect_before_hub_answer(void **state) {
    char *cache = tu_mkdtemp();
    char out[4096], endpoint[128], final[4300];
    /* the SHA-256 comes from the hub's redirect, not from the first (renaming) redirect ... */
    snprintf(endpoint, sizeof endpoint, "%s/renamed", srv.base);
    fathom_resolve_opts o = {.cache_dir = cache, .endpoint = endpoint};
    assert_int_equal(fathom_model_resolve("small", &o, out, sizeof out), FATHOM_OK);
    snprintf(final, sizeof final, "%s/Depth-Anything-V2-Small-hf/model.safetensors", cache);
    assert_same_file(final, golden_file("model.safetensors"));
    tu_rmtree(cache);
    /* ... and is still checked there */
    snprintf(endpoint, sizeof endpoint, "%s/renamed/corrupt", srv.base);
    assert_int_equal(fathom_model_resolve("small", &o, out, sizeof out), FATHOM_ERR_FORMAT);
    assert_false(net_file_exists(final));
    tu_rmtree(cache);
    free(cache);
}

static void test_longer_than_announced_refused(void **state) {
    char *cache = tu_mkdtemp();
    char out[4096], endpoint[128], final[4300], part[4320];
    snprintf(endpoint, sizeof endpoint, "%s/longer", srv.base);
    fathom_resolve_opts o = {.cache_dir = cache, .endpoint = endpoint};
    assert_int_equal(fathom_model_resolve("small", &o, out, sizeof out), FATHOM_ERR_FORMAT);
    assert_non_null(strstr(fathom_last_error(), "model.safetensors"));
    assert_non_null(strstr(fathom_last_error(), "longer"));
    snprintf(final, sizeof final, "%s/Depth-Anything-V2-Small-hf/model.safetensors", cache);
    snprintf(part, sizeof part, "%s.incomplete", final);
    assert_false(net_file_exists(final));
    assert_false(net_file_exists(part));
    tu_rmtree(cache);
    free(cache);
}

static void test_offline_error_names_file_and_folder(void **state) {
    char *cache = tu_mkdtemp();
    char out[4096], folder[4200], url[256];
    snprintf(folder, sizeof folder, "%s/Depth-Anything-V2-Small-hf", cache);
    fathom_resolve_opts o = {.cache_dir = cache, .endpoint = dead_endpoint};
    assert_int_equal(fathom_model_resolve("small", &o, out, sizeof out), FATHOM_ERR_NETWORK);
    const char *msg = fathom_last_error();
    snprintf(url, sizeof url, "%s/depth-anything/Depth-Anything-V2-Small-hf/resolve/main/config.json",
             dead_endpoint);
    assert_non_null(strstr(msg, url));
    assert_non_null(strstr(msg, "model.safetensors"));
    assert_non_null(strstr(msg, "depth-anything/Depth-Anything-V2-Small-hf"));
    assert_non_null(strstr(msg, folder));
    char part[4320];
    snprintf(part, sizeof part, "%s/config.json.incomplete", folder);
    assert_false(net_file_exists(part)); /* no empty leftovers */

    /* missing on the hub: the 404 is named too */
    fathom_resolve_opts hub404 = {.cache_dir = cache, .endpoint = srv.base};
    char base404[128];
    snprintf(base404, sizeof base404, "%s/nohub", srv.base);
    hub404.endpoint = base404;
    assert_int_equal(fathom_model_resolve("small", &hub404, out, sizeof out), FATHOM_ERR_NETWORK);
    assert_non_null(strstr(fathom_last_error(), "HTTP 404"));

    /* downloads off: nothing is fetched, the message says what to place where */
    fathom_resolve_opts off = {.cache_dir = cache, .endpoint = srv.base, .offline = 1};
    assert_int_equal(fathom_model_resolve("metric-indoor-small", &off, out, sizeof out),
                     FATHOM_ERR_NOT_FOUND);
    assert_non_null(strstr(fathom_last_error(), "Depth-Anything-V2-Metric-Indoor-Small-hf/"));
    assert_non_null(strstr(fathom_last_error(), "model.safetensors"));
    int before = server_hits("/depth-anything/Depth-Anything-V2-Small-hf/resolve/main/config.json");
    setenv("FATHOM_OFFLINE", "1", 1);
    off.offline = 0;
    assert_int_equal(fathom_model_resolve("small", &off, out, sizeof out), FATHOM_ERR_NOT_FOUND);
    unsetenv("FATHOM_OFFLINE");
    assert_int_equal(
        server_hits("/depth-anything/Depth-Anything-V2-Small-hf/resolve/main/config.json"), before);
    tu_rmtree(cache);
    free(cache);
}

static void test_cancel(void **state) {
    char *cache = tu_mkdtemp();
    char out[4096];
    atomic_int cancel = 1;
    fathom_resolve_opts o = {.cache_dir = cache, .endpoint = srv.base, .cancel = &cancel};
    assert_int_equal(fathom_model_resolve("small", &o, out, sizeof out), FATHOM_ERR_INTERRUPTED);
    tu_rmtree(cache);
    free(cache);
}

static int setup(void **state) {
    snprintf(hub_dir, sizeof hub_dir, "%s/tiny-hf/model", tu_golden_dir());
    return net_server_start(&srv, NULL, hub_dir);
}

static int teardown(void **state) {
    net_server_stop(&srv);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_paths_and_unknown_names),
        cmocka_unit_test(test_cache_dir_env),
        cmocka_unit_test(test_download_then_cached),
        cmocka_unit_test(test_endpoint_from_env),
        cmocka_unit_test(test_resume_partial),
        cmocka_unit_test(test_sha_mismatch_refused),
        cmocka_unit_test(test_redirect_before_hub_answer),
        cmocka_unit_test(test_longer_than_announced_refused),
        cmocka_unit_test(test_offline_error_names_file_and_folder),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
