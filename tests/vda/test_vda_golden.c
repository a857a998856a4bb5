/* test_vda_golden.c - Video Depth Anything against the official PyTorch code
 * (../shared/golden-vda, every case folder with a case.json, so held-out cases run too).
 *
 * Per case: the model loads from model.pth (+ the case's config.json); frames.npy goes
 * through fathom_vda frame by frame; offline: window 0's intermediates, every window's
 * network output at frame size (window_raw.npy), the fitted scale/shift and depth.npy;
 * streaming (when depth_stream.npy exists): every frame's cache entries and depth_stream.npy.
 * Tolerances are the README's; a failure names the first stage and window that diverge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fathom.h"
#include "model/vda_head.h"
#include "model/weights.h"
#include "golden_util.h"
#include "test_util.h"

/* The stored stages; a file that cannot be read fails the test. */
static tu_ref *load_st(const char *path, int *count) {
    tu_ref *r = tu_load_refs(path, count);
    if (!r) fail_msg("%s: cannot read the reference tensors", path);
    return r;
}

/* uint8 or int32 .npy (format 1.0): raw bytes after the header, shape parsed. */
static void *load_npy_raw(const char *path, int64_t shape[4], int *ndim, const char *descr) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char pre[10];
    assert_int_equal(fread(pre, 1, 10, f), 10);
    size_t hl = pre[8] | pre[9] << 8;
    char *h = calloc(1, hl + 1);
    assert_int_equal(fread(h, 1, hl, f), hl);
    assert_non_null(strstr(h, descr));
    const char *p = strstr(h, "'shape': (") + 10;
    *ndim = 0;
    while (*p && *p != ')') {
        shape[(*ndim)++] = strtoll(p, (char **)&p, 10);
        while (*p == ',' || *p == ' ') p++;
    }
    free(h);
    size_t n = 1;
    for (int i = 0; i < *ndim; i++) n *= (size_t)shape[i];
    size_t es = strstr(descr, "i4") ? 4 : 1;
    void *d = malloc(n * es);
    assert_int_equal(fread(d, es, n, f), n);
    fclose(f);
    return d;
}

typedef struct run_state {
    tu_ref *refs;
    int nrefs;
    int window;               /* windows finished (vda.window_raw seen) */
    int64_t frame;            /* streaming: frame whose cache entries arrive */
    const float *wraw;        /* window_raw.npy (n_win, 32, H, W) */
    const float *ss;          /* scale_shift.npy (n_win, 2) */
    int n_win;
    size_t fr;                /* H * W */
    float *depth;             /* (N, H, W) collected */
    int64_t nframes;
    float wraw_maxref;
    char first_bad[128];
    int compared;
} run_state;

static void bad(run_state *st, const char *fmt, ...) {
    if (st->first_bad[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->first_bad, sizeof st->first_bad, fmt, ap);
    va_end(ap);
}

static const int subset[3] = {0, 16, 31};

static void check_ref(run_state *st, tu_ref *r, const float *data, int ndim, const int64_t *shape,
                      const char *name) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    float *cmp = malloc(n * sizeof(float) + 1);
    size_t cn = n;
    if (strncmp(name, "mm", 2) == 0 && ndim == 3) { /* ours (hw, T, C) -> ref (T, hw, C) */
        const int64_t HW = shape[0], T = shape[1], C = shape[2];
        for (int64_t p = 0; p < HW; p++)
            for (int64_t t = 0; t < T; t++)
                memcpy(cmp + ((size_t)t * HW + p) * C, data + ((size_t)p * T + t) * C, C * sizeof(float));
    } else if (r->shape[0] == 3 && shape[0] == 32) { /* subset frames 0, 16, 31 */
        size_t per = n / 32;
        for (int i = 0; i < 3; i++) memcpy(cmp + i * per, data + subset[i] * per, per * sizeof(float));
        cn = 3 * per;
    } else {
        memcpy(cmp, data, n * sizeof(float));
    }
    if (cn != r->n) {
        printf("  %s: %zu values, reference has %zu\n", name, cn, r->n);
        bad(st, "window %d stage %s (size)", st->window, name);
    } else {
        char label[96];
        snprintf(label, sizeof label, "  w%d %s", st->window, name);
        if (!tu_check(label, cmp, r->data, r->n, r->tol, -1)) bad(st, "window %d stage %s", st->window, name);
        st->compared++;
    }
    free(cmp);
}

static void on_tap(void *user, const char *name, const float *data, int ndim, const int64_t *shape) {
    run_state *st = user;
    if (strcmp(name, "vda.window_raw") == 0) {
        if (st->window < st->n_win) {
            char label[64];
            snprintf(label, sizeof label, "  window_raw[%d]", st->window);
            const float *ref = st->wraw + (size_t)st->window * 32 * st->fr;
            tu_diff d = tu_compare(data, ref, 32 * st->fr);
            int ok = d.nonfinite == 0 && d.max_abs <= 1e-4 * st->wraw_maxref && d.rms * d.max_ref <= 1e-5 * st->wraw_maxref;
            printf("%s: max|d| %.3g (%.3g of max) %s\n", label, d.max_abs, d.max_abs / st->wraw_maxref, ok ? "OK" : "FAIL");
            if (!ok) bad(st, "window %d network output (window_raw)", st->window);
        } else {
            bad(st, "window %d: the reference has only %d windows", st->window, st->n_win);
        }
        st->compared++;
        return;
    }
    if (strcmp(name, "vda.scale_shift") == 0) {
        int w = st->window;
        if (w < st->n_win) {
            float s = st->ss[2 * w], t = st->ss[2 * w + 1];
            int ok = fabs(data[0] - s) <= 1e-4 * fabs(s) && fabs(data[1] - t) <= 1e-4 * st->wraw_maxref;
            printf("  scale_shift[%d]: %.6f %+.6f vs %.6f %+.6f %s\n", w, data[0], data[1], s, t, ok ? "OK" : "FAIL");
            if (!ok) bad(st, "window %d scale/shift fit", w);
        }
        st->window++;
        return;
    }
    if (strncmp(name, "cache.", 6) == 0) {
        for (int i = 0; i < st->nrefs; i++) {
            tu_ref *r = &st->refs[i];
            if (strcmp(r->name, name)) continue;
            size_t per = r->n / (size_t)r->shape[0];
            char label[96];
            snprintf(label, sizeof label, "%s[%lld]", name, (long long)st->frame);
            tu_diff d = tu_compare(data, r->data + (size_t)st->frame * per, per);
            if (d.nonfinite || d.max_rel > r->tol) {
                printf("  %s: max rel %.3g FAIL\n", label, d.max_rel);
                bad(st, "streaming frame %lld %s", (long long)st->frame, name);
            }
            st->compared++;
            if (strcmp(name, "cache.mm3.attn1") == 0) st->frame++;
        }
        return;
    }
    if (st->window != 0) return; /* intermediates are window 0's */
    for (int i = 0; i < st->nrefs; i++)
        if (strcmp(st->refs[i].name, name) == 0) check_ref(st, &st->refs[i], data, ndim, shape, name);
}

static fathom_status on_depth(void *user, int64_t frame, const float *depth, int h, int w) {
    run_state *st = user;
    if (frame != st->nframes) return FATHOM_ERR_INTERNAL;
    if (frame < 0 || (size_t)w * h != st->fr) return FATHOM_ERR_SHAPE;
    memcpy(st->depth + (size_t)frame * st->fr, depth, st->fr * sizeof(float));
    st->nframes++;
    return FATHOM_OK;
}

static int check_depth(const char *what, const float *out, const float *ref, size_t n) {
    tu_diff d = tu_compare(out, ref, n);
    int ok = d.nonfinite == 0 && d.max_rel <= 1e-4 && d.rms <= 1e-5;
    printf("  %s: max|d| %.3g of max, rms %.3g of max %s\n", what, d.max_rel, d.rms, ok ? "OK" : "FAIL");
    return ok;
}

/* One pass without taps in one-frame head chunks and few-position module passes (the chunked
 * paths a real-size input takes), its depth checked against `ref_name`. */
static int run_chunked(const fathom_model *m, const fathom_engine_params *ep,
                       const fathom_vda_params *vp, const uint8_t *frames, int N, int H, int W,
                       run_state *st, const char *dir, const char *ref_name, const char *what) {
    fathom_vda *v = NULL;
    st->nframes = 0;
    if (fathom_vda_create(m, ep, vp, on_depth, st, &v) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_vda_set_budgets(v, 1, 32 * 32 * 64); /* 21..64 positions a pass */
    for (int i = 0; i < N; i++)
        if (fathom_vda_push(v, frames + (size_t)i * st->fr * 3, H, W, (size_t)W * 3) != FATHOM_OK)
            fail_msg("frame %d: %s", i, fathom_last_error());
    if (fathom_vda_finish(v) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_vda_free(&v);
    assert_int_equal(st->nframes, N);
    int64_t sh[8];
    int nd;
    size_t n;
    float *ref = tu_load_npy(tu_path(dir, ref_name), sh, &nd, &n);
    assert_int_equal(n, (size_t)N * st->fr);
    int ok = check_depth(what, st->depth, ref, n);
    free(ref);
    return ok;
}

static int run_case(const char *dir, const char *cname) {
    char path[4096];
    int ok = 1;
    printf("== %s\n", cname);
    snprintf(path, sizeof path, "%s/case.json", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char js[1 << 20];
    size_t jn = fread(js, 1, sizeof js - 1, f);
    fclose(f);
    js[jn] = 0;
    cJSON *cj = cJSON_Parse(js);
    assert_non_null(cj);
    int input_size = cJSON_GetObjectItem(cj, "input_size")->valueint;
    int metric = cJSON_IsTrue(cJSON_GetObjectItem(cj, "metric"));
    cJSON_Delete(cj);

    fathom_model *m = NULL;
    fathom_model_params mp = fathom_model_default_params();
    mp.metric = metric;
    if (fathom_model_load(tu_path(dir, "model.pth"), &mp, &m) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    assert_true(fathom_model_is_video(m));

    int64_t fs[4];
    int fnd = 0;
    uint8_t *frames = load_npy_raw(tu_path(dir, "frames.npy"), fs, &fnd, "|u1");
    assert_non_null(frames);
    const int N = (int)fs[0], H = (int)fs[1], W = (int)fs[2];
    int64_t sh[8];
    int nd;
    size_t n;
    run_state st = {0};
    st.fr = (size_t)H * W;
    st.depth = malloc((size_t)N * st.fr * sizeof(float));
    float *wraw = tu_load_npy(tu_path(dir, "window_raw.npy"), sh, &nd, &n);
    st.wraw = wraw;
    st.n_win = (int)sh[0];
    tu_diff z = tu_compare(wraw, wraw, n);
    st.wraw_maxref = (float)z.max_ref;
    float *ss = tu_load_npy(tu_path(dir, "scale_shift.npy"), sh, &nd, &n);
    st.ss = ss;
    struct stat sb;
    snprintf(path, sizeof path, "%s/intermediates.safetensors", dir);
    if (stat(path, &sb) == 0) st.refs = load_st(path, &st.nrefs);

    /* offline */
    fathom_engine_params ep = fathom_engine_default_params();
    ep.threads = 2;
    fathom_vda_params vp = fathom_vda_default_params();
    vp.input_size = input_size;
    fathom_vda *v = NULL;
    if (fathom_vda_create(m, &ep, &vp, on_depth, &st, &v) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_vda_set_tap(v, on_tap, &st);
    for (int i = 0; i < N; i++)
        if (fathom_vda_push(v, frames + (size_t)i * st.fr * 3, H, W, (size_t)W * 3) != FATHOM_OK)
            fail_msg("frame %d: %s", i, fathom_last_error());
    if (fathom_vda_finish(v) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_vda_free(&v);
    assert_int_equal(st.nframes, N);
    assert_int_equal(st.window, st.n_win);
    float *dref = tu_load_npy(tu_path(dir, "depth.npy"), sh, &nd, &n);
    assert_int_equal(n, (size_t)N * st.fr);
    if (!check_depth("depth (offline)", st.depth, dref, n)) {
        ok = 0;
        bad(&st, "offline depth");
    }
    free(dref);
    if (st.refs) tu_free_refs(st.refs, st.nrefs);
    st.refs = NULL, st.nrefs = 0;

    /* the chunked passes once per mode (the first case that has it): they are the slow part */
    static int offline_chunked = 1, stream_chunked = 1;
    if (offline_chunked-- > 0 &&
        !run_chunked(m, &ep, &vp, frames, N, H, W, &st, dir, "depth.npy", "depth (offline, chunked)")) {
        ok = 0;
        bad(&st, "offline depth in one-frame chunks");
    }

    /* streaming */
    snprintf(path, sizeof path, "%s/depth_stream.npy", dir);
    if (stat(path, &sb) == 0) {
        snprintf(path, sizeof path, "%s/stream_cache.safetensors", dir);
        if (stat(path, &sb) == 0) st.refs = load_st(path, &st.nrefs);
        st.nframes = 0, st.frame = 0, st.window = 0;
        vp.streaming = 1;
        if (fathom_vda_create(m, &ep, &vp, on_depth, &st, &v) != FATHOM_OK) fail_msg("%s", fathom_last_error());
        fathom_vda_set_tap(v, on_tap, &st);
        for (int i = 0; i < N; i++)
            if (fathom_vda_push(v, frames + (size_t)i * st.fr * 3, H, W, (size_t)W * 3) != FATHOM_OK)
                fail_msg("frame %d: %s", i, fathom_last_error());
        assert_int_equal(fathom_vda_finish(v), FATHOM_OK);
        fathom_vda_free(&v);
        assert_int_equal(st.nframes, N);
        dref = tu_load_npy(tu_path(dir, "depth_stream.npy"), sh, &nd, &n);
        if (!check_depth("depth (streaming)", st.depth, dref, n)) {
            ok = 0;
            bad(&st, "streaming depth");
        }
        free(dref);
        if (stream_chunked-- > 0 && !run_chunked(m, &ep, &vp, frames, N, H, W, &st, dir,
                                                 "depth_stream.npy", "depth (streaming, chunked)")) {
            ok = 0;
            bad(&st, "streaming depth in few-position module passes");
        }
        if (st.refs) tu_free_refs(st.refs, st.nrefs);
    }
    if (st.first_bad[0]) {
        printf("  FIRST DIVERGENCE: %s\n", st.first_bad);
        ok = 0;
    }
    printf("  %d comparisons\n", st.compared);
    free(wraw);
    free(ss);
    free(st.depth);
    free(frames);
    fathom_model_free(&m);
    return ok;
}

static void test_vda_golden(void **state) {
    (void)state;
    char root[4096];
    snprintf(root, sizeof root, "%s/../golden-vda", tu_golden_dir());
    DIR *d = opendir(root);
    if (!d) tu_skip("no ../shared/golden-vda");
    int cases = 0, ok = 1;
    struct dirent *de;
    char names[64][128];
    while ((de = readdir(d)) && cases < 64) {
        char cj[4096];
        struct stat sb;
        if (de->d_name[0] == '.') continue;
        snprintf(cj, sizeof cj, "%s/%s/case.json", root, de->d_name);
        if (stat(cj, &sb) == 0) snprintf(names[cases++], sizeof names[0], "%s", de->d_name);
    }
    closedir(d);
    assert_true(cases > 0);
    for (int i = 0; i < cases; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        ok &= run_case(dir, names[i]);
    }
    assert_true(ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vda_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
