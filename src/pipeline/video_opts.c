/* video_opts.c - the video options (set by name; `fathom run` passes its video flags through) and
 * video input detection (video_job.h). Messages name the option, not a flag. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"
#include "pipeline/video_job.h"

void fathom_video_run_default_opts(fathom_video_run_opts *o) {
    memset(o, 0, sizeof *o);
    o->read = fathom_video_reader_default_opts();
    o->enc = fathom_video_writer_default_opts();
    o->normalize = FATHOM_VNORM_EMA;
    o->tnorm = fathom_tnorm_default_opts();
}

static int num(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || errno || end == s || *end || !(v >= lo && v <= hi)) {
        fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: '%s' is not a number in %g..%g", flag,
                    s ? s : "", lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int integer(const char *flag, const char *s, double lo, double hi, double *out) {
    if (!num(flag, s, lo, hi, out)) return 0;
    if (*out != floor(*out)) {
        fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: '%s' is not an integer", flag, s);
        return 0;
    }
    return 1;
}

int fathom_video_parse_flag(fathom_video_run_opts *o, const char *name, const char *arg) {
    double v;
    if (!strcmp(name, "video")) {
        if (!arg || !*arg) {
            fathom_fail(FATHOM_ERR_INVALID_ARG, "video: no file name");
            return -1;
        }
        o->video_path = arg;
    } else if (!strcmp(name, "video-codec")) {
        if (fathom_video_codec_parse(arg, &o->enc.codec) != FATHOM_OK) return -1;
    } else if (!strcmp(name, "crf")) {
        if (!integer(name, arg, 0, 63, &v)) return -1;
        o->enc.crf = (int)v;
    } else if (!strcmp(name, "pix-fmt")) {
        o->enc.pix_fmt = arg;
    } else if (!strcmp(name, "video-color")) {
        o->enc.color = 1;
    } else if (!strcmp(name, "video-npz")) {
        o->npz = 1;
    } else if (!strcmp(name, "start")) {
        if (!num(name, arg, 0, 1e9, &v)) return -1;
        o->read.start = v;
    } else if (!strcmp(name, "end")) {
        if (!num(name, arg, 0, 1e9, &v)) return -1;
        o->read.end = v;
    } else if (!strcmp(name, "max-frames")) {
        if (!integer(name, arg, 1, 1e15, &v)) return -1;
        o->read.max_frames = (int64_t)v;
    } else if (!strcmp(name, "max-res")) {
        if (!integer(name, arg, 2, 32768, &v)) return -1;
        o->read.max_res = (int)v;
    } else if (!strcmp(name, "normalize")) {
        if (arg && !strcmp(arg, "ema")) o->normalize = FATHOM_VNORM_EMA;
        else if (arg && !strcmp(arg, "frame")) o->normalize = FATHOM_VNORM_FRAME;
        else {
            fathom_fail(FATHOM_ERR_INVALID_ARG, "normalize: '%s' is not ema or frame",
                        arg ? arg : "");
            return -1;
        }
    } else if (!strcmp(name, "ema-decay")) {
        if (!num(name, arg, 0, 0.999999, &v)) return -1;
        o->tnorm.decay = (float)v;
    } else if (!strcmp(name, "lookahead")) {
        if (!integer(name, arg, 0, 1024, &v)) return -1;
        o->tnorm.lookahead = (int)v;
    } else if (!strcmp(name, "scene-cut")) {
        if (!num(name, arg, 0, 1, &v)) return -1;
        o->tnorm.cut_threshold = (float)v;
    } else {
        return 0;
    }
    return 1;
}

int fathom_video_is_input(const char *path) {
    static const char *const exts[] = {"mp4", "mkv", "mov", "avi", "webm", "m4v", "ts", "mts",
                                       "m2ts", "flv", "wmv", "mpg", "mpeg", "3gp", "ogv", "y4m"};
    static const char *const schemes[] = {"rtsp://", "rtsps://", "rtmp://", "rtmps://", "udp://",
                                          "rtp://", "srt://", "tcp://"};
    if (!path) return 0;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (!strncasecmp(path, schemes[i], strlen(schemes[i]))) return 1;
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot + 1, exts[i])) return 1;
    return 0;
}

static const char *base_name(const char *p) {
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

int fathom_video_same_name(const char *a, const char *b) {
    return !strcmp(base_name(a), base_name(b));
}

void fathom_video_report_path(const char *report, const char *input, int dup, char *buf,
                              size_t n) {
    size_t base = strlen(report);
    if (base > 5 && !strcmp(report + base - 5, ".json")) base -= 5;
    if (dup > 0)
        snprintf(buf, n, "%.*s.%s.%d.json", (int)base, report, base_name(input), dup + 1);
    else
        snprintf(buf, n, "%.*s.%s.json", (int)base, report, base_name(input));
}
