/* cluster_api.c - the public scale-out calls of fathom.h over the internal ones (chunk_job.h,
 * mpi_driver.h), and the MPI entry points of a library built without MPI: they exist in every
 * build (libfathom exports the same functions) and say why they cannot work. */
#include <stdio.h>
#include <string.h>

#include "cluster/chunk_job.h"
#include "cluster/mpi_driver.h"
#include "core/status.h"
#include "fathom.h"

static void fill_opts(fathom_chunk_run_opts *co, const fathom_video_run_opts *vo, int n_chunks,
                      int overlap, int resume) {
    memset(co, 0, sizeof *co);
    co->n_chunks = n_chunks;
    co->overlap = overlap;
    co->resume = resume;
    co->cancel = vo->cancel; /* fathom_video_opts_set_run's flag stops the chunks too */
}

/* A video found in an input folder (fathom_video_opts_set_run's rel_dir) has its outputs in
 * OUTDIR/<rel_dir>/: the chunk runner gets that folder as its OUTDIR (its work folder goes
 * there too) and options without rel_dir. */
static const fathom_run_params *under_rel_dir(const fathom_run_params *params,
                                              const fathom_video_run_opts **vo,
                                              fathom_run_params *p_copy,
                                              fathom_video_run_opts *vo_copy, char *dir,
                                              size_t cap) {
    if (!(*vo)->rel_dir || !(*vo)->rel_dir[0] || !params->outdir) return params;
    snprintf(dir, cap, "%s/%s", params->outdir, (*vo)->rel_dir);
    *p_copy = *params;
    p_copy->outdir = dir;
    *vo_copy = **vo;
    vo_copy->rel_dir = NULL;
    *vo = vo_copy;
    return p_copy;
}

/* What a chunked run (local or MPI) is given: the options (defaults when none), the chunk
 * plan's settings, and params/options moved under the video's relative folder. */
typedef struct run_setup {
    fathom_video_run_opts def, vc;
    fathom_run_params pc;
    char dir[4096];
    fathom_chunk_run_opts co;
    const fathom_video_run_opts *vo;  /* def, vc or the caller's */
    const fathom_run_params *params; /* pc or the caller's */
} run_setup;

static void setup_run(run_setup *rs, const fathom_run_params *params,
                      const fathom_video_opts *opts, int n_chunks, int overlap, int resume) {
    rs->vo = fathom_video_opts_run_opts(opts);
    if (!rs->vo) {
        fathom_video_run_default_opts(&rs->def);
        rs->vo = &rs->def;
    }
    fill_opts(&rs->co, rs->vo, n_chunks, overlap, resume);
    rs->params = under_rel_dir(params, &rs->vo, &rs->pc, &rs->vc, rs->dir, sizeof rs->dir);
}

fathom_status fathom_chunk_video_run(const fathom_model *m, const fathom_run_params *params,
                                     const char *input, const fathom_video_opts *opts,
                                     int n_chunks, int overlap, int resume,
                                     fathom_chunk_run_result *res) {
    if (res) memset(res, 0, sizeof *res);
    if (!m || !params || !input || !res)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_chunk_video_run: NULL argument");
    run_setup rs;
    setup_run(&rs, params, opts, n_chunks, overlap, resume);
    return fathom_chunked_video_run(m, rs.params, input, rs.vo, &rs.co, res);
}

#define NO_MPI "mpi: this fathom was built without MPI (CMake FATHOM_MPI; Open MPI: " \
               "scripts/install-deps.sh)"

fathom_status fathom_mpi_video_run(const fathom_model *m, const fathom_run_params *params,
                                   const char *input, const fathom_video_opts *opts,
                                   int n_chunks, int overlap, int resume,
                                   fathom_chunk_run_result *res) {
    if (res) memset(res, 0, sizeof *res);
#ifdef FATHOM_HAVE_MPI
    if (!m || !params || !input || !res)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_mpi_video_run: NULL argument");
    run_setup rs;
    setup_run(&rs, params, opts, n_chunks, overlap, resume);
    return fathom_mpi_run_video(m, rs.params, input, rs.vo, &rs.co, res);
#else
    (void)m, (void)params, (void)input, (void)opts, (void)n_chunks, (void)overlap, (void)resume;
    return fathom_fail(FATHOM_ERR_UNSUPPORTED, NO_MPI);
#endif
}

#ifndef FATHOM_HAVE_MPI
fathom_status fathom_mpi_init(int *argc, char ***argv, int *rank, int *size) {
    (void)argc, (void)argv;
    if (rank) *rank = 0;
    if (size) *size = 1;
    return fathom_fail(FATHOM_ERR_UNSUPPORTED, NO_MPI);
}
void fathom_mpi_finalize(void) {}
int fathom_mpi_local_rank(int *local_rank, int *local_size) {
    (void)local_rank, (void)local_size;
    return 0;
}
void fathom_mpi_abort(int code) { (void)code; }
void fathom_mpi_share_int(int *value) { (void)value; }
void fathom_mpi_images_worker_init(fathom_mpi_images *st, int batch) {
    if (st) memset(st, 0, sizeof *st), st->batch = batch;
}
int fathom_mpi_images_take(void *user, uint64_t pos) {
    (void)user, (void)pos;
    return 0;
}
void fathom_mpi_images_worker_done(int rc) { (void)rc; }
fathom_status fathom_mpi_images_serve_start(int size) {
    (void)size;
    return fathom_fail(FATHOM_ERR_UNSUPPORTED, NO_MPI);
}
int fathom_mpi_images_serve_end(void) { return 0; }
#endif
