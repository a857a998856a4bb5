/* test_chunk_follow_tsan.c - the incremental merge through the library API: chunk workers on
 * three CPU engines and the merge thread beside them (chunk_follow.c) on a real video (made
 * by ffmpeg) and the golden tiny model. The merged archive equals a single pass bit for bit
 * (batch 1), the manifest ends with every chunk merged, and a normalized depth video merges
 * with aligned seams. Also run under TSan (label tsan): workers, merge thread, manifest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/chunk_manifest.h"
#include "cluster/chunk_npz.h"
#include "fathom.h"
#include "test_util.h"

#define FRAMES 36

static fathom_model *g_model;
static char *g_dir;
static char g_video[4096];

static int setup(void **state) {
    (void)state;
    const char *g = tu_golden_dir();
    g_dir = tu_mkdtemp();
    snprintf(g_video, sizeof g_video, "%s/v.mp4", g_dir);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -loglevel error -y -f lavfi -i "
             "testsrc=size=48x32:rate=10 -frames:v %d -g 5 -pix_fmt yuv420p '%s' 2>/dev/null",
             FRAMES, g_video);
    if (system(cmd) != 0) {
        printf("SKIP: ffmpeg cannot make the test video\n");
        exit(77);
    }
    if (fathom_model_load(tu_path(g, "tiny-hf/model"), NULL, &g_model) != FATHOM_OK) {
        fprintf(stderr, "model: %s\n", fathom_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fathom_model_free(&g_model);
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static fathom_run_params params(const char *outdir, int engines) {
    fathom_run_params p = fathom_run_default_params();
    p.outdir = outdir;
    p.input_size = 28; /* a small network: fast under TSan */
    p.batch = 1;       /* one frame per forward: chunked == single pass bit for bit */
    p.workers = 1;
    p.n_devices = engines;
    for (int i = 0; i < engines; i++) {
        p.devices[i] = fathom_engine_default_params();
        p.devices[i].device = FATHOM_DEVICE_CPU;
        p.devices[i].threads = 1;
    }
    return p;
}

static fathom_video_opts *npz_opts(void) {
    fathom_video_opts *o = NULL;
    assert_int_equal(fathom_video_opts_create(&o), FATHOM_OK);
    assert_int_equal(fathom_video_opts_set(o, "video-npz", NULL), 1);
    return o;
}

static void single_pass(const char *outdir) {
    fathom_run_params p = params(outdir, 1);
    fathom_video_opts *o = npz_opts();
    fathom_video_job *job = NULL;
    fathom_pipeline *pl = NULL;
    assert_int_equal(fathom_video_run_create(g_model, &p, g_video, o, &job, &pl), FATHOM_OK);
    fathom_run_stats st;
    assert_int_equal(fathom_pipeline_run(pl, &st), FATHOM_OK);
    fathom_pipeline_free(&pl);
    fathom_video_job_release(&job);
    fathom_video_opts_free(&o);
}

static void assert_npz_equal(const char *a, const char *b) {
    fathom_chunk_npz *za = NULL, *zb = NULL;
    assert_int_equal(fathom_chunk_npz_open(a, &za), FATHOM_OK);
    assert_int_equal(fathom_chunk_npz_open(b, &zb), FATHOM_OK);
    assert_int_equal(fathom_chunk_npz_frames(za), FRAMES);
    assert_int_equal(fathom_chunk_npz_frames(zb), FRAMES);
    int h, w, h2, w2;
    fathom_chunk_npz_size(za, &h, &w);
    fathom_chunk_npz_size(zb, &h2, &w2);
    assert_int_equal(h, h2), assert_int_equal(w, w2);
    float *da = malloc((size_t)h * w * sizeof *da), *db = malloc((size_t)h * w * sizeof *db);
    for (int64_t i = 0; i < FRAMES; i++) {
        assert_int_equal(fathom_chunk_npz_pts(za, i), fathom_chunk_npz_pts(zb, i));
        assert_int_equal(fathom_chunk_npz_next(za, da), FATHOM_OK);
        assert_int_equal(fathom_chunk_npz_next(zb, db), FATHOM_OK);
        assert_memory_equal(da, db, (size_t)h * w * sizeof *da);
    }
    free(da);
    free(db);
    fathom_chunk_npz_free(&za);
    fathom_chunk_npz_free(&zb);
}

/* 6 chunks on 3 engines, merged while they run: the single pass's archive, all merged */
static void test_npz_equals_single(void **state) {
    (void)state;
    char single[4200], chunked[4200], a[4300], b[4300];
    snprintf(single, sizeof single, "%s/single", g_dir);
    snprintf(chunked, sizeof chunked, "%s/chunked", g_dir);
    single_pass(single);
    fathom_run_params p = params(chunked, 3);
    fathom_video_opts *o = npz_opts();
    fathom_chunk_run_result res;
    fathom_status s = fathom_chunk_video_run(g_model, &p, g_video, o, 6, 2, 0, &res);
    if (s != FATHOM_OK) fprintf(stderr, "%s\n", fathom_last_error());
    assert_int_equal(s, FATHOM_OK);
    assert_int_equal(res.chunks, 6), assert_int_equal(res.ran, 6);
    assert_int_equal(res.frames, FRAMES);
    snprintf(a, sizeof a, "%s/v.npz", single);
    snprintf(b, sizeof b, "%s/v.npz", chunked);
    assert_npz_equal(a, b);
    fathom_chunk_manifest man;
    char mpath[4400];
    snprintf(mpath, sizeof mpath, "%s/.fathom-chunks", chunked);
    char cmd[4600]; /* the one work folder's manifest */
    snprintf(cmd, sizeof cmd, "ls -d '%s'/v.mp4.* | head -1", mpath);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(mpath, sizeof mpath - 20, f));
    pclose(f);
    mpath[strcspn(mpath, "\n")] = '\0';
    strcat(mpath, "/manifest.json");
    assert_int_equal(fathom_chunk_manifest_load(mpath, &man), FATHOM_OK);
    assert_int_equal(man.merged, man.n);
    for (int i = 0; i < man.n; i++) assert_true(man.done[i]);
    fathom_chunk_manifest_clear(&man);
    fathom_video_opts_free(&o);
}

/* a normalized depth video: the overlap is aligned and cross-faded in the merge thread */
static void test_depth_video(void **state) {
    (void)state;
    char out[4200], vid[4300];
    snprintf(out, sizeof out, "%s/video", g_dir);
    snprintf(vid, sizeof vid, "%s/depth.mkv", out);
    fathom_run_params p = params(out, 2);
    char rep[4300];
    snprintf(rep, sizeof rep, "%s/report.json", out);
    p.report_path = rep;
    fathom_video_opts *o = NULL;
    assert_int_equal(fathom_video_opts_create(&o), FATHOM_OK);
    assert_int_equal(fathom_video_opts_set(o, "video", vid), 1);
    fathom_chunk_run_result res;
    fathom_status s = fathom_chunk_video_run(g_model, &p, g_video, o, 4, 3, 0, &res);
    if (s != FATHOM_OK) fprintf(stderr, "%s\n", fathom_last_error());
    assert_int_equal(s, FATHOM_OK);
    assert_int_equal(res.frames, FRAMES);
    assert_string_equal(res.outputs[0], vid);
    FILE *f = fopen(rep, "rb");
    assert_non_null(f);
    char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "\"overlap_frames\":\t3")); /* the seams were written */
    fathom_video_opts_free(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npz_equals_single),
        cmocka_unit_test(test_depth_video),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
