/* chunk_run.c - open and run one chunk as a video job over its time range, on a worker's
 * engines (see chunk_job.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/chunk_job.h"
#include "core/status.h"
#include "media/atomic_file.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void fathom_chunk_engines_clear(fathom_chunk_engines *ce) {
    if (!ce) return;
    for (int d = 0; d < FATHOM_MAX_DEVICES; d++) fathom_engine_free(&ce->e[d]);
    fathom_vda_free(&ce->vda);
}

fathom_status fathom_chunk_engines_create(const fathom_model *m, const fathom_run_params *p,
                                         fathom_chunk_engines *ce) {
    for (int d = 0; d < p->n_devices; d++) {
        if (ce->e[d]) continue;
        FATHOM_TRY(fathom_engine_create(m, &p->devices[d], &ce->e[d]));
        ce->created++;
    }
    return FATHOM_OK;
}

void fathom_chunk_opened_clear(fathom_chunk_opened *o) {
    fathom_pipeline_free(&o->pl);
    fathom_video_job_release(&o->job);
    o->i = -1;
}

void fathom_chunk_open(const fathom_model *m, const fathom_run_params *params,
                       const fathom_video_run_opts *vo, const char *input, const char *workdir,
                       const fathom_chunk *c, int i, fathom_chunk_engines *ce,
                       const fathom_chunk_hooks *hooks, fathom_chunk_opened *o) {
    memset(o, 0, sizeof *o);
    o->i = i;
    double t0 = now_s();
    char outdir[4200];
    snprintf(outdir, sizeof outdir, "%s/c%05d", workdir, i);
    fathom_run_params p = *params;
    p.outdir = outdir;
    p.report_path = NULL;
    p.existing = FATHOM_EXISTING_OVERWRITE; /* leftovers of a killed attempt are redone */
    p.on_item = NULL, p.on_stats = NULL, p.user = NULL; /* progress is the chunk level's */
    if (hooks && hooks->on_progress) /* the run's thread polls every 20 ms */
        p.on_stats = hooks->on_progress, p.user = hooks->user, p.stats_interval_s = 0.02;
    p.governor = NULL;
    p.shard_count = 0;
    fathom_video_run_opts vr = *vo;
    vr.video_path = NULL;
    vr.seq_formats = 0;
    vr.npz = 1;
    vr.read.start = c->start_us / 1e6; /* llround(start * 1e6) gives the microsecond back */
    vr.read.end = c->end_us > 0 ? c->end_us / 1e6 : 0;
    vr.read.max_frames = 0;
    fathom_status s = fathom_mkdir_p(outdir);
    if (s == FATHOM_OK && ce && !fathom_model_is_video(m)) {
        s = fathom_chunk_engines_create(m, &p, ce);
        vr.engines = ce->e;
    }
    const int had_vda = ce && ce->vda;
    if (ce) vr.vda_keep = &ce->vda; /* VDA: made by the first chunk's stage, then kept */
    if (s == FATHOM_OK) s = fathom_video_job_create(m, &p, input, &vr, &o->job, &o->pl);
    if (ce && !had_vda && ce->vda) ce->created++;
    if ((o->s = s) != FATHOM_OK) {
        snprintf(o->err, sizeof o->err, "%s", fathom_last_error());
        fathom_chunk_opened_clear(o);
        o->i = i;
    }
    o->open_s = now_s() - t0;
}

fathom_status fathom_chunk_exec(const char *input, const fathom_chunk *c,
                                fathom_chunk_opened *o, const fathom_chunk_hooks *hooks,
                                double *finish_s) {
    const int i = o->i;
    if (o->s != FATHOM_OK) {
        fathom_status s = fathom_fail(o->s, "%s", o->err);
        fathom_chunk_opened_clear(o);
        return s;
    }
    int stop = hooks && hooks->on_pipeline ? hooks->on_pipeline(hooks->user, o->pl) : 0;
    fathom_run_stats st;
    memset(&st, 0, sizeof st);
    fathom_status s = stop ? FATHOM_ERR_INTERRUPTED : fathom_pipeline_run(o->pl, &st);
    if (hooks && hooks->on_pipeline) hooks->on_pipeline(hooks->user, NULL);
    double t0 = now_s();
    fathom_pipeline_free(&o->pl); /* finishes the archive */
    if (finish_s) *finish_s = now_s() - t0;
    fathom_video_job_stats js;
    fathom_video_job_get_stats(o->job, &js);
    fathom_chunk_opened_clear(o);
    if (s == FATHOM_OK && st.fatal != FATHOM_OK)
        s = fathom_fail(st.fatal, "%s", st.fatal_msg);
    if (s == FATHOM_OK && st.cancelled) s = FATHOM_ERR_INTERRUPTED;
    if (s != FATHOM_OK) return s;
    int64_t want = c->count + (c->first - c->decode_from);
    if (!js.npz_path[0] || js.frames_read != want)
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: chunk %d decoded %lld frames where the plan has "
                           "%lld (frames %lld..%lld)%s%s", input, i, (long long)js.frames_read,
                           (long long)want, (long long)c->decode_from,
                           (long long)(c->first + c->count - 1), js.end_reason[0] ? ": " : "",
                           js.end_reason);
    return FATHOM_OK;
}

fathom_status fathom_chunk_run_one(const fathom_model *m, const fathom_run_params *params,
                                   const fathom_video_run_opts *vo, const char *input,
                                   const char *workdir, const fathom_chunk *c, int i,
                                   fathom_chunk_engines *ce, const fathom_chunk_hooks *hooks) {
    fathom_chunk_opened o;
    fathom_chunk_open(m, params, vo, input, workdir, c, i, ce, hooks, &o);
    fathom_status s = fathom_chunk_exec(input, c, &o, hooks, NULL);
    if (s != FATHOM_OK) fathom_chunk_engines_clear(ce); /* a retry starts from fresh engines */
    return s;
}
