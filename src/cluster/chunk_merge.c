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

typedef struct fathom_chunk_merger merger;

#define NORMALIZED_FORMATS (FATHOM_OUT_PNG16 | FATHOM_OUT_PNG8 | FATHOM_OUT_COLOR)
#define RAW_FORMATS (FATHOM_OUT_NPY | FATHOM_OUT_NPZ | FATHOM_OUT_EXR)

static const fathom_output_format k_order[] = {FATHOM_OUT_NPY, FATHOM_OUT_NPZ, FATHOM_OUT_PNG16,
                                               FATHOM_OUT_PNG8, FATHOM_OUT_COLOR, FATHOM_OUT_EXR};

typedef struct slot {
    float *depth; /* owned: px floats */
    int64_t index, pts, dur;
} slot;

struct fathom_chunk_merger {
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
    /* the incremental state: chunks are added in plan order */
    const fathom_chunk *chunks;    /* borrowed: the plan, n entries */
    int n, next;                   /* chunks; the next one to add */
    int64_t frames, max_ov;        /* merged frames in all; the longest overlap */
    int64_t *pts;                  /* owned: frames; filled as chunks are added */
    int64_t last_dur;              /* the last frame's duration (-1: not known yet) */
    int do_align, align_raw;
    const fathom_run_params *params; /* borrowed */
    fathom_chunk_seam *seams;      /* borrowed: n - 1 */
    fathom_chunk_run_result *res;  /* borrowed */
    float *held_raw, *held_al;     /* owned: max(max_ov, 1) frames held for the next chunk */
    int64_t held;                  /* frames held there */
    float *bs, *b, *al;            /* owned: an overlap of the new chunk, one frame, its aligned copy */
    double sc, sh;                 /* the alignment of the chunk being added */
    char stem_buf[1024];
};

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
    free(mg->pts);
    free(mg->held_raw);
    free(mg->held_al);
    free(mg->bs);
    free(mg->b);
    free(mg->al);
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

fathom_status fathom_chunk_merger_create(const char *input, const fathom_chunk *chunks, int n,
                                         const fathom_run_params *params,
                                         const fathom_video_run_opts *vo, int metric, int video,
                                         fathom_chunk_seam *seams, fathom_chunk_run_result *res,
                                         fathom_chunk_merger **out) {
    *out = NULL;
    merger *mg = calloc(1, sizeof *mg);
    if (!mg) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    fathom_naming_stem(input, mg->stem_buf, sizeof mg->stem_buf);
    if (!mg->stem_buf[0]) snprintf(mg->stem_buf, sizeof mg->stem_buf, "video");
    mg->input = input, mg->outdir = params->outdir, mg->stem = mg->stem_buf, mg->vo = vo;
    mg->write = params->write;
    mg->write.metric = metric;
    mg->params = params, mg->seams = seams, mg->res = res;
    mg->chunks = chunks, mg->n = n;
    mg->frames = chunks[n - 1].first + chunks[n - 1].count;
    mg->last_dur = -1;
    for (int i = 0; i < n; i++)
        if (chunks[i].first - chunks[i].decode_from > mg->max_ov)
            mg->max_ov = chunks[i].first - chunks[i].decode_from;
    mg->do_align = fathom_chunk_aligns(vo, metric, video);
    /* a relative VDA chunk has its own scale: its raw depth is aligned too (per-frame models:
     * the owner chunk's frames, identical to a single pass) */
    mg->align_raw = mg->do_align && video;
    if (!(mg->pts = malloc((size_t)mg->frames * sizeof *mg->pts))) {
        free(mg);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
    }
    *out = mg;
    return FATHOM_OK;
}

void fathom_chunk_merger_free(fathom_chunk_merger **mg) {
    if (!mg || !*mg) return;
    merger_free(*mg);
    free(*mg);
    *mg = NULL;
}

int fathom_chunk_merger_next(const fathom_chunk_merger *mg) { return mg->next; }

/* Chunk 0 gives the frame size and time base: the outputs and the buffers. */
static fathom_status open_first(merger *mg, int h, int w, int tn, int td) {
    mg->h = h, mg->w = w, mg->tb = (AVRational){tn, td};
    mg->px = (size_t)h * w;
    const size_t hold = (size_t)(mg->max_ov ? mg->max_ov : 1) * mg->px * sizeof(float);
    mg->held_raw = malloc(hold);
    mg->held_al = malloc(hold);
    mg->bs = malloc(hold);
    mg->b = malloc(mg->px * sizeof(float));
    mg->al = malloc(mg->px * sizeof(float));
    if (!mg->held_raw || !mg->held_al || !mg->bs || !mg->b || !mg->al)
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the merge");
    return open_outputs(mg, mg->params, mg->params->existing == FATHOM_EXISTING_OVERWRITE, mg->res);
}

/* Duration of merged frame g: up to the next frame; the last lasts as long as the frame rate
 * says, else as long as the one before. Only asked once pts[g + 1] is known. */
static int64_t dur(merger *mg, int64_t g) {
    if (g + 1 < mg->frames) return mg->pts[g + 1] - mg->pts[g];
    if (mg->last_dur < 0) {
        AVRational fr = mg->demux ? mg->demux->streams[mg->vstream]->avg_frame_rate
                                  : (AVRational){0, 1};
        mg->last_dur = fr.num > 0 ? av_rescale_q(1, av_inv_q(fr), mg->tb)
                       : mg->frames > 1 ? mg->pts[mg->frames - 1] - mg->pts[mg->frames - 2] : 1;
        if (mg->last_dur <= 0) mg->last_dur = 1;
    }
    return mg->last_dur;
}

/* The frames held back by the chunk before (its last ones: the overlap this chunk recomputed,
 * or with no overlap its very last, whose duration needed this chunk's first pts): aligned to
 * this chunk over the overlap and cross-faded, then emitted. */
static fathom_status join_held(merger *mg, fathom_chunk_npz *z, int i, int64_t ov) {
    const fathom_chunk *c = &mg->chunks[i];
    mg->sc = 1, mg->sh = 0;
    if (ov == 0) { /* nothing to align with: the held frame as it was */
        for (int64_t j = 0; j < mg->held; j++) {
            const int64_t g = c->first - mg->held + j;
            FATHOM_TRY(emit(mg, g, mg->pts[g], dur(mg, g), mg->align_raw ? mg->held_al + j * mg->px
                            : mg->held_raw + j * mg->px, mg->held_al + j * mg->px));
        }
        if (i > 0) mg->seams[i - 1] = (fathom_chunk_seam){i, 0, 1, 0, 0};
        return FATHOM_OK;
    }
    double resid = 0;
    fathom_align_acc acc;
    fathom_align_init(&acc);
    for (int64_t j = 0; j < ov; j++) {
        FATHOM_TRY(fathom_chunk_npz_next(z, mg->bs + j * mg->px));
        if (mg->do_align) fathom_align_add(&acc, mg->held_al + j * mg->px, mg->bs + j * mg->px, mg->px);
    }
    if (mg->do_align) fathom_align_solve(&acc, &mg->sc, &mg->sh, &resid);
    for (int64_t j = 0; j < ov; j++) {
        const int64_t g = c->first - ov + j;
        float *out = mg->held_al + j * mg->px;
        if (mg->do_align) {
            fathom_align_apply(mg->al, mg->bs + j * mg->px, mg->px, mg->sc, mg->sh);
            fathom_align_fade(out, out, mg->al, mg->px, (int)j, (int)ov);
        }
        FATHOM_TRY(emit(mg, g, mg->pts[g], dur(mg, g), mg->align_raw ? out : mg->held_raw + j * mg->px,
                        out));
    }
    mg->seams[i - 1] = (fathom_chunk_seam){i, (int)ov, mg->sc, mg->sh, resid};
    return FATHOM_OK;
}

/* Chunk i's own frames: emitted, except its last ones, held for the next chunk (the overlap
 * the next one recomputes, or at least one: its duration needs the next chunk's first pts). */
static fathom_status own_frames(merger *mg, fathom_chunk_npz *z, int i) {
    const fathom_chunk *c = &mg->chunks[i];
    const int64_t ov_next = i + 1 < mg->n ? mg->chunks[i + 1].first - mg->chunks[i + 1].decode_from
                                          : 0;
    const int64_t hold_n = i + 1 < mg->n ? (ov_next > 0 ? ov_next : 1) : 0;
    for (int64_t j = 0; j < c->count; j++) {
        const int64_t g = c->first + j;
        FATHOM_TRY(fathom_chunk_npz_next(z, mg->b));
        fathom_align_apply(mg->al, mg->b, mg->px, mg->sc, mg->sh);
        const int64_t hold = j - (c->count - hold_n);
        if (hold >= 0) {
            memcpy(mg->held_raw + hold * mg->px, mg->b, mg->px * sizeof(float));
            memcpy(mg->held_al + hold * mg->px, mg->al, mg->px * sizeof(float));
        } else {
            FATHOM_TRY(emit(mg, g, mg->pts[g], dur(mg, g), mg->align_raw ? mg->al : mg->b, mg->al));
        }
    }
    mg->held = hold_n;
    return FATHOM_OK;
}

static fathom_status add_open(merger *mg, fathom_chunk_npz *z, const char *path, int i) {
    const fathom_chunk *c = &mg->chunks[i];
    const int64_t ov = c->first - c->decode_from;
    int h, w, tn, td;
    fathom_chunk_npz_size(z, &h, &w);
    fathom_chunk_npz_time_base(z, &tn, &td);
    if (i == 0) FATHOM_TRY(open_first(mg, h, w, tn, td));
    if (fathom_chunk_npz_frames(z) != ov + c->count || h != mg->h || w != mg->w ||
        tn != mg->tb.num || td != mg->tb.den)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: chunk %d (%s) does not match the plan (%lld "
                           "frames of %dx%d, expected %lld of %dx%d): remove it and resume",
                           mg->input, i, path, (long long)fathom_chunk_npz_frames(z), w, h,
                           (long long)(ov + c->count), mg->w, mg->h);
    for (int64_t j = 0; j < c->count; j++) mg->pts[c->first + j] = fathom_chunk_npz_pts(z, ov + j);
    FATHOM_TRY(join_held(mg, z, i, ov));
    FATHOM_TRY(own_frames(mg, z, i));
    return FATHOM_OK;
}

fathom_status fathom_chunk_merger_add(fathom_chunk_merger *mg, const char *chunk_npz) {
    if (mg->next >= mg->n)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: every chunk is merged already", mg->input);
    fathom_chunk_npz *z = NULL; /* owned */
    FATHOM_TRY(fathom_chunk_npz_open(chunk_npz, &z));
    fathom_status s = add_open(mg, z, chunk_npz, mg->next);
    fathom_chunk_npz_free(&z);
    if (s == FATHOM_OK) mg->next++;
    return s;
}

fathom_status fathom_chunk_merger_finish(fathom_chunk_merger *mg) {
    if (mg->next < mg->n)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: %d of %d chunks merged", mg->input,
                           mg->next, mg->n);
    FATHOM_TRY(finish_outputs(mg, mg->vo, mg->input, mg->frames, mg->res));
    mg->res->frames = mg->frames;
    return FATHOM_OK;
}
