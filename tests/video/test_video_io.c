/* test_video_io.c - video_reader + video_writer on real videos made by the ffmpeg CLI.
 *
 * Each test generates its input in a fresh tmpdir (test pattern + sine audio, VFR, rotated,
 * subtitles, PCM audio, truncated, corrupt, audio only), runs reader -> synthetic depth ->
 * writer exactly as the pipeline's video sink does, and checks the result with libavformat:
 * frame count, every timestamp, audio packets byte for byte, duration, frame rate. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>

#include "video/video_reader.h"
#include "video/video_writer.h"
#include "test_util.h"

static char *g_dir;

/* libx265 keeps a one-time global allocation for the process lifetime (not ours): tell
 * LeakSanitizer about that library only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libx265.so\n"; }

/* a fixture command that must succeed */
#define sh(...) assert_int_equal(tu_sh(__VA_ARGS__), 0)

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

#define FF "ffmpeg -nostdin -v error -y "
#define PATTERN "-f lavfi -i testsrc2=size=160x120:rate=25:duration=2 "

/* ---- probing with libavformat ---- */

typedef struct pkt_rec {
    double t;      /* pts seconds */
    int size;
    uint32_t crc;  /* FNV-1a of the payload */
} pkt_rec;

typedef struct probe {
    int n;
    pkt_rec p[512];
    double duration;  /* container, seconds */
    AVRational fr;    /* avg_frame_rate of the stream */
    int codec_id, format, width, height;
} probe;

static uint32_t fnv(const uint8_t *d, int n) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ d[i]) * 16777619u;
    return h;
}

static int cmp_t(const void *a, const void *b) {
    double x = ((const pkt_rec *)a)->t, y = ((const pkt_rec *)b)->t;
    return (x > y) - (x < y);
}

/* Packets of the first stream of `type` (video packets sorted by pts = presentation order). */
static void probe_stream(const char *path, enum AVMediaType type, probe *out) {
    memset(out, 0, sizeof *out);
    AVFormatContext *fmt = NULL;
    assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
    int si = -1;
    for (unsigned i = 0; i < fmt->nb_streams && si < 0; i++)
        if (fmt->streams[i]->codecpar->codec_type == type) si = (int)i;
    out->duration = fmt->duration / 1e6;
    if (si < 0) {
        out->n = -1;
        avformat_close_input(&fmt);
        return;
    }
    AVStream *st = fmt->streams[si];
    out->fr = st->avg_frame_rate;
    out->codec_id = st->codecpar->codec_id;
    out->format = st->codecpar->format;
    out->width = st->codecpar->width;
    out->height = st->codecpar->height;
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == si && out->n < 512) {
            pkt_rec *r = &out->p[out->n++];
            r->t = pkt->pts * av_q2d(st->time_base);
            r->size = pkt->size;
            r->crc = fnv(pkt->data, pkt->size);
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (type == AVMEDIA_TYPE_VIDEO) qsort(out->p, out->n, sizeof out->p[0], cmp_t);
}

/* ---- reader -> synthetic depth -> writer, as the pipeline's video sink does ---- */

typedef struct run_result {
    int64_t frames;
    fathom_video_stats stats;
    fathom_video_info info;
} run_result;

static void pass_packets(fathom_video_reader *r, fathom_video_writer *w, int64_t upto_us) {
    AVPacket *pkt = av_packet_alloc();
    int si;
    while (fathom_video_reader_pop_packet(r, upto_us, pkt, &si)) {
        fathom_status s = fathom_video_writer_write_packet(w, pkt, si);
        if (s != FATHOM_OK) fprintf(stderr, "write_packet: %s\n", fathom_last_error());
        assert_int_equal(s, FATHOM_OK);
    }
    av_packet_free(&pkt);
}

static fathom_status depth_video(const char *src, const char *dst,
                                 const fathom_video_reader_opts *ro_in,
                                 const fathom_video_writer_opts *wo, int64_t stop_after,
                                 run_result *res) {
    fathom_video_reader_opts ro = ro_in ? *ro_in : fathom_video_reader_default_opts();
    ro.passthrough = 1;
    fathom_video_reader *r = NULL;
    fathom_video_writer *w = NULL;
    uint16_t *gray = NULL;
    fathom_status s = fathom_video_reader_open(src, &ro, &r);
    if (s != FATHOM_OK) return s;
    const fathom_video_info *in = fathom_video_reader_info(r);
    fathom_video_source_desc d = {in->time_base, in->frame_rate, fathom_video_reader_format(r),
                                  in->stream_index};
    s = fathom_video_writer_open(dst, in->width, in->height, &d, wo, &w);
    if (s != FATHOM_OK) goto end;
    gray = malloc((size_t)in->width * in->height * 2);
    for (;;) {
        fathom_video_frame f;
        int got = 0;
        s = fathom_video_reader_next(r, &f, &got);
        if (s != FATHOM_OK || !got) break;
        for (int y = 0; y < f.height; y++)
            for (int x = 0; x < f.width; x++) {
                const uint8_t *p = f.rgb + y * f.stride + 3 * x;
                gray[y * f.width + x] = (uint16_t)(((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8) * 257);
            }
        pass_packets(r, w, fathom_video_ts_us(f.pts, in->time_base));
        if (wo && wo->color) {
            uint8_t *rgb = malloc((size_t)f.height * f.stride);
            memcpy(rgb, f.rgb, (size_t)f.height * f.stride);
            s = fathom_video_writer_write_rgb(w, rgb, f.stride, f.pts, f.duration);
            free(rgb);
        } else {
            s = fathom_video_writer_write_gray16(w, gray, f.pts, f.duration);
        }
        if (s != FATHOM_OK) break;
        if (stop_after > 0 && f.index + 1 >= stop_after) goto end; /* "interrupted" */
    }
    if (s == FATHOM_OK) {
        pass_packets(r, w, INT64_MAX);
        s = fathom_video_writer_finish(w);
    }
end:
    if (res) {
        fathom_video_reader_stats(r, &res->stats);
        res->frames = res->stats.frames;
        res->info = *in;
    }
    free(gray);
    fathom_video_writer_free(&w);
    fathom_video_reader_free(&r);
    return s;
}

/* Matroska cannot store negative timestamps, so when a copied stream starts below zero (AAC
 * priming) the muxer shifts every stream by the same amount: `shift` is that constant. */
static void expect_same_video_times(const probe *src, const probe *out, int first, int count,
                                    double shift) {
    assert_int_equal(out->n, count);
    for (int i = 0; i < count; i++) {
        double d = out->p[i].t - shift - src->p[first + i].t;
        if (fabs(d) > 0.0011)
            fprintf(stderr, "frame %d: pts %.4f, source %.4f\n", i, out->p[i].t, src->p[first + i].t);
        assert_true(fabs(d) <= 0.0011); /* Matroska: 1 ms */
    }
}

static void expect_same_packets(const probe *a, const probe *b, double shift) {
    assert_true(a->n > 0);
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        assert_int_equal(a->p[i].size, b->p[i].size);
        assert_int_equal(a->p[i].crc, b->p[i].crc);
        assert_true(fabs(b->p[i].t - shift - a->p[i].t) <= 0.0011);
    }
}

/* ---- tests ---- */

static void test_ffv1_audio_copy(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "a.mp4"), *dst = tu_path(g_dir, "a-depth.mkv");
    sh(FF PATTERN "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=2 -c:v libx264 "
          "-pix_fmt yuv420p -g 12 -c:a aac -b:a 64k '%s'", src);
    run_result res;
    assert_int_equal(depth_video(src, dst, NULL, NULL, 0, &res), FATHOM_OK);
    char part_a[64];
    snprintf(part_a, sizeof part_a, "a-depth.partial-%ld.mkv", (long)getpid());
    assert_false(exists(tu_path(g_dir, part_a)));
    probe sv, ov, sa, oa;
    probe_stream(src, AVMEDIA_TYPE_VIDEO, &sv);
    probe_stream(dst, AVMEDIA_TYPE_VIDEO, &ov);
    assert_int_equal(sv.n, 50);
    assert_int_equal(res.frames, 50);
    probe_stream(src, AVMEDIA_TYPE_AUDIO, &sa);
    probe_stream(dst, AVMEDIA_TYPE_AUDIO, &oa);
    double shift = sa.p[0].t < 0 ? -sa.p[0].t : 0;
    expect_same_video_times(&sv, &ov, 0, 50, shift);
    assert_int_equal(ov.codec_id, AV_CODEC_ID_FFV1);
    assert_int_equal(ov.format, AV_PIX_FMT_GRAY16LE);
    assert_int_equal(ov.width, 160);
    assert_int_equal(ov.height, 120);
    assert_int_equal(ov.fr.num * 1, 25 * ov.fr.den);
    expect_same_packets(&sa, &oa, shift);
    assert_true(fabs(ov.duration - sv.duration) < 0.05);
}

static void test_vfr_timestamps(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "vfr.mkv"), *dst = tu_path(g_dir, "vfr-depth.mkv");
    sh(FF PATTERN "-vf \"setpts='if(lt(N,20),N*0.04,0.8+(N-20)*0.1)/TB'\" -fps_mode passthrough "
          "-c:v libx264 -pix_fmt yuv420p '%s'", src);
    assert_int_equal(depth_video(src, dst, NULL, NULL, 0, NULL), FATHOM_OK);
    probe sv, ov;
    probe_stream(src, AVMEDIA_TYPE_VIDEO, &sv);
    probe_stream(dst, AVMEDIA_TYPE_VIDEO, &ov);
    assert_int_equal(sv.n, 50);
    expect_same_video_times(&sv, &ov, 0, 50, 0);
    /* really variable: 25 fps, then about 10 fps */
    assert_true(ov.p[5].t - ov.p[4].t < 0.05 && ov.p[45].t - ov.p[44].t > 0.07);
    assert_true(fabs(ov.duration - sv.duration) < 0.11);
}

/* The reader's frame equals what the ffmpeg CLI decodes for the same frame (autorotated): the
 * image path on an extracted frame sees the same pixels as the video path. */
static void compare_with_cli_frame(const char *src, int n, int expect_w, int expect_h) {
    const char *raw = tu_path(g_dir, "frame.rgb");
    sh(FF "-i '%s' -vf \"select=eq(n\\,%d)\" -frames:v 1 -f rawvideo -pix_fmt rgb24 '%s'", src, n,
       raw);
    FILE *f = fopen(raw, "rb");
    assert_non_null(f);
    size_t bytes = (size_t)expect_w * expect_h * 3;
    uint8_t *ref = malloc(bytes + 1);
    assert_int_equal(fread(ref, 1, bytes + 1, f), bytes);
    fclose(f);
    fathom_video_reader *r = NULL;
    assert_int_equal(fathom_video_reader_open(src, NULL, &r), FATHOM_OK);
    const fathom_video_info *in = fathom_video_reader_info(r);
    assert_int_equal(in->width, expect_w);
    assert_int_equal(in->height, expect_h);
    fathom_video_frame fr;
    int got = 0;
    for (int i = 0; i <= n; i++) {
        assert_int_equal(fathom_video_reader_next(r, &fr, &got), FATHOM_OK);
        assert_true(got);
    }
    int maxd = 0;
    for (int y = 0; y < expect_h; y++)
        for (int x = 0; x < expect_w * 3; x++) {
            int d = abs(fr.rgb[y * fr.stride + x] - ref[(size_t)y * expect_w * 3 + x]);
            maxd = d > maxd ? d : maxd;
        }
    printf("%s frame %d: max |reader - ffmpeg| = %d\n", src, n, maxd);
    assert_int_equal(maxd, 0);
    free(ref);
    fathom_video_reader_free(&r);
}

static void test_rotation(void **state) {
    (void)state;
    const char *plain = tu_path(g_dir, "plain.mp4");
    sh(FF PATTERN "-c:v libx264 -pix_fmt yuv420p '%s'", plain);
    compare_with_cli_frame(plain, 7, 160, 120);
    const char *degs[] = {"90", "180", "270"};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "rot%s.mp4", degs[i]);
        const char *rot = tu_path(g_dir, name);
        sh(FF "-i '%s' -c copy -metadata:s:v:0 rotate=%s '%s'", plain, degs[i], rot);
        int side = i != 1;
        compare_with_cli_frame(rot, 7, side ? 120 : 160, side ? 160 : 120);
    }
    /* rotated + depth video: upright size */
    const char *dst = tu_path(g_dir, "rot-depth.mkv");
    assert_int_equal(depth_video(tu_path(g_dir, "rot90.mp4"), dst, NULL, NULL, 0, NULL), FATHOM_OK);
    probe ov;
    probe_stream(dst, AVMEDIA_TYPE_VIDEO, &ov);
    assert_int_equal(ov.width, 120);
    assert_int_equal(ov.height, 160);
    assert_int_equal(ov.n, 50);
}

/* Remux src into an MP4 whose video stream carries display matrix m (the mov muxer writes it
 * in tkhd; the ffmpeg 5.1 CLI cannot set flips). */
static void remux_with_matrix(const char *src, const char *dst, const int32_t m[9]) {
    AVFormatContext *in = NULL, *out = NULL;
    assert_int_equal(avformat_open_input(&in, src, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(in, NULL) >= 0);
    assert_int_equal(avformat_alloc_output_context2(&out, NULL, "mp4", dst), 0);
    AVStream *os = avformat_new_stream(out, NULL);
    assert_non_null(os);
    assert_true(avcodec_parameters_copy(os->codecpar, in->streams[0]->codecpar) >= 0);
    os->codecpar->codec_tag = 0;
    os->time_base = in->streams[0]->time_base;
#if LIBAVFORMAT_VERSION_MAJOR < 61
    uint8_t *sd = av_stream_new_side_data(os, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
    assert_non_null(sd);
    memcpy(sd, m, 9 * sizeof(int32_t));
#else
    AVPacketSideData *sd = av_packet_side_data_new(&os->codecpar->coded_side_data,
                                                   &os->codecpar->nb_coded_side_data,
                                                   AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t), 0);
    assert_non_null(sd);
    memcpy(sd->data, m, 9 * sizeof(int32_t));
#endif
    assert_true(avio_open(&out->pb, dst, AVIO_FLAG_WRITE) >= 0);
    assert_true(avformat_write_header(out, NULL) >= 0);
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(in, pkt) >= 0) {
        if (pkt->stream_index == 0) {
            av_packet_rescale_ts(pkt, in->streams[0]->time_base, os->time_base);
            pkt->stream_index = 0;
            assert_true(av_interleaved_write_frame(out, pkt) >= 0);
        }
        av_packet_unref(pkt);
    }
    assert_int_equal(av_write_trailer(out), 0);
    av_packet_free(&pkt);
    avio_closep(&out->pb);
    avformat_free_context(out);
    avformat_close_input(&in);
}

/* ffmpeg's filters on packed RGB, written from their definitions (vf_transpose, vf_hflip,
 * vf_vflip): the reference for the reader's own transform. */
static uint8_t *ref_filter(const uint8_t *in, int w, int h, const char *f, int *ow, int *oh) {
    int tr = !strncmp(f, "transpose", 9), dir = tr ? f[9] - '0' : 0;
    *ow = tr ? h : w;
    *oh = tr ? w : h;
    uint8_t *out = malloc((size_t)w * h * 3);
    for (int y = 0; y < *oh; y++)
        for (int x = 0; x < *ow; x++) {
            int sy, sx;
            if (tr) { /* out(y, x) = in(x, y); dir&1 reverses source rows, dir&2 output rows */
                int yy = (dir & 2) ? *oh - 1 - y : y;
                sy = (dir & 1) ? h - 1 - x : x;
                sx = yy;
            } else {
                sy = !strcmp(f, "vflip") ? h - 1 - y : y;
                sx = !strcmp(f, "hflip") ? w - 1 - x : x;
            }
            memcpy(out + ((size_t)y * *ow + x) * 3, in + ((size_t)sy * w + sx) * 3, 3);
        }
    return out;
}

static void test_flips(void **state) {
    (void)state;
    const char *plain = tu_path(g_dir, "flip-src.mp4"), *dst = tu_path(g_dir, "flip.mp4");
    sh(FF "-f lavfi -i testsrc2=size=64x48:rate=5:duration=0.4 -c:v libx264 -pix_fmt yuv444p '%s'",
       plain);
    fathom_video_reader *r = NULL;
    fathom_video_frame fr;
    int got = 0;
    assert_int_equal(fathom_video_reader_open(plain, NULL, &r), FATHOM_OK);
    assert_int_equal(fathom_video_reader_next(r, &fr, &got), FATHOM_OK);
    assert_true(got);
    const int w = fr.width, h = fr.height;
    uint8_t *base = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++) memcpy(base + (size_t)y * w * 3, fr.rgb + y * fr.stride, (size_t)w * 3);
    fathom_video_reader_free(&r);
    const int angles[] = {0, 90, 180, 270}, flips[][2] = {{1, 0}, {0, 1}, {1, 1}};
    for (int a = 0; a < 4; a++)
        for (int fl = 0; fl < 3; fl++) {
            int32_t m[9];
            av_display_rotation_set(m, angles[a]);
            av_display_matrix_flip(m, flips[fl][0], flips[fl][1]);
            remux_with_matrix(plain, dst, m);
            /* the ffmpeg >= 6.1 CLI's autorotate decision (fftools ffmpeg_filter.c) */
            double theta = -round(av_display_rotation_get(m));
            theta -= 360 * floor(theta / 360 + 0.9 / 360);
            const char *f1 = NULL, *f2 = NULL;
            if (fabs(theta - 90) < 1) f1 = m[3] > 0 ? "transpose0" : "transpose1";
            else if (fabs(theta - 180) < 1) f1 = m[0] < 0 ? "hflip" : NULL, f2 = m[4] < 0 ? "vflip" : NULL;
            else if (fabs(theta - 270) < 1) f1 = m[3] < 0 ? "transpose3" : "transpose2";
            else if (m[4] < 0) f1 = "vflip";
            int ew = w, eh = h, tw, th;
            uint8_t *exp = base, *t;
            if (f1) exp = ref_filter(base, w, h, f1, &ew, &eh);
            if (f2) {
                t = ref_filter(exp, ew, eh, f2, &tw, &th);
                if (exp != base) free(exp);
                exp = t;
            }
            assert_int_equal(fathom_video_reader_open(dst, NULL, &r), FATHOM_OK);
            assert_int_equal(fathom_video_reader_next(r, &fr, &got), FATHOM_OK);
            assert_true(got);
            printf("angle %d hflip %d vflip %d: %s%s%s -> rotation %d mirrored %d\n", angles[a],
                   flips[fl][0], flips[fl][1], f1 ? f1 : "none", f2 ? "+" : "", f2 ? f2 : "",
                   fathom_video_reader_info(r)->rotation, fathom_video_reader_info(r)->mirrored);
            assert_int_equal(fr.width, ew);
            assert_int_equal(fr.height, eh);
            for (int y = 0; y < eh; y++)
                assert_memory_equal(fr.rgb + y * fr.stride, exp + (size_t)y * ew * 3, (size_t)ew * 3);
            fathom_video_reader_free(&r);
            if (exp != base) free(exp);
        }
    free(base);
}

static void test_subtitles_and_pcm(void **state) {
    (void)state;
    const char *srt = tu_path(g_dir, "s.srt"), *src = tu_path(g_dir, "subs.mkv");
    FILE *f = fopen(srt, "w");
    fputs("1\n00:00:00,200 --> 00:00:01,000\nHello\n\n2\n00:00:01,200 --> 00:00:01,800\nWorld\n", f);
    fclose(f);
    sh(FF PATTERN "-f lavfi -i sine=duration=2 -i '%s' -map 0 -map 1 -map 2 -c:v libx264 "
          "-pix_fmt yuv420p -c:a pcm_s16le -c:s srt '%s'", srt, src);
    /* Matroska holds PCM and SubRip: both copied packet for packet */
    const char *mkv = tu_path(g_dir, "subs-depth.mkv");
    assert_int_equal(depth_video(src, mkv, NULL, NULL, 0, NULL), FATHOM_OK);
    probe sa, oa, ss, os, ov;
    probe_stream(src, AVMEDIA_TYPE_AUDIO, &sa);
    probe_stream(mkv, AVMEDIA_TYPE_AUDIO, &oa);
    expect_same_packets(&sa, &oa, 0);
    probe_stream(src, AVMEDIA_TYPE_SUBTITLE, &ss);
    probe_stream(mkv, AVMEDIA_TYPE_SUBTITLE, &os);
    assert_int_equal(ss.n, 2);
    expect_same_packets(&ss, &os, 0);
    /* MP4 holds neither: PCM re-encoded to AAC, SubRip dropped */
    const char *mp4 = tu_path(g_dir, "subs-depth.mp4");
    fathom_video_writer_opts wo = fathom_video_writer_default_opts();
    wo.codec = FATHOM_VCODEC_H264;
    assert_int_equal(depth_video(src, mp4, NULL, &wo, 0, NULL), FATHOM_OK);
    probe_stream(mp4, AVMEDIA_TYPE_AUDIO, &oa);
    assert_int_equal(oa.codec_id, AV_CODEC_ID_AAC);
    /* 2 s at 44.1 kHz in 1024-sample frames (+ encoder priming) */
    assert_true(oa.n >= 86 && oa.n <= 90);
    probe_stream(mp4, AVMEDIA_TYPE_SUBTITLE, &os);
    assert_int_equal(os.n, -1);
    probe_stream(mp4, AVMEDIA_TYPE_VIDEO, &ov);
    assert_int_equal(ov.codec_id, AV_CODEC_ID_H264);
    assert_int_equal(ov.format, AV_PIX_FMT_YUV420P); /* FFmpeg decodes 4:0:0 H.264 as 4:2:0 */
    assert_int_equal(ov.n, 50);
    assert_true(fabs(ov.duration - 2.0) < 0.1);
}

static void test_range_and_limits(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "r.mkv");
    sh(FF PATTERN "-f lavfi -i sine=duration=2 -c:v libx264 -pix_fmt yuv420p -g 10 -c:a flac '%s'",
       src);
    probe sv, ov, oa;
    probe_stream(src, AVMEDIA_TYPE_VIDEO, &sv);
    fathom_video_reader_opts ro = fathom_video_reader_default_opts();
    ro.start = 0.5;
    ro.end = 1.5;
    const char *dst = tu_path(g_dir, "r-depth.mkv");
    assert_int_equal(depth_video(src, dst, &ro, NULL, 0, NULL), FATHOM_OK);
    probe_stream(dst, AVMEDIA_TYPE_VIDEO, &ov);
    expect_same_video_times(&sv, &ov, 13, 25, 0); /* 0.52 .. 1.48 */
    probe_stream(dst, AVMEDIA_TYPE_AUDIO, &oa);
    assert_true(oa.n > 0);
    assert_true(oa.p[0].t >= 0.45 && oa.p[oa.n - 1].t < 1.5);

    ro = fathom_video_reader_default_opts();
    ro.max_frames = 7;
    ro.max_res = 80;
    run_result res;
    assert_int_equal(depth_video(src, dst, &ro, NULL, 0, &res), FATHOM_OK);
    probe_stream(dst, AVMEDIA_TYPE_VIDEO, &ov);
    expect_same_video_times(&sv, &ov, 0, 7, 0);
    assert_int_equal(ov.width, 80);
    assert_int_equal(ov.height, 60);
}

static void test_truncated_and_corrupt(void **state) {
    (void)state;
    const char *mkv = tu_path(g_dir, "t.mkv"), *cut = tu_path(g_dir, "cut.mkv");
    sh(FF PATTERN "-f lavfi -i sine=duration=2 -c:v libx264 -pix_fmt yuv420p -g 10 -c:a mp2 '%s'",
       mkv);
    struct stat st;
    assert_int_equal(stat(mkv, &st), 0);
    sh("head -c %lld '%s' > '%s'", (long long)(st.st_size / 2), mkv, cut);
    run_result res;
    const char *dst = tu_path(g_dir, "cut-depth.mkv");
    assert_int_equal(depth_video(cut, dst, NULL, NULL, 0, &res), FATHOM_OK);
    printf("truncated: %lld frames, truncated=%d (%s)\n", (long long)res.frames,
           res.stats.truncated, res.stats.end_reason);
    assert_true(res.frames > 5 && res.frames < 50);
    assert_true(res.stats.truncated);
    assert_non_null(strstr(res.stats.end_reason, "of 2.0"));
    probe ov;
    probe_stream(dst, AVMEDIA_TYPE_VIDEO, &ov);
    assert_int_equal(ov.n, res.frames);

    /* Overwrite video payload bytes in the middle: errors counted, all good frames written. */
    const char *src = tu_path(g_dir, "t.ts"), *bad = tu_path(g_dir, "bad.ts");
    sh(FF PATTERN "-f lavfi -i sine=duration=2 -c:v libx264 -pix_fmt yuv420p -g 10 -c:a mp2 '%s'",
       src);
    assert_int_equal(stat(src, &st), 0);
    sh("cp '%s' '%s'", src, bad);
    assert_int_equal(stat(src, &st), 0);
    FILE *f = fopen(bad, "r+b");
    assert_non_null(f);
    uint8_t junk[150];
    for (int i = 0; i < 150; i++) junk[i] = (uint8_t)(i * 37 + 11);
    for (long off = st.st_size / 4; off < st.st_size * 3 / 4; off += 188 * 9) {
        fseek(f, off / 188 * 188 + 30, SEEK_SET); /* inside a packet, past its header */
        fwrite(junk, 1, sizeof junk, f);
    }
    fclose(f);
    const char *dst2 = tu_path(g_dir, "bad-depth.mkv");
    assert_int_equal(depth_video(bad, dst2, NULL, NULL, 0, &res), FATHOM_OK);
    printf("corrupt: %lld frames, %lld decode errors\n", (long long)res.frames,
           (long long)res.stats.decode_errors);
    assert_true(res.stats.decode_errors > 0);
    assert_true(res.frames >= 25);
    probe_stream(dst2, AVMEDIA_TYPE_VIDEO, &ov);
    assert_int_equal(ov.n, res.frames);
}

static void test_no_video_stream(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "audio.wav");
    sh(FF "-f lavfi -i sine=duration=1 '%s'", src);
    fathom_video_reader *r = NULL;
    assert_int_equal(fathom_video_reader_open(src, NULL, &r), FATHOM_ERR_NOT_FOUND);
    assert_null(r);
    assert_non_null(strstr(fathom_last_error(), "no video stream"));
    assert_non_null(strstr(fathom_last_error(), "audio.wav"));
    assert_non_null(strstr(fathom_last_error(), "pcm_s16le"));
    assert_int_equal(fathom_video_reader_open(tu_path(g_dir, "missing.mp4"), NULL, &r),
                     FATHOM_ERR_NOT_FOUND);
    const char *junk = tu_path(g_dir, "junk.mp4");
    sh("head -c 5000 /dev/urandom > '%s'", junk);
    assert_int_not_equal(fathom_video_reader_open(junk, NULL, &r), FATHOM_OK);
    assert_non_null(strstr(fathom_last_error(), "junk.mp4"));
}

static void test_partial_on_interrupt(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "p.mp4");
    sh(FF PATTERN "-f lavfi -i sine=duration=2 -c:v libx264 -pix_fmt yuv420p -c:a aac '%s'", src);
    char pname[64];
    snprintf(pname, sizeof pname, "p-depth.partial-%ld.mkv", (long)getpid());
    const char *dst = tu_path(g_dir, "p-depth.mkv"), *part = tu_path(g_dir, pname);
    assert_int_equal(depth_video(src, dst, NULL, NULL, 9, NULL), FATHOM_OK);
    assert_false(exists(dst));
    assert_true(exists(part));
    probe ov;
    probe_stream(part, AVMEDIA_TYPE_VIDEO, &ov); /* closed properly: readable */
    assert_int_equal(ov.n, 9);
    /* a later complete run replaces nothing partial-looking and renames at the end */
    assert_int_equal(depth_video(src, dst, NULL, NULL, 0, NULL), FATHOM_OK);
    assert_true(exists(dst));
    char buf[256], want[256];
    const long pid = (long)getpid(); /* unique per process (concurrent runs) */
    assert_int_equal(fathom_video_partial_name("/a/b.c/name", buf, sizeof buf), 0);
    snprintf(want, sizeof want, "/a/b.c/name.partial-%ld", pid);
    assert_string_equal(buf, want);
    assert_int_equal(fathom_video_partial_name("x/.hidden", buf, sizeof buf), 0);
    snprintf(want, sizeof want, "x/.hidden.partial-%ld", pid);
    assert_string_equal(buf, want);
    assert_int_equal(fathom_video_partial_name("d.mp4", buf, sizeof buf), 0);
    snprintf(want, sizeof want, "d.partial-%ld.mp4", pid);
    assert_string_equal(buf, want);
}

static void test_preview_codecs(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "c.mkv");
    sh(FF PATTERN "-c:v libx264 -pix_fmt yuv420p '%s'", src);
    struct { fathom_video_codec c; const char *pf; int color; int expect_fmt; int codec_id; } t[] = {
        /* FFmpeg's H.264 decoder presents 4:0:0 as 4:2:0 (HEVC's keeps it grey) */
        {FATHOM_VCODEC_H264, "gray10le", 0, AV_PIX_FMT_YUV420P10LE, AV_CODEC_ID_H264},
        {FATHOM_VCODEC_H265, NULL, 0, AV_PIX_FMT_GRAY8, AV_CODEC_ID_HEVC},
        {FATHOM_VCODEC_H264, NULL, 1, AV_PIX_FMT_YUV420P, AV_CODEC_ID_H264},
        {FATHOM_VCODEC_H265, "yuv420p10le", 1, AV_PIX_FMT_YUV420P10LE, AV_CODEC_ID_HEVC},
    };
    probe sv, ov;
    probe_stream(src, AVMEDIA_TYPE_VIDEO, &sv);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        fathom_video_writer_opts wo = fathom_video_writer_default_opts();
        wo.codec = t[i].c;
        wo.pix_fmt = t[i].pf;
        wo.color = t[i].color;
        wo.crf = 28;
        const char *dst = tu_path(g_dir, "c-depth.mkv");
        assert_int_equal(depth_video(src, dst, NULL, &wo, 0, NULL), FATHOM_OK);
        probe_stream(dst, AVMEDIA_TYPE_VIDEO, &ov);
        assert_int_equal(ov.codec_id, t[i].codec_id);
        assert_int_equal(ov.format, t[i].expect_fmt);
        expect_same_video_times(&sv, &ov, 0, 50, 0);
    }
    fathom_video_writer_opts wo = fathom_video_writer_default_opts();
    wo.pix_fmt = "rgb24"; /* FFV1 cannot */
    assert_int_equal(depth_video(src, tu_path(g_dir, "x.mkv"), NULL, &wo, 0, NULL),
                     FATHOM_ERR_UNSUPPORTED);
    assert_non_null(strstr(fathom_last_error(), "rgb24"));
    wo.pix_fmt = NULL;
    assert_int_equal(depth_video(src, tu_path(g_dir, "x.mp4"), NULL, &wo, 0, NULL),
                     FATHOM_ERR_UNSUPPORTED); /* FFV1 does not go in MP4 */
    char part_x[64];
    snprintf(part_x, sizeof part_x, "x.partial-%ld.mp4", (long)getpid());
    assert_false(exists(tu_path(g_dir, part_x)));
    fathom_video_codec c;
    assert_int_equal(fathom_video_codec_parse("hevc", &c), FATHOM_OK);
    assert_int_equal(c, FATHOM_VCODEC_H265);
    assert_int_equal(fathom_video_codec_parse("vp9", &c), FATHOM_ERR_INVALID_ARG);
}

/* FFV1 with more encoder threads than its 4 default slices gets a slice per thread (the
 * chunk merge encodes on many cores): still lossless, so the decoded frames are those of a
 * one-thread encode, while the packets differ (other slices). */
static void test_ffv1_slice_threads(void **state) {
    (void)state;
    const char *src = tu_path(g_dir, "s.mkv");
    sh(FF PATTERN "-c:v libx264 -pix_fmt yuv420p '%s'", src);
    fathom_video_writer_opts wo = fathom_video_writer_default_opts();
    wo.threads = 1;
    const char *one = tu_path(g_dir, "s1-depth.mkv"), *many = tu_path(g_dir, "s8-depth.mkv");
    assert_int_equal(depth_video(src, one, NULL, &wo, 0, NULL), FATHOM_OK);
    wo.threads = 8;
    assert_int_equal(depth_video(src, many, NULL, &wo, 0, NULL), FATHOM_OK);
    sh("ffmpeg -nostdin -v error -i '%s' -f framemd5 - | grep -v '^#' > '%s.md5'", one, one);
    sh("ffmpeg -nostdin -v error -i '%s' -f framemd5 - | grep -v '^#' > '%s.md5'", many, many);
    sh("cmp -s '%s.md5' '%s.md5'", one, many);
    probe a, b;
    probe_stream(one, AVMEDIA_TYPE_VIDEO, &a);
    probe_stream(many, AVMEDIA_TYPE_VIDEO, &b);
    assert_int_equal(a.n, 50);
    assert_int_equal(b.n, 50);
    int differ = 0;
    for (int i = 0; i < a.n; i++) differ += a.p[i].crc != b.p[i].crc;
    assert_int_equal(differ, 50);
}

static int setup(void **state) {
    (void)state;
    if (system("ffmpeg -version > /dev/null 2>&1") != 0) tu_skip("the ffmpeg CLI is not installed");
    g_dir = tu_mkdtemp();
    return g_dir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

int main(void) {
    av_log_set_level(AV_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ffv1_audio_copy),
        cmocka_unit_test(test_vfr_timestamps),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_flips),
        cmocka_unit_test(test_subtitles_and_pcm),
        cmocka_unit_test(test_range_and_limits),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_no_video_stream),
        cmocka_unit_test(test_partial_on_interrupt),
        cmocka_unit_test(test_preview_codecs),
        cmocka_unit_test(test_ffv1_slice_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
