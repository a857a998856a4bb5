/* test_vda_long.c - a long video through `fathom run` with a Video Depth Anything model, in
 * both modes, against the library's own API on the same decoded frames.
 *
 * 150 frames (7 offline windows, the streaming cache's ring of 42 wrapped three times) of a
 * generated lossless video, golden tiny model: `fathom run --streaming` and the default
 * offline run, each writing the npy sequence and the FFV1 gray16 depth video (offline: a png16
 * sequence too; both 16-bit outputs come from the float spill for the video-wide range). Checked: every frame is there and finite, frame i equals what
 * fathom_vda gives for frame i of the same video (fathom_frames decodes it as the CLI does),
 * the depth video has every frame and is the npy frames mapped through their video-wide
 * min..max, and the two modes give different depth (streaming is not offline). The CPU's
 * `--precision bf16` engine on the same video: every frame finite and near fp32. The pipeline's
 * VDA stage once freed a frame twice past ~120 streaming frames: the golden cases are 40
 * frames long and never reached it. Release only (label nosan): minutes under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fathom.h"
#include "test_util.h"

enum { NF = 150, VW = 64, VH = 48, ISZ = 56 };

typedef struct collect {
    float *d;      /* (NF, VH, VW) */
    int64_t n;     /* frames emitted */
    int bad;       /* out of order or of another size */
} collect;

static fathom_status on_depth(void *user, int64_t frame, const float *depth, int h, int w) {
    collect *c = user;
    if (frame != c->n || h != VH || w != VW || c->n >= NF) {
        c->bad = 1;
        return FATHOM_OK;
    }
    memcpy(c->d + (size_t)frame * VH * VW, depth, sizeof(float) * VH * VW);
    c->n++;
    return FATHOM_OK;
}

/* fathom_vda over the decoded frames of `video` (as the CLI's decode pool gives them). */
static void run_api(const fathom_model *m, const char *video, int streaming, collect *c) {
    fathom_engine_params ep = fathom_engine_default_params();
    ep.threads = 2;
    fathom_vda_params vp = fathom_vda_default_params();
    vp.input_size = ISZ;
    vp.streaming = streaming;
    fathom_vda *v = NULL;
    fathom_frames *fr = NULL;
    if (fathom_vda_create(m, &ep, &vp, on_depth, c, &v) != FATHOM_OK ||
        fathom_frames_open(video, 0, &fr) != FATHOM_OK)
        fail_msg("%s", fathom_last_error());
    fathom_frame f;
    int got;
    while (fathom_frames_next(fr, &f, &got) == FATHOM_OK && got)
        if (fathom_vda_push(v, f.rgb, f.height, f.width, f.stride) != FATHOM_OK)
            fail_msg("frame %lld: %s", (long long)f.index, fathom_last_error());
    if (fathom_vda_finish(v) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_frames_free(&fr);
    fathom_vda_free(&v);
    assert_false(c->bad);
    assert_int_equal(c->n, NF);
}

/* The CLI's npy frames == the API's, every frame finite; returns their min / max. */
static void check_npy(const char *dir, const char *mode, const collect *api, float *lo, float *hi) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/v/%06d.npy", dir, mode, NF);
    FILE *extra = fopen(p, "rb");
    if (extra) fclose(extra);
    assert_null(extra); /* no frame past the video's end */
    *lo = INFINITY, *hi = -INFINITY;
    double worst = 0, amax = 0;
    for (int i = 0; i < NF; i++)
        for (size_t k = 0; k < (size_t)VH * VW; k++) amax = fmax(amax, fabs(api->d[(size_t)i * VH * VW + k]));
    assert_true(amax > 0);
    for (int i = 0; i < NF; i++) {
        snprintf(p, sizeof p, "%s/%s/v/%06d.npy", dir, mode, i);
        int64_t sh[8];
        int nd;
        size_t n;
        float *d = tu_load_npy(p, sh, &nd, &n);
        if (!d) fail_msg("%s: frame %d missing (%s)", mode, i, p);
        assert_int_equal(n, (size_t)VH * VW);
        const float *a = api->d + (size_t)i * n;
        for (size_t k = 0; k < n; k++) {
            if (!isfinite(d[k])) fail_msg("%s: frame %d pixel %zu is %g", mode, i, k, d[k]);
            double e = fabs((double)d[k] - a[k]);
            if (e > worst) worst = e;
            if (e > 1e-5 * amax) fail_msg("%s: frame %d pixel %zu: fathom run %g, fathom_vda %g", mode, i, k, d[k], a[k]);
            if (d[k] < *lo) *lo = d[k];
            if (d[k] > *hi) *hi = d[k];
        }
        free(d);
    }
    printf("%s: %d frames, finite, fathom run == fathom_vda (max|d| %.2e of max)\n", mode, NF, worst / amax);
}

/* A gray16 depth video or png16 sequence: NF frames, each the npy frame mapped through the
 * video-wide range (near = bright: 65535 at the largest relative depth). */
static void check_video(const char *dir, const char *mode, const char *input, const collect *api,
                        float lo, float hi) {
    char raw[4096];
    snprintf(raw, sizeof raw, "%s/%s.gray16", dir, mode);
    assert_int_equal(tu_sh("ffmpeg -loglevel error -y -i '%s' -f rawvideo -pix_fmt gray16le '%s'", input, raw), 0);
    FILE *f = fopen(raw, "rb");
    assert_non_null(f);
    static uint16_t px[(NF + 1) * VH * VW];
    size_t got = fread(px, 2, sizeof px / 2, f);
    fclose(f);
    assert_int_equal(got, (size_t)NF * VH * VW);
    double worst = 0;
    for (size_t k = 0; k < (size_t)NF * VH * VW; k++) {
        double want = round(((double)api->d[k] - lo) / ((double)hi - lo) * 65535.0);
        worst = fmax(worst, fabs(px[k] - want));
    }
    if (worst > 8) fail_msg("%s: %g levels off the video-wide range", input, worst);
    printf("%s: %d frames on one range %g..%g: OK\n", input, NF, lo, hi);
}

static void test_long_video(void **state) {
    (void)state;
    const char *bin = getenv("FATHOM_BIN");
    if (!bin || !*bin) tu_skip("FATHOM_BIN not set (the CLI is not built)");
    if (system("ffmpeg -version > /dev/null 2>&1") != 0) tu_skip("the ffmpeg CLI is not installed");
    const char *model = tu_path(tu_golden_dir(), "../golden-vda/tiny-offline/model.pth");
    FILE *mf = fopen(model, "rb");
    if (!mf) tu_skip("no ../shared/golden-vda/tiny-offline");
    fclose(mf);

    char *dir = tu_mkdtemp();
    assert_int_equal(tu_sh("ffmpeg -loglevel error -f lavfi -i testsrc2=size=%dx%d:rate=25 -frames:v %d "
                           "-c:v ffv1 '%s/v.mkv'", VW, VH, NF, dir), 0);
    char video[4096];
    snprintf(video, sizeof video, "%s/v.mkv", dir);
    for (int s = 0; s < 2; s++) {
        const char *mode = s ? "streaming" : "offline";
        assert_int_equal(tu_sh("'%s' run -m '%s' --input-size %d --threads 2 %s -f %s --video '%s/%s.mkv' "
                               "-o '%s/%s' '%s' 2>'%s/%s.log'", bin, model, ISZ, s ? "--streaming" : "",
                               s ? "npy" : "npy,png16", dir, mode, dir, mode, video, dir, mode), 0);
    }

    fathom_model *m = NULL;
    fathom_model_params mp = fathom_model_default_params();
    if (fathom_model_load(model, &mp, &m) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    collect c[2];
    for (int s = 0; s < 2; s++) {
        c[s] = (collect){.d = malloc(sizeof(float) * NF * VH * VW)};
        assert_non_null(c[s].d);
        run_api(m, video, s, &c[s]);
        const char *mode = s ? "streaming" : "offline";
        float lo, hi;
        check_npy(dir, mode, &c[s], &lo, &hi);
        assert_true(hi > lo);
        char in[4096];
        snprintf(in, sizeof in, "%s/%s.mkv", dir, mode);
        check_video(dir, mode, in, &c[s], lo, hi);
        if (!s) { /* the png16 sequence: the same video-wide range */
            snprintf(in, sizeof in, "%s/%s/v/%%06d.png", dir, mode);
            check_video(dir, "png16", in, &c[s], lo, hi);
        }
    }
    /* the two modes are different computations: identical outputs would mean one ran twice */
    double diff = 0;
    for (size_t k = 0; k < (size_t)NF * VH * VW; k++) diff = fmax(diff, fabs(c[0].d[k] - c[1].d[k]));
    assert_true(diff > 1e-3);

    /* --precision bf16 (the CPU's bf16 engine), offline: finite, near the fp32 frames */
    assert_int_equal(tu_sh("'%s' run -m '%s' --input-size %d --threads 2 --precision bf16 -f npy -o '%s/bf16' "
                           "'%s' 2>'%s/bf16.log'", bin, model, ISZ, dir, video, dir), 0);
    double amax = 0, se = 0, emax = 0;
    for (size_t k = 0; k < (size_t)NF * VH * VW; k++) amax = fmax(amax, fabs(c[0].d[k]));
    for (int i = 0; i < NF; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/bf16/v/%06d.npy", dir, i);
        int64_t sh[8];
        int nd;
        size_t n;
        float *d = tu_load_npy(p, sh, &nd, &n);
        if (!d) fail_msg("bf16: frame %d missing", i);
        assert_int_equal(n, (size_t)VH * VW);
        for (size_t k = 0; k < n; k++) {
            if (!isfinite(d[k])) fail_msg("bf16: frame %d pixel %zu is %g", i, k, d[k]);
            double e = fabs((double)d[k] - c[0].d[(size_t)i * n + k]);
            se += e * e, emax = fmax(emax, e);
        }
        free(d);
    }
    double rms = sqrt(se / ((double)NF * VH * VW));
    printf("bf16 offline: %d finite frames, vs fp32 max|d| %.2e rms %.2e of max\n", NF, emax / amax, rms / amax);
    assert_true(emax <= 0.1 * amax && rms <= 1.5e-2 * amax);
    free(c[0].d);
    free(c[1].d);
    fathom_model_free(&m);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_long_video)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
