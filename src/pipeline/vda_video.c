/* vda_video.c - decode -> Video Depth Anything -> sequences, depth video (vda_video.h). */
#include "pipeline/vda_video.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"
#include "media/atomic_file.h"
#include "media/colormap.h"
#include "media/normalize.h"
#include "pipeline/naming.h"

#define RAW_FORMATS (FATHOM_OUT_NPY | FATHOM_OUT_NPZ | FATHOM_OUT_EXR)
#define META_RING 128 /* frames between decode and output: offline lags at most 32 */

static const fathom_output_format k_order[] = {FATHOM_OUT_NPY, FATHOM_OUT_NPZ, FATHOM_OUT_PNG16,
                                               FATHOM_OUT_PNG8, FATHOM_OUT_COLOR, FATHOM_OUT_EXR};

typedef struct vrun {
    const fathom_run_params *rp;
    const fathom_video_run_opts *vo;
    const char *input;
    char stem[1024];
    const char *outdir;
    fathom_video_reader *reader;  /* owned */
    fathom_video_writer *writer;  /* owned */
    char video_path[4096];
    fathom_write_opts write;
    int64_t pts[META_RING], dur[META_RING];
    int64_t out;                  /* frames written out */
    FILE *spill;                  /* owned: float32 frames for the 8/16-bit outputs */
    float lo, hi;                 /* range over the whole video */
    int w, h;
    int made_dir;
} vrun;

static fathom_status write_seq(vrun *r, int64_t index, const float *depth, unsigned formats) {
    char rel[1200], path[4096];
    snprintf(rel, sizeof rel, "%s/%06" PRId64, r->stem, index);
    for (size_t i = 0; i < sizeof k_order / sizeof k_order[0]; i++) {
        if (!(formats & k_order[i])) continue;
        FATHOM_TRY(fathom_naming_path(r->outdir, rel, r->vo->seq_formats, k_order[i], path, sizeof path));
        if (!r->made_dir) {
            FATHOM_TRY(fathom_mkdir_parents(path));
            r->made_dir = 1;
        }
        fathom_write_opts o = r->write;
        if (!(k_order[i] & RAW_FORMATS)) o.norm_min = r->lo, o.norm_max = r->hi;
        FATHOM_TRY(fathom_depth_write(path, k_order[i], depth, r->h, r->w, &o));
    }
    return FATHOM_OK;
}

static fathom_status on_depth(void *user, int64_t frame, const float *depth, int h, int w) {
    vrun *r = user;
    const size_t px = (size_t)h * w;
    r->w = w, r->h = h;
    if (r->vo->seq_formats & RAW_FORMATS) FATHOM_TRY(write_seq(r, frame, depth, r->vo->seq_formats & RAW_FORMATS));
    if (r->spill) {
        for (size_t i = 0; i < px; i++) {
            if (depth[i] < r->lo) r->lo = depth[i];
            if (depth[i] > r->hi) r->hi = depth[i];
        }
        int64_t t[2] = {r->pts[frame % META_RING], r->dur[frame % META_RING]}; /* the ring moves on */
        if (fwrite(t, sizeof t, 1, r->spill) != 1 || fwrite(depth, sizeof(float), px, r->spill) != px)
            return fathom_fail(errno == ENOSPC ? FATHOM_ERR_DISK_FULL : FATHOM_ERR_IO,
                               "%s: temporary depth spill in %s: %s", r->input, r->outdir, strerror(errno));
    }
    r->out++;
    return FATHOM_OK;
}

/* Second pass: the normalized outputs with the video-wide range. */
static fathom_status encode_spill(vrun *r) {
    const size_t px = (size_t)r->w * r->h;
    float *d = fathom_alloc(px * sizeof(float));     /* owned */
    uint16_t *q16 = fathom_alloc(px * sizeof(uint16_t)); /* owned */
    uint8_t *q8 = fathom_alloc(px), *rgb = fathom_alloc(3 * px); /* owned */
    AVPacket *pkt = av_packet_alloc();               /* owned */
    fathom_status st = FATHOM_OK;
    if (!d || !q16 || !q8 || !rgb || !pkt) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", r->input);
        goto done;
    }
    if (!(r->hi > r->lo)) r->hi = r->lo + 1.0f; /* a flat video: every frame maps to 0 */
    rewind(r->spill);
    const fathom_video_info *vi = fathom_video_reader_info(r->reader);
    const uint8_t(*lut)[3] = fathom_colormap_lut(r->write.colormap);
    for (int64_t i = 0; i < r->out && st == FATHOM_OK; i++) {
        int64_t t[2];
        if (fread(t, sizeof t, 1, r->spill) != 1 || fread(d, sizeof(float), px, r->spill) != px) {
            st = fathom_fail(FATHOM_ERR_IO, "%s: temporary depth spill: short read", r->input);
            break;
        }
        if (r->writer) {
            int si;
            int64_t upto = fathom_video_ts_us(t[0], vi->time_base);
            while (st == FATHOM_OK && fathom_video_reader_pop_packet(r->reader, upto, pkt, &si))
                st = fathom_video_writer_write_packet(r->writer, pkt, si);
            if (st == FATHOM_OK && r->vo->enc.color) {
                fathom_normalize_u8(d, px, r->lo, r->hi, r->write.invert, q8);
                fathom_colormap_apply(lut, q8, px, rgb);
                st = fathom_video_writer_write_rgb(r->writer, rgb, (size_t)r->w * 3, t[0], t[1]);
            } else if (st == FATHOM_OK) {
                fathom_normalize_u16(d, px, r->lo, r->hi, r->write.invert, q16);
                st = fathom_video_writer_write_gray16(r->writer, q16, t[0], t[1]);
            }
        }
        if (st == FATHOM_OK && (r->vo->seq_formats & ~RAW_FORMATS))
            st = write_seq(r, i, d, r->vo->seq_formats & ~RAW_FORMATS);
    }
    if (st == FATHOM_OK && r->writer) {
        int si;
        while (st == FATHOM_OK && fathom_video_reader_pop_packet(r->reader, INT64_MAX, pkt, &si))
            st = fathom_video_writer_write_packet(r->writer, pkt, si);
        if (st == FATHOM_OK) st = fathom_video_writer_finish(r->writer);
    }
done:
    av_packet_free(&pkt);
    fathom_free_sized(d, px * sizeof(float));
    fathom_free_sized(q16, px * sizeof(uint16_t));
    fathom_free_sized(q8, px);
    fathom_free_sized(rgb, 3 * px);
    return st;
}

static FILE *open_spill(const char *outdir) {
    char tmpl[4200];
    snprintf(tmpl, sizeof tmpl, "%s/.fathom-vda-XXXXXX", outdir);
    int fd = mkstemp(tmpl);
    if (fd < 0) return NULL;
    unlink(tmpl); /* gone with the process, whatever happens */
    FILE *f = fdopen(fd, "w+b");
    if (!f) close(fd);
    return f;
}

fathom_status fathom_vda_video_run(const fathom_model *m, const fathom_run_params *rp,
                                   const char *input, const fathom_video_run_opts *vo,
                                   int streaming, const atomic_int *cancel, char *summary,
                                   size_t cap) {
    vrun r;
    memset(&r, 0, sizeof r);
    r.rp = rp, r.vo = vo, r.input = input;
    r.outdir = rp->outdir ? rp->outdir : ".";
    r.write = rp->write;
    fathom_model_info mi;
    fathom_model_get_info(m, &mi);
    r.write.metric = mi.metric;
    r.lo = 3.4e38f, r.hi = -3.4e38f;
    fathom_naming_stem(input, r.stem, sizeof r.stem);
    if (!r.stem[0]) snprintf(r.stem, sizeof r.stem, "video");
    fathom_vda *v = NULL;
    fathom_status st = FATHOM_OK;
    if (vo->npz) return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: --video-npz is not available with a Video Depth Anything model yet (use -f npy)", input);
    if (vo->video_path) snprintf(r.video_path, sizeof r.video_path, "%s", vo->video_path);
    else if (!vo->seq_formats) snprintf(r.video_path, sizeof r.video_path, "%s/%s_depth.mkv", r.outdir, r.stem);
    struct stat sb;
    if (r.video_path[0] && stat(r.video_path, &sb) == 0 && rp->existing != FATHOM_EXISTING_OVERWRITE)
        return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (use --overwrite)", input, r.video_path);
    if (vo->seq_formats && rp->existing != FATHOM_EXISTING_OVERWRITE) {
        char rel[1100], first[4096];
        snprintf(rel, sizeof rel, "%s/000000", r.stem);
        for (unsigned bit = 1; bit <= FATHOM_OUT_EXR; bit <<= 1)
            if ((vo->seq_formats & bit) &&
                fathom_naming_path(r.outdir, rel, vo->seq_formats, bit, first, sizeof first) == FATHOM_OK &&
                stat(first, &sb) == 0)
                return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (use --overwrite)", input, first);
    }
    fathom_video_reader_opts ro = vo->read;
    ro.passthrough = r.video_path[0] != 0;
    if ((st = fathom_video_reader_open(input, &ro, &r.reader)) != FATHOM_OK) goto done;
    const fathom_video_info *vi = fathom_video_reader_info(r.reader);
    if (r.video_path[0]) {
        fathom_video_source_desc d = {vi->time_base, vi->frame_rate, fathom_video_reader_format(r.reader),
                                      vi->stream_index};
        if ((st = fathom_mkdir_parents(r.video_path)) != FATHOM_OK ||
            (st = fathom_video_writer_open(r.video_path, vi->width, vi->height, &d, &vo->enc, &r.writer)) != FATHOM_OK)
            goto done;
    }
    if (r.writer || (vo->seq_formats & ~RAW_FORMATS)) {
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/x", r.outdir);
        if ((st = fathom_mkdir_parents(probe)) != FATHOM_OK) goto done;
        if (!(r.spill = open_spill(r.outdir))) {
            st = fathom_fail(FATHOM_ERR_IO, "%s: cannot create a temporary file in %s: %s", input, r.outdir, strerror(errno));
            goto done;
        }
    }
    fathom_vda_params vp = fathom_vda_default_params();
    vp.streaming = streaming;
    if (rp->input_size > 0) vp.input_size = rp->input_size;
    if ((st = fathom_vda_create(m, &rp->devices[0], &vp, on_depth, &r, &v)) != FATHOM_OK) goto done;
    int64_t n = 0;
    for (;;) {
        fathom_video_frame f;
        int got = 0;
        if ((st = fathom_video_reader_next(r.reader, &f, &got)) != FATHOM_OK || !got) break;
        if (cancel && atomic_load(cancel)) {
            st = fathom_fail(FATHOM_ERR_INTERRUPTED, "%s: interrupted at frame %" PRId64, input, n);
            break;
        }
        if (n - r.out >= META_RING) {
            st = fathom_fail(FATHOM_ERR_INTERNAL, "%s: output lags the input by %d frames", input, META_RING);
            break;
        }
        r.pts[n % META_RING] = f.pts, r.dur[n % META_RING] = f.duration;
        if ((st = fathom_vda_push(v, f.rgb, f.height, f.width, f.stride)) != FATHOM_OK) {
            st = fathom_fail(st, "%s: frame %" PRId64 ": %s", input, n, fathom_last_error());
            break;
        }
        n++;
    }
    if (st != FATHOM_OK && n > 0) {
        /* a bad frame ends the video; the frames before it still come out (nothing is lost) */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", fathom_last_error());
        if (fathom_vda_finish(v) == FATHOM_OK && r.spill) encode_spill(&r);
        fathom_fail(st, "%s (%" PRId64 " frames before it written)", msg, r.out);
    } else if (st == FATHOM_OK) {
        st = fathom_vda_finish(v);
    }
    if (st == FATHOM_OK && n == 0) st = fathom_fail(FATHOM_ERR_FORMAT, "%s: no video frames in range", input);
    if (st == FATHOM_OK && r.spill) st = encode_spill(&r);
    if (st == FATHOM_OK && summary)
        snprintf(summary, cap, "%s: %" PRId64 " frames through Video Depth Anything (%s)%s%s", input, r.out,
                 streaming ? "streaming" : "offline", r.writer ? " -> " : "", r.writer ? r.video_path : "");
done:
    fathom_vda_free(&v);
    if (r.spill) fclose(r.spill);
    fathom_video_writer_free(&r.writer);
    fathom_video_reader_free(&r.reader);
    return st;
}
