/* pipeline.c - builds the stages and queues, runs them, accounts every item.
 * DESIGN: see pipeline.h (ordering, backpressure, shutdown, error propagation). */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cluster/shard.h"
#include "core/log.h"
#include "core/status.h"
#include "media/atomic_file.h"

double fathom_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

fathom_run_params fathom_run_default_params(void) {
    fathom_run_params p;
    memset(&p, 0, sizeof p);
    p.formats = FATHOM_OUT_NPY;
    p.existing = FATHOM_EXISTING_ERROR;
    p.input_size = 518;
    p.max_pixels = FATHOM_DEFAULT_MAX_PIXELS;
    p.batch = 4;
    p.batch_timeout_s = 0.05; /* short: a slow trickle of inputs must not wait long */
    p.workers = 2;
    p.queue = 4;
    p.n_devices = 1;
    p.devices[0] = fathom_engine_default_params();
    p.download_retries = -1;
    p.stats_interval_s = 0.25;
    p.max_network_pixels = FATHOM_DEFAULT_MAX_NETWORK_PIXELS;
    return p;
}

void fathom_pipeline_set_fatal(struct fathom_pipeline *pl, fathom_status s, const char *msg) {
    pthread_mutex_lock(&pl->mu);
    if (pl->fatal == FATHOM_OK) {
        pl->fatal = s == FATHOM_OK ? FATHOM_ERR_INTERNAL : s;
        snprintf(pl->fatal_msg, sizeof pl->fatal_msg, "%s", msg && *msg ? msg : fathom_strerror(s));
    }
    pthread_mutex_unlock(&pl->mu);
    atomic_store(&pl->stop, 1);
}

void fathom_pipeline_add_busy(struct fathom_pipeline *pl, fathom_stage s, double seconds) {
    atomic_fetch_add(&pl->busy_ns[s], (long long)(seconds * 1e9));
}

void fathom_pipeline_finish_item(struct fathom_pipeline *pl, fathom_item *it) {
    if (it->state == FATHOM_ITEM_PENDING) it->state = FATHOM_ITEM_DONE; /* sinks may leave it */
    it->t_end = fathom_now_s();
    if (it->state == FATHOM_ITEM_DONE) atomic_fetch_add(&pl->done, 1);
    else if (it->state == FATHOM_ITEM_SKIPPED) atomic_fetch_add(&pl->skipped, 1);
    else {
        atomic_fetch_add(&pl->failed, 1);
        if (pl->p.fail_fast) atomic_store(&pl->stop, 1);
    }
    pthread_mutex_lock(&pl->mu);
    if (pl->report && fathom_report_item(pl->report, it) != FATHOM_OK) {
        /* the report cannot be completed; the outputs still can */
        fathom_report_free(&pl->report);
        if (pl->fatal == FATHOM_OK) {
            pl->fatal = FATHOM_ERR_IO;
            snprintf(pl->fatal_msg, sizeof pl->fatal_msg, "%s", fathom_last_error());
        }
        atomic_store(&pl->stop, 1);
    }
    if (pl->p.on_item) {
        fathom_item_event ev = {it->index,
                                it->source.s ? it->source.s : "",
                                it->outputs.s ? it->outputs.s : "",
                                (int)it->state,
                                it->status,
                                it->error,
                                it->t_end - it->t_start};
        pl->p.on_item(pl->p.user, &ev);
    }
    pthread_mutex_unlock(&pl->mu);
    atomic_fetch_add(&pl->finished, 1); /* after the report: finished counts written records */
    fathom_item_reset(it);
    fathom_queue_push(pl->q_free, it);
}

static fathom_status fail_nomem(const char *what) {
    return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for %s", what);
}

fathom_status fathom_pipeline_create_with(const fathom_model *m, const fathom_run_params *params,
                                          fathom_source *src, fathom_sink *sink,
                                          fathom_pipeline **out) {
    return fathom_pipeline_create_lent(m, params, NULL, NULL, src, sink, out);
}

fathom_status fathom_pipeline_create_lent(const fathom_model *m, const fathom_run_params *params,
                                          fathom_engine *const *engines, fathom_vda **vda_keep,
                                          fathom_source *src, fathom_sink *sink,
                                          fathom_pipeline **out) {
    *out = NULL;
    fathom_status st = FATHOM_OK;
    struct fathom_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl) {
        fathom_source_free(src);
        fathom_sink_free(sink);
        return fail_nomem("the pipeline");
    }
    pl->src = *src;
    pl->sink = *sink;
    memset(src, 0, sizeof *src);
    memset(sink, 0, sizeof *sink);
    pthread_mutex_init(&pl->mu, NULL);
    pthread_mutex_init(&pl->reorder_mu, NULL);
    pl->p = *params;
    pl->model = m;
    pl->vda_keep = vda_keep;
    fathom_run_params *p = &pl->p;
    if (p->batch < 1) p->batch = 1;
    if (p->batch > 256) p->batch = 256;
    if (p->workers < 1) p->workers = 1;
    if (p->queue < 1) p->queue = 1;
    if (p->input_size < 14) {
        st = fathom_fail(FATHOM_ERR_INVALID_ARG, "input size %d is below 14", p->input_size);
        goto done;
    }
    if (p->n_devices < 1 || p->n_devices > FATHOM_MAX_DEVICES) {
        st = fathom_fail(FATHOM_ERR_INVALID_ARG, "%d devices (1..%d)", p->n_devices,
                         FATHOM_MAX_DEVICES);
        goto done;
    }
    if (p->batch_timeout_s < 0) p->batch_timeout_s = 0;
    if (p->stats_interval_s <= 0) p->stats_interval_s = 0.25;

    /* the pool: every queue full, plus one item in hand per thread, plus a full batch and a
     * held item per inference thread */
    pl->n_items = (size_t)p->queue * 3 + (size_t)p->workers * 2 + 1 +
                  (size_t)p->n_devices * (p->batch + 1);
    if (fathom_model_is_video(m)) pl->n_items += FATHOM_VDA_HELD; /* the frames of a window */
    pl->items = calloc(pl->n_items, sizeof *pl->items);
    pl->reorder = calloc(pl->n_items, sizeof *pl->reorder);
    if (!pl->items || !pl->reorder) {
        st = fail_nomem("the item pool");
        goto done;
    }
    for (size_t i = 0; i < pl->n_items; i++) fathom_item_init(&pl->items[i]);
    if ((st = fathom_queue_create(pl->n_items, &pl->q_free)) != FATHOM_OK ||
        (st = fathom_queue_create((size_t)p->queue, &pl->q_decode)) != FATHOM_OK ||
        (st = fathom_queue_create((size_t)p->queue, &pl->q_infer)) != FATHOM_OK ||
        (st = fathom_queue_create((size_t)p->queue, &pl->q_write)) != FATHOM_OK)
        goto done;
    for (size_t i = 0; i < pl->n_items; i++) fathom_queue_push(pl->q_free, &pl->items[i]);
    if ((st = fathom_names_create(&pl->names)) != FATHOM_OK) goto done;

    fathom_fetch_opts fo = fathom_fetch_default_opts();
    if (p->max_download_bytes) fo.max_bytes = p->max_download_bytes;
    if (p->download_timeout_s > 0) fo.timeout_ms = (long)(p->download_timeout_s * 1000);
    if (p->download_retries >= 0) fo.retries = p->download_retries;
    fo.cancel = &pl->cancel;
    if ((st = fathom_fetcher_create(&fo, &pl->fetcher)) != FATHOM_OK) goto done;

    if (fathom_model_is_video(m)) { /* one ordered model instance on the first device */
        if ((st = fathom_vda_stage_create(pl, &pl->vda)) != FATHOM_OK) goto done;
    } else {
        for (int d = 0; d < p->n_devices; d++) {
            if (engines && engines[d]) {
                pl->engines[d] = engines[d];
                pl->lent |= 1u << d;
            } else if ((st = fathom_engine_create(m, &p->devices[d], &pl->engines[d])) != FATHOM_OK) {
                goto done;
            }
        }
    }
    if (p->report_path && (st = fathom_report_open(p->report_path, p, m, &pl->report)) != FATHOM_OK)
        goto done;
    *out = pl;
    return FATHOM_OK;
done:
    fathom_pipeline_free(&pl);
    return st;
}

/* 1 when the folder part of `path` ("." for a bare name) exists. */
static int report_dir_exists(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    struct stat st;
    return stat(dir, &st) == 0;
}

fathom_status fathom_pipeline_create(const fathom_model *m, const fathom_run_params *params,
                                     fathom_pipeline **out) {
    *out = NULL;
    if (!m || !params) return fathom_fail(FATHOM_ERR_INVALID_ARG, "pipeline: no model or params");
    if (fathom_model_is_video(m)) { /* images: the engine's refusal says which model to use */
        fathom_engine *e = NULL;
        fathom_status st = fathom_engine_create(m, &params->devices[0], &e);
        fathom_engine_free(&e);
        return st != FATHOM_OK ? st : fathom_fail(FATHOM_ERR_UNSUPPORTED, "video model");
    }
    fathom_source src;
    fathom_sink sink;
    memset(&sink, 0, sizeof sink);
    fathom_model_info info;
    fathom_model_get_info(m, &info);
    /* data safety first (input_guard.h): nothing is created before these checks */
    FATHOM_TRY(fathom_outdir_check(params->outdir, params->report_path, params->inputs,
                                   params->n_inputs));
    /* A report whose folder does not exist yet may lie in the output folder the sink is about
     * to create: it is checked again (fathom_report_open) once that folder exists. */
    if (params->report_path && report_dir_exists(params->report_path))
        FATHOM_TRY(fathom_report_check(params->report_path));
    fathom_input_ids *ids = NULL;     /* owned until handed to the pipeline */
    fathom_manifest *manifest = NULL; /* owned until handed to the pipeline */
    FATHOM_TRY(fathom_input_ids_collect(params->inputs, params->n_inputs, &ids));
    fathom_status st = params->outdir ? fathom_manifest_open(params->outdir, &manifest) : FATHOM_OK;
    if (st != FATHOM_OK) {
        fathom_input_ids_free(&ids);
        return st;
    }
    fathom_file_sink_opts so;
    memset(&so, 0, sizeof so);
    so.outdir = params->outdir;
    so.formats = params->formats;
    so.write = params->write;
    so.write.metric = info.metric;
    so.exist = params->existing;
    so.manifest = manifest;
    so.inputs = ids;
    /* the sink first: it creates the output folder, which the folder walk must then skip
     * (an output folder inside an input folder) */
    st = fathom_file_sink_create(&so, &sink);
    fathom_inputs_opts io = {params->recursive, params->outdir, (FILE *)params->stdin_list};
    if (st == FATHOM_OK) st = fathom_inputs_source_create(params->inputs, params->n_inputs, &io, &src);
    if (st != FATHOM_OK) {
        fathom_sink_free(&sink);
        fathom_manifest_free(&manifest);
        fathom_input_ids_free(&ids);
        return st;
    }
    /* leftovers of runs that died in this OUTDIR (kill -9): their processes are gone */
    size_t stale = params->take ? 0 : fathom_atomic_clean_stale(params->outdir, 64);
    if (stale)
        fathom_log(FATHOM_LOG_WARN, "%s: removed %zu temporary file%s left by runs that died",
                   params->outdir, stale, stale == 1 ? "" : "s");
    st = fathom_pipeline_create_with(m, params, &src, &sink, out);
    if (st != FATHOM_OK) {
        fathom_manifest_free(&manifest);
        fathom_input_ids_free(&ids);
        return st;
    }
    (*out)->manifest = manifest;
    if (params->shard_count > 1) { /* custom sources (video frames) are never sharded */
        (*out)->shard_index = params->shard_index;
        (*out)->shard_count = params->shard_count;
    }
    (*out)->take = params->take, (*out)->take_user = params->take_user;
    (*out)->input_ids = ids;
    fathom_names_configure((*out)->names, so.formats ? so.formats : FATHOM_OUT_NPY, manifest);
    return FATHOM_OK;
}

void fathom_pipeline_cancel(fathom_pipeline *pl) {
    if (!pl) return;
    atomic_store(&pl->cancel, 1); /* lock-free atomics: async-signal-safe */
    atomic_store(&pl->stop, 1);
}

static void snapshot(struct fathom_pipeline *pl, fathom_run_stats *s) {
    memset(s, 0, sizeof *s);
    s->total = pl->src.ops && pl->src.ops->total ? pl->src.ops->total(pl->src.self) : -1;
    s->total = fathom_shard_total(s->total, pl->shard_index, pl->shard_count);
    s->taken = atomic_load(&pl->taken);
    s->done = atomic_load(&pl->done);
    s->skipped = atomic_load(&pl->skipped);
    s->failed = atomic_load(&pl->failed);
    s->finished = atomic_load(&pl->finished);
    s->batches = atomic_load(&pl->batches);
    s->elapsed_s = fathom_now_s() - pl->t0;
    fathom_queue *q[3] = {pl->q_decode, pl->q_infer, pl->q_write};
    for (int i = 0; i < 3; i++) {
        s->queue_fill[i] = (int)fathom_queue_size(q[i]);
        s->queue_cap[i] = (int)fathom_queue_capacity(q[i]);
    }
    for (int i = 0; i < 4; i++) s->busy_s[i] = atomic_load(&pl->busy_ns[i]) * 1e-9;
    s->cancelled = atomic_load(&pl->cancel);
    fathom_inputs_source_ignored(&pl->src, s->ignored);
    pthread_mutex_lock(&pl->mu);
    s->fatal = pl->fatal;
    memcpy(s->fatal_msg, pl->fatal_msg, sizeof s->fatal_msg);
    pthread_mutex_unlock(&pl->mu);
}

fathom_status fathom_pipeline_run(fathom_pipeline *pl, fathom_run_stats *stats_out) {
    if (pl->ran) return fathom_fail(FATHOM_ERR_INVALID_ARG, "pipeline: run() called twice");
    pl->ran = 1;
    fathom_run_params *p = &pl->p;
    pl->t0 = fathom_now_s();
    int n_thr = 1 + 2 * p->workers + p->n_devices;
    pthread_t *thr = calloc((size_t)n_thr, sizeof *thr);
    fathom_infer_arg *iargs = calloc((size_t)p->n_devices, sizeof *iargs);
    int started = 0;
    fathom_status st = FATHOM_OK;
    if (!thr || !iargs) {
        st = fail_nomem("the pipeline threads");
        goto done;
    }
    atomic_store(&pl->decode_alive, p->workers);
    const int n_infer = pl->vda ? 1 : p->n_devices;
    atomic_store(&pl->infer_alive, n_infer);
    /* consumers first, then the source; a failed thread start closes the input so that the
     * threads already running drain and end */
    for (int i = 0; i < p->workers && st == FATHOM_OK; i++)
        if (pthread_create(&thr[started], NULL, fathom_stage_write, pl) == 0) started++;
        else st = fathom_fail(FATHOM_ERR_NOMEM, "cannot start a write thread");
    for (int d = 0; d < n_infer && st == FATHOM_OK; d++) {
        iargs[d] = (fathom_infer_arg){pl, d};
        if (pthread_create(&thr[started], NULL, pl->vda ? fathom_stage_vda : fathom_stage_infer,
                           pl->vda ? (void *)pl : &iargs[d]) == 0)
            started++;
        else st = fathom_fail(FATHOM_ERR_NOMEM, "cannot start an inference thread");
    }
    for (int i = 0; i < p->workers && st == FATHOM_OK; i++)
        if (pthread_create(&thr[started], NULL, fathom_stage_decode, pl) == 0) started++;
        else st = fathom_fail(FATHOM_ERR_NOMEM, "cannot start a decode thread");
    if (st == FATHOM_OK) {
        if (pthread_create(&thr[started], NULL, fathom_stage_source, pl) == 0) started++;
        else st = fathom_fail(FATHOM_ERR_NOMEM, "cannot start the source thread");
    }
    if (st != FATHOM_OK) {
        /* unwind: threads of each stage that did start drain closed queues */
        fathom_pipeline_set_fatal(pl, st, fathom_last_error());
        fathom_queue_close(pl->q_decode);
        fathom_queue_close(pl->q_infer);
        fathom_queue_close(pl->q_write);
    }
    /* progress until every item is accounted and the input is closed; poll finely so the
     * end is seen at once, report every stats_interval_s */
    fathom_run_stats s;
    double next_stats = pl->t0 + p->stats_interval_s;
    while (st == FATHOM_OK) {
        if (fathom_queue_is_closed(pl->q_write) && fathom_queue_size(pl->q_write) == 0 &&
            atomic_load(&pl->finished) == atomic_load(&pl->taken))
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (p->on_stats && fathom_now_s() >= next_stats) {
            next_stats += p->stats_interval_s;
            snapshot(pl, &s);
            p->on_stats(p->user, &s);
        }
    }
    for (int i = 0; i < started; i++) pthread_join(thr[i], NULL);
    if (pl->sink.ops && pl->sink.ops->finish) {
        fathom_status fs = pl->sink.ops->finish(pl->sink.self);
        if (fs != FATHOM_OK) fathom_pipeline_set_fatal(pl, fs, fathom_last_error());
    }
    snapshot(pl, &s);
    if (pl->report) {
        if (fathom_report_finish(pl->report, &s, p->governor, p->n_devices, p->batch) != FATHOM_OK) {
            fathom_pipeline_set_fatal(pl, FATHOM_ERR_IO, fathom_last_error());
            snapshot(pl, &s);
        }
    }
    if (p->on_stats) p->on_stats(p->user, &s);
    if (stats_out) *stats_out = s;
    if (s.fatal != FATHOM_OK) st = fathom_fail(s.fatal, "%s", s.fatal_msg);
    else if (s.cancelled) st = fathom_fail(FATHOM_ERR_INTERRUPTED, "interrupted");
done:
    free(thr);
    free(iargs);
    return st;
}

void fathom_pipeline_free(fathom_pipeline **plp) {
    if (!plp || !*plp) return;
    struct fathom_pipeline *pl = *plp;
    for (int d = 0; d < FATHOM_MAX_DEVICES; d++)
        if (!(pl->lent & (1u << d))) fathom_engine_free(&pl->engines[d]);
    fathom_vda_stage_free(&pl->vda);
    fathom_fetcher_free(&pl->fetcher);
    fathom_names_free(&pl->names);
    fathom_report_free(&pl->report);
    fathom_source_free(&pl->src);
    fathom_sink_free(&pl->sink);
    fathom_manifest_free(&pl->manifest); /* after the sink and names, which borrow it */
    fathom_input_ids_free(&pl->input_ids);
    if (pl->items)
        for (size_t i = 0; i < pl->n_items; i++) fathom_item_destroy(&pl->items[i]);
    free(pl->items);
    free(pl->reorder);
    fathom_queue_free(&pl->q_free);
    fathom_queue_free(&pl->q_decode);
    fathom_queue_free(&pl->q_infer);
    fathom_queue_free(&pl->q_write);
    pthread_mutex_destroy(&pl->mu);
    pthread_mutex_destroy(&pl->reorder_mu);
    free(pl);
    *plp = NULL;
}
