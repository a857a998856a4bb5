/* chunk_merge.c - merge finished chunk archives into one set of outputs (see chunk_job.h).
 *
 * Streaming, frame by frame in presentation order: memory is the overlap of one border (raw
 * and aligned copies), the temporal normalization's look-ahead ring and one frame of scratch
 * per format, whatever the video's length. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/align.h"
#include "cluster/chunk_job.h"
#include "cluster/chunk_npz.h"
#include "cluster/chunk_plan.h"
#include "core/alloc.h"
#include "core/status.h"
#include "media/atomic_file.h"
#include "media/colormap.h"
#include "media/normalize.h"
#include "pipeline/naming.h"
#include "pipeline/video_priv.h"
#include "video/temporal_norm.h"
#include "video/video_npz.h"
#include "video/video_writer.h"

#define NORMALIZED_FORMATS (FATHOM_OUT_PNG16 | FATHOM_OUT_PNG8 | FATHOM_OUT_COLOR)
#define RAW_FORMATS (FATHOM_OUT_NPY | FATHOM_OUT_NPZ | FATHOM_OUT_EXR)

static const fathom_output_format k_order[] = {FATHOM_OUT_NPY, FATHOM_OUT_NPZ, FATHOM_OUT_PNG16,
                                               FATHOM_OUT_PNG8, FATHOM_OUT_COLOR, FATHOM_OUT_EXR};

typedef struct slot {
    float *depth; /* owned: px floats */
    int64_t index, pts, dur;
} slot;

typedef struct merger {
    const char *input, *outdir, *stem;
    const fathom_video_run_opts *vo;
    fathom_write_opts write;
    int h, w;
    size_t px;
    AVRational tb;
    fathom_video_npz *npz;         /* owned, NULL when not asked */
    fathom_video_writer *writer;   /* owned, NULL when not asked */
    AVFormatContext *demux;        /* owned: the input's other streams for the writer */
    AVPacket *pkt;                 /* owned */
    int have_pkt, demux_eof, vstream;
    fathom_tnorm *tn;              /* owned, NULL when nothing is normalized */
    slot *ring;                    /* owned: cap slots */
    int cap, head, count;
    uint16_t *q16;                 /* owned scratch */
    uint8_t *q8, *rgb;             /* owned scratch */
    const uint8_t (*lut)[3];       /* borrowed */
    unsigned raw_seq, norm_seq;    /* sequence formats by kind */
    int made_dir;
} merger;

int fathom_chunk_aligns(const fathom_video_run_opts *vo, int metric, int video) {
    const int normalized = vo->video_path || (!vo->seq_formats && !vo->npz) ||
                           (vo->seq_formats & NORMALIZED_FORMATS);
    return (normalized || video) && !metric; /* metric depth keeps its scale */
}

int fathom_chunk_overlap(const fathom_video_run_opts *vo, int metric, int video, int overlap) {
    if (!fathom_chunk_aligns(vo, metric, video) && !video) return 0;
    if (overlap >= 0) return overlap;
    return video ? FATHOM_CHUNK_OVERLAP_VDA : FATHOM_CHUNK_OVERLAP_DEFAULT;
}

static fathom_status write_seq(merger *mg, int64_t index, const float *depth, unsigned formats,
                               float lo, float hi) {
    char rel[1200], path[4096];
    snprintf(rel, sizeof rel, "%s/%06" PRId64, mg->stem, index);
    for (size_t i = 0; i < sizeof k_order / sizeof k_order[0]; i++) {
        if (!(formats & k_order[i])) continue;
        FATHOM_TRY(fathom_naming_path(mg->outdir, rel, mg->vo->seq_formats, k_order[i], path,
                                      sizeof path));
        if (!mg->made_dir) {
            FATHOM_TRY(fathom_mkdir_parents(path));
            mg->made_dir = 1;
        }
        fathom_write_opts o = mg->write;
        if (k_order[i] & NORMALIZED_FORMATS) o.norm_min = lo, o.norm_max = hi;
        FATHOM_TRY(fathom_depth_write(path, k_order[i], depth, mg->h, mg->w, &o));
    }
    return FATHOM_OK;
}

/* The source's other streams, packet for packet, up to upto_us (INT64_MAX: all). */
static fathom_status pass_packets(merger *mg, int64_t upto_us) {
    if (!mg->demux) return FATHOM_OK;
    for (;;) {
        if (!mg->have_pkt) {
            if (mg->demux_eof) return FATHOM_OK;
            if (av_read_frame(mg->demux, mg->pkt) < 0) {
                mg->demux_eof = 1;
                return FATHOM_OK;
            }
            if (mg->pkt->stream_index == mg->vstream) {
                av_packet_unref(mg->pkt);
                continue;
            }
            mg->have_pkt = 1;
        }
        int64_t t = mg->pkt->dts != AV_NOPTS_VALUE ? mg->pkt->dts : mg->pkt->pts;
        AVRational stb = mg->demux->streams[mg->pkt->stream_index]->time_base;
        int64_t us = t == AV_NOPTS_VALUE ? INT64_MIN : av_rescale_q(t, stb, AV_TIME_BASE_Q);
        if (upto_us != INT64_MAX && us > upto_us) return FATHOM_OK;
        mg->have_pkt = 0;
        FATHOM_TRY(fathom_video_writer_write_packet(mg->writer, mg->pkt, mg->pkt->stream_index));
        av_packet_unref(mg->pkt);
    }
}

/* The oldest normalized frame leaves the ring with its range. */
static fathom_status emit_norm(merger *mg, float lo, float hi) {
    const slot *sl = &mg->ring[mg->head];
    if (mg->writer) {
        FATHOM_TRY(pass_packets(mg, av_rescale_q(sl->pts, mg->tb, AV_TIME_BASE_Q)));
        if (mg->vo->enc.color) {
            fathom_normalize_u8(sl->depth, mg->px, lo, hi, mg->write.invert, mg->q8);
            fathom_colormap_apply(mg->lut, mg->q8, mg->px, mg->rgb);
            FATHOM_TRY(fathom_video_writer_write_rgb(mg->writer, mg->rgb, (size_t)mg->w * 3, sl->pts,
                                                     sl->dur));
        } else {
            fathom_normalize_u16(sl->depth, mg->px, lo, hi, mg->write.invert, mg->q16);
            FATHOM_TRY(fathom_video_writer_write_gray16(mg->writer, mg->q16, sl->pts, sl->dur));
        }
    }
    if (mg->norm_seq) FATHOM_TRY(write_seq(mg, sl->index, sl->depth, mg->norm_seq, lo, hi));
    mg->head = (mg->head + 1) % mg->cap;
    mg->count--;
    return FATHOM_OK;
}

static fathom_status drain(merger *mg) {
    float lo, hi;
    while (mg->count > 0 && fathom_tnorm_pop(mg->tn, &lo, &hi, NULL)) FATHOM_TRY(emit_norm(mg, lo, hi));
    return FATHOM_OK;
}

/* Frame `index` of the merged video: raw (owner chunk's) and aligned depth. */
static fathom_status emit(merger *mg, int64_t index, int64_t pts, int64_t dur, const float *raw,
                          const float *aligned) {
    if (mg->npz) FATHOM_TRY(fathom_video_npz_add(mg->npz, raw, pts));
    if (mg->raw_seq) FATHOM_TRY(write_seq(mg, index, raw, mg->raw_seq, 0, 0));
    if (!mg->tn) return FATHOM_OK;
    slot *sl = &mg->ring[(mg->head + mg->count) % mg->cap];
    memcpy(sl->depth, aligned, mg->px * sizeof(float));
    sl->index = index, sl->pts = pts, sl->dur = dur;
    FATHOM_TRY(fathom_tnorm_push(mg->tn, sl->depth, mg->h, mg->w));
    mg->count++;
    return drain(mg);
}

static void merger_free(merger *mg) {
    fathom_video_npz_free(&mg->npz);
    fathom_video_writer_free(&mg->writer); /* unfinished: stays under its partial name */
    av_packet_free(&mg->pkt);
    avformat_close_input(&mg->demux);
    fathom_tnorm_free(&mg->tn);
    for (int i = 0; mg->ring && i < mg->cap; i++) fathom_free_sized(mg->ring[i].depth, mg->px * 4);
    free(mg->ring);
    fathom_free_sized(mg->q16, mg->px * 2);
    fathom_free_sized(mg->q8, mg->px);
    fathom_free_sized(mg->rgb, mg->px * 3);
}

static fathom_status open_outputs(merger *mg, const fathom_run_params *p, int overwrite,
                                  fathom_chunk_run_result *res) {
    const fathom_video_run_opts *vo = mg->vo;
    mg->raw_seq = vo->seq_formats & RAW_FORMATS;
    mg->norm_seq = vo->seq_formats & NORMALIZED_FORMATS;
    if (vo->seq_formats) snprintf(res->outputs[2], sizeof res->outputs[2], "%s/%s", mg->outdir, mg->stem);
    if (vo->npz) {
        snprintf(res->outputs[1], sizeof res->outputs[1], "%s/%s.npz", mg->outdir, mg->stem);
        FATHOM_TRY(fathom_video_npz_open(res->outputs[1], mg->h, mg->w, mg->tb.num, mg->tb.den,
                                         overwrite, &mg->npz));
    }
    if (vo->video_path || (!vo->seq_formats && !vo->npz)) {
        char *vp = res->outputs[0];
        if (vo->video_path) snprintf(vp, sizeof res->outputs[0], "%s", vo->video_path);
        else snprintf(vp, sizeof res->outputs[0], "%s/%s_depth.mkv", mg->outdir, mg->stem);
        if (avformat_open_input(&mg->demux, mg->input, NULL, NULL) < 0 ||
            avformat_find_stream_info(mg->demux, NULL) < 0 ||
            (mg->vstream = av_find_best_stream(mg->demux, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0)
            return fathom_fail(FATHOM_ERR_IO, "%s: cannot open it again for its other streams",
                               mg->input);
        const AVStream *st = mg->demux->streams[mg->vstream];
        AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
        if (fr.num <= 0 || fr.den <= 0) fr = (AVRational){0, 1};
        fathom_video_source_desc d = {mg->tb, fr, mg->demux, mg->vstream};
        if (!(mg->pkt = av_packet_alloc())) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
        FATHOM_TRY(fathom_mkdir_parents(vp));
        FATHOM_TRY(fathom_video_writer_open(vp, mg->w, mg->h, &d, &vo->enc, &mg->writer));
    }
    if (mg->writer || mg->norm_seq) {
        fathom_tnorm_opts to = vo->tnorm;
        if (vo->normalize == FATHOM_VNORM_FRAME) to.decay = 0, to.lookahead = 0, to.cut_threshold = 0;
        FATHOM_TRY(fathom_tnorm_create(&to, &mg->tn));
        mg->cap = to.lookahead + 1;
        if (!(mg->ring = calloc((size_t)mg->cap, sizeof *mg->ring)))
            return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
        for (int i = 0; i < mg->cap; i++)
            if (!(mg->ring[i].depth = fathom_alloc(mg->px * 4)))
                return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the merge");
    }
    mg->q16 = fathom_alloc(mg->px * 2);
    mg->q8 = fathom_alloc(mg->px);
    mg->rgb = fathom_alloc(mg->px * 3);
    if (!mg->q16 || !mg->q8 || !mg->rgb) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    mg->lut = fathom_colormap_lut(mg->write.colormap);
    if (!mg->lut) mg->lut = fathom_colormap_lut(FATHOM_CMAP_SPECTRAL_R);
    (void)p;
    return FATHOM_OK;
}

/* Pass 1: shapes, counts and timestamps of every chunk (pts: every merged frame's), checked
 * against the plan; *max_ov: the longest overlap. */
static fathom_status read_plan(merger *m, const char *input, const char *const *chunk_npz,
                               const fathom_chunk *chunks, int n, int64_t *pts, int64_t *max_ov) {
    fathom_status s = FATHOM_OK;
    fathom_chunk_npz *z = NULL; /* owned: the chunk being read */
    for (int i = 0; s == FATHOM_OK && i < n; i++) {
        if ((s = fathom_chunk_npz_open(chunk_npz[i], &z)) != FATHOM_OK) break;
        int64_t ov = chunks[i].first - chunks[i].decode_from;
        int h, w, tn, td;
        fathom_chunk_npz_size(z, &h, &w);
        fathom_chunk_npz_time_base(z, &tn, &td);
        if (i == 0) m->h = h, m->w = w, m->tb = (AVRational){tn, td};
        if (fathom_chunk_npz_frames(z) != ov + chunks[i].count || h != m->h || w != m->w ||
            tn != m->tb.num || td != m->tb.den)
            s = fathom_fail(FATHOM_ERR_FORMAT, "%s: chunk %d (%s) does not match the plan (%lld "
                            "frames of %dx%d, expected %lld of %dx%d): remove it and resume",
                            input, i, chunk_npz[i], (long long)fathom_chunk_npz_frames(z), w, h,
                            (long long)(ov + chunks[i].count), m->w, m->h);
        for (int64_t j = 0; s == FATHOM_OK && j < chunks[i].count; j++)
            pts[chunks[i].first + j] = fathom_chunk_npz_pts(z, ov + j);
        if (ov > *max_ov) *max_ov = ov;
        fathom_chunk_npz_free(&z);
    }
    return s;
}

/* After the last frame: flush the normalizer, finish the video and the archive, mark a frame
 * sequence whole as a single pass does (--resume skips it). */
static fathom_status finish_outputs(merger *m, const fathom_video_run_opts *vo, const char *input,
                                    int64_t frames, fathom_chunk_run_result *res) {
    fathom_status s = FATHOM_OK;
    if (m->tn) {
        fathom_tnorm_flush(m->tn);
        s = drain(m);
    }
    if (s == FATHOM_OK && m->writer) s = pass_packets(m, INT64_MAX);
    if (s == FATHOM_OK && m->writer) s = fathom_video_writer_finish(m->writer);
    if (s == FATHOM_OK && m->npz) s = fathom_video_npz_finish(m->npz);
    if (s == FATHOM_OK && vo->seq_formats) {
        char path[4200], text[4300];
        snprintf(path, sizeof path, "%s/" FATHOM_VIDEO_SEQ_DONE, res->outputs[2]);
        int n = snprintf(text, sizeof text, "input %s\nframes %lld\n", input, (long long)frames);
        if ((s = fathom_mkdir_p(res->outputs[2])) == FATHOM_OK)
            s = fathom_atomic_write_file(path, text, (size_t)n);
    }
    return s;
}

fathom_status fathom_chunk_merge(const char *input, const char *const *chunk_npz,
                                 const fathom_chunk *chunks, int n,
                                 const fathom_run_params *params, const fathom_video_run_opts *vo,
                                 int metric, int video, fathom_chunk_seam *seams,
                                 fathom_chunk_run_result *res) {
    merger mg;
    memset(&mg, 0, sizeof mg);
    char stem[1024];
    fathom_naming_stem(input, stem, sizeof stem);
    if (!stem[0]) snprintf(stem, sizeof stem, "video");
    mg.input = input, mg.outdir = params->outdir, mg.stem = stem, mg.vo = vo;
    mg.write = params->write;
    mg.write.metric = metric;
    const int64_t frames = chunks[n - 1].first + chunks[n - 1].count;
    int64_t *pts = malloc((size_t)frames * sizeof *pts); /* owned: every merged frame's pts */
    float *held_raw = NULL, *held_al = NULL, *b = NULL, *al = NULL; /* owned */
    int64_t max_ov = 0;
    fathom_chunk_npz *z = NULL; /* owned: the chunk being read */
    fathom_status s = pts ? FATHOM_OK : fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    if (s == FATHOM_OK) s = read_plan(&mg, input, chunk_npz, chunks, n, pts, &max_ov);
    mg.px = (size_t)mg.h * mg.w;
    const int do_align = fathom_chunk_aligns(vo, metric, video);
    /* a relative VDA chunk has its own scale: its raw depth is aligned too (per-frame models:
     * the owner chunk's frames, identical to a single pass) */
    const int align_raw = do_align && video;
    if (s == FATHOM_OK) {
        held_raw = malloc((size_t)(max_ov ? max_ov : 1) * mg.px * sizeof(float));
        held_al = malloc((size_t)(max_ov ? max_ov : 1) * mg.px * sizeof(float));
        b = malloc(mg.px * sizeof(float));
        al = malloc(mg.px * sizeof(float));
        if (!held_raw || !held_al || !b || !al) s = fathom_fail(FATHOM_ERR_NOMEM, "out of memory "
                                                                "for the merge");
    }
    if (s == FATHOM_OK)
        s = open_outputs(&mg, params, params->existing == FATHOM_EXISTING_OVERWRITE, res);
    /* the last frame lasts as long as the frame rate says, else as long as the one before */
    AVRational fr = mg.demux ? mg.demux->streams[mg.vstream]->avg_frame_rate : (AVRational){0, 1};
    int64_t last_dur = fr.num > 0 ? av_rescale_q(1, av_inv_q(fr), mg.tb)
                       : frames > 1 ? pts[frames - 1] - pts[frames - 2] : 1;
    if (last_dur <= 0) last_dur = 1;
#define DUR(g) ((g) + 1 < frames ? pts[(g) + 1] - pts[(g)] : last_dur)
    /* pass 2: frames in order; each chunk aligned to the previous over its overlap */
    for (int i = 0; s == FATHOM_OK && i < n; i++) {
        if ((s = fathom_chunk_npz_open(chunk_npz[i], &z)) != FATHOM_OK) break;
        const int64_t ov = chunks[i].first - chunks[i].decode_from;
        const int64_t ov_next = i + 1 < n ? chunks[i + 1].first - chunks[i + 1].decode_from : 0;
        double sc = 1, sh = 0, resid = 0;
        if (ov > 0) { /* chunk i's first ov frames are chunk i-1's last ov (held) */
            fathom_align_acc acc;
            fathom_align_init(&acc);
            float *bs = malloc((size_t)ov * mg.px * sizeof(float)); /* owned: this overlap */
            if (!bs) s = fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the merge");
            for (int64_t j = 0; s == FATHOM_OK && j < ov; j++) {
                s = fathom_chunk_npz_next(z, bs + j * mg.px);
                if (s == FATHOM_OK && do_align)
                    fathom_align_add(&acc, held_al + j * mg.px, bs + j * mg.px, mg.px);
            }
            if (s == FATHOM_OK && do_align) fathom_align_solve(&acc, &sc, &sh, &resid);
            for (int64_t j = 0; s == FATHOM_OK && j < ov; j++) {
                const int64_t g = chunks[i].first - ov + j;
                float *out = held_al + j * mg.px;
                if (do_align) {
                    fathom_align_apply(al, bs + j * mg.px, mg.px, sc, sh);
                    fathom_align_fade(out, out, al, mg.px, (int)j, (int)ov);
                }
                s = emit(&mg, g, pts[g], DUR(g), align_raw ? out : held_raw + j * mg.px, out);
            }
            free(bs);
            seams[i - 1] = (fathom_chunk_seam){i, (int)ov, sc, sh, resid};
        }
        for (int64_t j = 0; s == FATHOM_OK && j < chunks[i].count; j++) {
            const int64_t g = chunks[i].first + j;
            if ((s = fathom_chunk_npz_next(z, b)) != FATHOM_OK) break;
            fathom_align_apply(al, b, mg.px, sc, sh);
            const int64_t hold = j - (chunks[i].count - ov_next);
            if (hold >= 0) { /* the next chunk's overlap: emitted once both are known */
                memcpy(held_raw + hold * mg.px, b, mg.px * sizeof(float));
                memcpy(held_al + hold * mg.px, al, mg.px * sizeof(float));
            } else {
                s = emit(&mg, g, pts[g], DUR(g), align_raw ? al : b, al);
            }
        }
        fathom_chunk_npz_free(&z);
    }
#undef DUR
    if (s == FATHOM_OK) s = finish_outputs(&mg, vo, input, frames, res);
    if (s == FATHOM_OK) res->frames = frames;
    fathom_chunk_npz_free(&z);
    merger_free(&mg);
    free(pts);
    free(held_raw);
    free(held_al);
    free(b);
    free(al);
    return s;
}
