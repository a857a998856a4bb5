/* test_video_pipeline.c - a video through the real pipeline with the golden tiny model.
 *
 * A generated 160x120 clip with a sine track goes through fathom_video_job (source -> decode
 * pool -> batched inference -> ordered sink) to an FFV1 depth video plus an npy frame sequence.
 * Checked: frame count, every timestamp, audio packets bit-identical, and that frame N's depth
 * equals the image path's depth for the same frame extracted by the ffmpeg CLI as PNG. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "pipeline/video_job.h"
#include "test_util.h"

static char *g_dir;
static fathom_model *g_model;

/* a fixture command that must succeed */
#define sh(...) assert_int_equal(tu_sh(__VA_ARGS__), 0)

static fathom_run_params params(const char *outdir) {
    fathom_run_params p = fathom_run_default_params();
    p.outdir = outdir;
    p.input_size = 140; /* small network: fast on 2 cores, same code path */
    p.batch = 3;
    p.workers = 2;
    p.queue = 4;
    p.devices[0].threads = 2;
    return p;
}

typedef struct pkts {
    int n;
    double t[256];
    uint32_t h[256];
    int size[256];
} pkts;

static void read_packets(const char *path, enum AVMediaType type, pkts *out) {
    memset(out, 0, sizeof *out);
    AVFormatContext *fmt = NULL;
    assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
    int si = av_find_best_stream(fmt, type, -1, -1, NULL, 0);
    assert_true(si >= 0);
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == si && out->n < 256) {
            uint32_t h = 2166136261u;
            for (int i = 0; i < pkt->size; i++) h = (h ^ pkt->data[i]) * 16777619u;
            out->t[out->n] = pkt->pts * av_q2d(fmt->streams[si]->time_base);
            out->h[out->n] = h;
            out->size[out->n++] = pkt->size;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_video_to_ffv1_and_npy(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "clip.mkv");
    sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=160x120:rate=25:duration=1 "
       "-f lavfi -i sine=frequency=300:duration=1 -c:v libx264 -pix_fmt yuv420p -g 8 "
       "-c:a flac '%s'", src);
    const char *outdir = tu_path(g_dir, "out");
    fathom_run_params p = params(outdir);
    fathom_video_run_opts vo;
    fathom_video_run_default_opts(&vo);
    char video[4096];
    snprintf(video, sizeof video, "%s/depth.mkv", outdir);
    vo.video_path = video;
    vo.seq_formats = FATHOM_OUT_NPY;
    fathom_video_job *job = NULL;
    fathom_pipeline *pl = NULL;
    fathom_status s = fathom_video_job_create(g_model, &p, src, &vo, &job, &pl);
    if (s != FATHOM_OK) fprintf(stderr, "%s\n", fathom_last_error());
    assert_int_equal(s, FATHOM_OK);
    fathom_run_stats rs;
    assert_int_equal(fathom_pipeline_run(pl, &rs), FATHOM_OK);
    fathom_pipeline_free(&pl);
    char summary[1024];
    fathom_video_job_summary(job, summary, sizeof summary);
    printf("%s\n", summary);
    fathom_video_job_stats js;
    fathom_video_job_get_stats(job, &js);
    fathom_video_job_release(&job);
    assert_int_equal(rs.done, 25);
    assert_int_equal(rs.failed, 0);
    assert_int_equal(js.frames_read, 25);
    assert_int_equal(js.frames_written, 25);
    assert_true(js.complete);

    /* timing and audio */
    pkts sv, ov, sa, oa;
    read_packets(src, AVMEDIA_TYPE_VIDEO, &sv);
    read_packets(video, AVMEDIA_TYPE_VIDEO, &ov);
    assert_int_equal(ov.n, 25);
    qsort(sv.t, sv.n, sizeof sv.t[0], cmp_d);
    for (int i = 0; i < 25; i++) assert_true(fabs(sv.t[i] - ov.t[i]) < 0.0011);
    read_packets(src, AVMEDIA_TYPE_AUDIO, &sa);
    read_packets(video, AVMEDIA_TYPE_AUDIO, &oa);
    assert_true(sa.n > 0);
    assert_int_equal(sa.n, oa.n);
    for (int i = 0; i < sa.n; i++) {
        assert_int_equal(sa.size[i], oa.size[i]);
        assert_int_equal(sa.h[i], oa.h[i]);
    }

    /* frame 7 through the image path */
    const char *png = tu_path(g_dir, "frame7.png");
    sh("ffmpeg -nostdin -v error -y -i '%s' -vf \"select=eq(n\\,7)\" -frames:v 1 '%s'", src, png);
    const char *imgout = tu_path(g_dir, "img");
    fathom_run_params ip = params(imgout);
    const char *inputs[1] = {png};
    ip.inputs = inputs;
    ip.n_inputs = 1;
    assert_int_equal(fathom_pipeline_create(g_model, &ip, &pl), FATHOM_OK);
    assert_int_equal(fathom_pipeline_run(pl, &rs), FATHOM_OK);
    fathom_pipeline_free(&pl);
    assert_int_equal(rs.done, 1);
    int64_t sh1[8], sh2[8];
    int nd1, nd2;
    size_t n1, n2;
    float *img = tu_load_npy(tu_path(imgout, "frame7.npy"), sh1, &nd1, &n1);
    char seq[4096];
    snprintf(seq, sizeof seq, "%s/clip/000007.npy", outdir);
    float *vid = tu_load_npy(seq, sh2, &nd2, &n2);
    assert_non_null(img);
    assert_non_null(vid);
    assert_int_equal(n1, 160 * 120);
    assert_int_equal(n2, n1);
    /* same pixels in, same code: equal up to batch-size-dependent float summation order */
    assert_true(tu_check("frame 7: video vs image path", vid, img, n1, 1e-5, 1e-6));
    /* and not trivially: a different frame differs */
    snprintf(seq, sizeof seq, "%s/clip/000020.npy", outdir);
    float *other = tu_load_npy(seq, sh2, &nd2, &n2);
    assert_non_null(other);
    tu_diff d = tu_compare(other, img, n1);
    assert_true(d.max_rel > 1e-3);
    free(img);
    free(vid);
    free(other);

    /* a second run into the same folder overwrites nothing */
    assert_int_equal(fathom_video_job_create(g_model, &p, src, &vo, &job, &pl), FATHOM_ERR_IO);
    assert_non_null(strstr(fathom_last_error(), "depth.mkv exists"));
    vo.video_path = NULL;
    assert_int_equal(fathom_video_job_create(g_model, &p, src, &vo, &job, &pl), FATHOM_ERR_IO);
    assert_non_null(strstr(fathom_last_error(), "clip/000000.npy exists"));
    assert_null(job);
    assert_null(pl);
}

static void test_no_video_stream_and_existing_output(void **state) {
    (void)state;
    const char *wav = tu_path(g_dir, "a.wav");
    sh("ffmpeg -nostdin -v error -y -f lavfi -i sine=duration=1 '%s'", wav);
    fathom_run_params p = params(tu_path(g_dir, "o2"));
    fathom_video_run_opts vo;
    fathom_video_run_default_opts(&vo);
    fathom_video_job *job = NULL;
    fathom_pipeline *pl = NULL;
    assert_int_equal(fathom_video_job_create(g_model, &p, wav, &vo, &job, &pl),
                     FATHOM_ERR_NOT_FOUND);
    assert_non_null(strstr(fathom_last_error(), "no video stream"));
    assert_null(job);
    assert_null(pl);
    /* an existing final video is not overwritten without --overwrite */
    const char *src = tu_path(g_dir, "clip.mkv");
    mkdir(tu_path(g_dir, "o2"), 0755);
    FILE *f = fopen(tu_path(g_dir, "o2/clip_depth.mkv"), "w");
    fputs("old", f);
    fclose(f);
    assert_int_equal(fathom_video_job_create(g_model, &p, src, &vo, &job, &pl), FATHOM_ERR_IO);
    assert_non_null(strstr(fathom_last_error(), "exists"));
    /* the flags */
    assert_int_equal(fathom_video_parse_flag(&vo, "crf", "23"), 1);
    assert_int_equal(vo.enc.crf, 23);
    assert_int_equal(fathom_video_parse_flag(&vo, "crf", "x"), -1);
    assert_int_equal(fathom_video_parse_flag(&vo, "normalize", "frame"), 1);
    assert_int_equal(vo.normalize, FATHOM_VNORM_FRAME);
    assert_int_equal(fathom_video_parse_flag(&vo, "normalize", "minmax"), -1);
    assert_int_equal(fathom_video_parse_flag(&vo, "video-codec", "h265"), 1);
    assert_int_equal(vo.enc.codec, FATHOM_VCODEC_H265);
    assert_int_equal(fathom_video_parse_flag(&vo, "batch", "4"), 0);
    assert_true(fathom_video_is_input("a/b.MP4"));
    assert_true(fathom_video_is_input("rtsp://cam/1"));
    assert_false(fathom_video_is_input("a.mp4/b.png"));
    assert_false(fathom_video_is_input("x.jpg"));
}

static int setup(void **state) {
    (void)state;
    if (system("ffmpeg -version > /dev/null 2>&1") != 0) tu_skip("the ffmpeg CLI is not installed");
    g_dir = tu_mkdtemp();
    const char *model = tu_path(tu_golden_dir(), "tiny-hf/model");
    if (fathom_model_load(model, NULL, &g_model) != FATHOM_OK) {
        fprintf(stderr, "%s\n", fathom_last_error());
        return -1;
    }
    return g_dir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fathom_model_free(&g_model);
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

int main(void) {
    av_log_set_level(AV_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_video_to_ffv1_and_npy),
        cmocka_unit_test(test_no_video_stream_and_existing_output),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
