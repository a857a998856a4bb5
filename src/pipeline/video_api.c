/* video_api.c - the public video-job calls (fathom.h "video jobs") over video_job.h: options
 * held in an opaque object, set by name, so applications never see the reader/writer structs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "pipeline/video_priv.h"
#include "pipeline/video_job.h"

struct fathom_video_opts {
    fathom_video_run_opts o;
    char *video_path; /* owned copy of the "video" value (o.video_path borrows it) */
};

const fathom_video_run_opts *fathom_video_opts_run_opts(const fathom_video_opts *o) {
    return o ? &o->o : NULL;
}

fathom_status fathom_video_opts_create(fathom_video_opts **out) {
    fathom_video_opts *v = calloc(1, sizeof *v); /* owned by the caller */
    if (!v) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for video options");
    fathom_video_run_default_opts(&v->o);
    *out = v;
    return FATHOM_OK;
}

void fathom_video_opts_free(fathom_video_opts **o) {
    if (!o || !*o) return;
    free((*o)->video_path);
    free(*o);
    *o = NULL;
}

/* "90", "1.5", "01:30", "1:02:03.250" -> seconds (ffmpeg's time duration syntax, no sign).
 * Returns 0 and leaves *out alone when the text is none of these. */
static int parse_time(const char *s, double *out) {
    double parts[3];
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        if (n == 3 || !(*p >= '0' && *p <= '9')) return 0;
        double v = strtod(p, &end);
        if (end == p) return 0;
        parts[n++] = v;
        if (*end == '\0') break;
        if (*end != ':' || memchr(p, '.', (size_t)(end - p))) return 0; /* only the last has .ms */
        p = end + 1;
    }
    double t = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && parts[i] >= 60) return 0; /* MM and SS below 60 after a colon */
        t = t * 60 + parts[i];
    }
    if (!isfinite(t)) return 0;
    *out = t;
    return 1;
}

int fathom_video_opts_set(fathom_video_opts *o, const char *key, const char *value) {
    if (!o || !key) {
        fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_video_opts_set: no options or key");
        return -1;
    }
    if (!strcmp(key, "start") || !strcmp(key, "end")) {
        double t;
        if (!value || !parse_time(value, &t)) {
            fathom_fail(FATHOM_ERR_INVALID_ARG,
                        "%s: '%s' is not a time (seconds, MM:SS or HH:MM:SS, e.g. 90, 1:30.5, "
                        "0:01:30)", key, value ? value : "");
            return -1;
        }
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", t);
        return fathom_video_parse_flag(&o->o, key, buf);
    }
    if (!strcmp(key, "video")) {
        if (!value || !*value) {
            fathom_fail(FATHOM_ERR_INVALID_ARG, "video: no file name");
            return -1;
        }
        char *copy = strdup(value);
        if (!copy) {
            fathom_fail(FATHOM_ERR_NOMEM, "out of memory");
            return -1;
        }
        free(o->video_path);
        o->video_path = copy;
        return fathom_video_parse_flag(&o->o, key, copy);
    }
    return fathom_video_parse_flag(&o->o, key, value);
}

void fathom_video_opts_set_formats(fathom_video_opts *o, unsigned formats) {
    if (o) o->o.seq_formats = formats;
}

void fathom_video_opts_set_run(fathom_video_opts *o, const FATHOM_ATOMIC_INT *cancel,
                               const char *rel_dir, const char *const *inputs, int n_inputs,
                               const char *const *claimed, int n_claimed) {
    if (!o) return;
    o->o.cancel = cancel;
    o->o.rel_dir = rel_dir;
    o->o.inputs = inputs;
    o->o.n_inputs = n_inputs;
    o->o.claimed = claimed;
    o->o.n_claimed = n_claimed;
}

fathom_status fathom_video_run_create(const fathom_model *m, const fathom_run_params *params,
                                      const char *input, const fathom_video_opts *opts,
                                      fathom_video_job **job, fathom_pipeline **pl) {
    fathom_video_run_opts def;
    fathom_video_run_default_opts(&def);
    return fathom_video_job_create(m, params, input, opts ? &opts->o : &def, job, pl);
}

fathom_status fathom_video_vda_run(const fathom_model *m, const fathom_run_params *params,
                                   const char *input, const fathom_video_opts *opts, int streaming,
                                   const FATHOM_ATOMIC_INT *cancel, char *summary, size_t cap) {
    if (!fathom_model_is_video(m))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: not a Video Depth Anything model", input);
    fathom_run_params p = *params;
    p.vda_streaming = streaming;
    fathom_video_job *job = NULL;
    fathom_pipeline *pl = NULL;
    FATHOM_TRY(fathom_video_run_create(m, &p, input, opts, &job, &pl));
    fathom_status st = FATHOM_OK;
    if (pl) {
        if (cancel) fathom_video_reader_add_cancel(job->reader, cancel); /* the input stops */
        fathom_run_stats stats;
        st = fathom_pipeline_run(pl, &stats);
        fathom_pipeline_free(&pl); /* finishes the outputs */
        if (st == FATHOM_OK && stats.failed)
            st = fathom_fail(FATHOM_ERR_IO, "%s: %lld frames failed", input,
                             (long long)stats.failed);
    }
    if (summary) fathom_video_job_summary(job, summary, cap);
    fathom_video_job_release(&job);
    return st;
}
