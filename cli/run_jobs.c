/* run_jobs.c - the jobs of `fathom run`: the image pipeline, one video (Video Depth Anything,
 * a video job, in chunks, over MPI ranks), each wired to Ctrl-C and returning its exit code
 * (run_args.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "run_args.h"
#include "signals.h"

/* Run a created pipeline with Ctrl-C wired to it; returns the exit code. n_videos: the videos
 * found in input folders, which the image walk counts as "not images" and which run after it. */
static int run_pipeline(fathom_pipeline *pl, progress_out *po, fathom_run_stats *stats,
                        long long n_videos) {
    if (signals_cancelled()) return 130;
    signals_set_pipeline(pl);
    fathom_status st = fathom_pipeline_run(pl, stats);
    signals_set_pipeline(NULL);
    progress_finish(po, stats);
    const int64_t *ig = stats->ignored; /* folder entries not taken: say so */
    if (n_videos > 0 && ig[0] >= n_videos)
        cli_note("not taken from input folders: %lld not images (%lld of them videos, each run "
                 "next as its own job), %lld special files (FIFO, socket, device), %lld "
                 "sub-folders (-r walks them; symlinks never)",
                 (long long)ig[0], n_videos, (long long)ig[1], (long long)ig[2]);
    else if (ig[0] + ig[1] + ig[2] > 0)
        cli_note("not taken from input folders: %lld not images, %lld special files (FIFO, "
                 "socket, device), %lld sub-folders (-r walks them; symlinks never)",
                 (long long)ig[0], (long long)ig[1], (long long)ig[2]);
    if (stats->fatal != FATHOM_OK) {
        cli_error("%s", stats->fatal_msg);
        return 2;
    }
    if (st == FATHOM_ERR_INTERRUPTED || stats->cancelled) {
        cli_error("interrupted: %lld of %lld taken inputs finished, input not read further",
                  (long long)(stats->done + stats->skipped), (long long)stats->taken);
        return 130;
    }
    if (st != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        return 2;
    }
    return stats->failed ? 1 : 0;
}

int run_images(const fathom_model *model, const fathom_run_params *rp, progress_out *po,
               long long n_videos) {
    fathom_pipeline *pl = NULL;
    if (fathom_pipeline_create(model, rp, &pl) != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        return 2;
    }
    fathom_run_stats stats;
    int rc = run_pipeline(pl, po, &stats, n_videos);
    fathom_pipeline_free(&pl);
    return rc;
}

/* One video: a Video Depth Anything runner, or a video job through the image pipeline. */
int run_video(const fathom_model *model, const fathom_run_params *rp, progress_out *po,
              const char *input, const fathom_video_opts *vo, int streaming, char **claimed,
              int *n_claimed) {
    if (streaming && !fathom_model_is_video(model)) {
        cli_error("--streaming needs a Video Depth Anything model (video_depth_anything_*.pth); "
                  "the model given is a Depth Anything V2 (image) one");
        return 2;
    }
    fathom_video_job *job = NULL;
    fathom_pipeline *pl = NULL;
    char summary[1024];
    if (fathom_video_run_create(model, rp, input, vo, &job, &pl) != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        return signals_cancelled() ? 130 : 1; /* each video is its own item */
    }
    const char *outs[3];
    for (int k = 0, n = fathom_video_job_outputs(job, outs); claimed && k < n; k++)
        if ((claimed[*n_claimed] = strdup(outs[k]))) (*n_claimed)++;
    const char *notes = fathom_video_job_notes(job);
    if (notes[0]) cli_note("%s", notes);
    if (!pl) { /* --resume: every output complete */
        fathom_video_job_summary(job, summary, sizeof summary);
        cli_note("%s", summary);
        fathom_video_job_release(&job);
        return 0;
    }
    fathom_run_stats stats;
    int rc = run_pipeline(pl, po, &stats, 0);
    fathom_pipeline_free(&pl); /* finishes the job's outputs */
    fathom_video_job_summary(job, summary, sizeof summary);
    for (char *line = summary; *line;) { /* one message per line (NDJSON: one event each) */
        size_t n = strcspn(line, "\n");
        char keep = line[n];
        line[n] = '\0';
        if (n) cli_note("%s", line);
        line[n] = keep;
        line += n + (keep ? 1 : 0);
    }
    fathom_video_job_release(&job);
    return rc;
}

/* What a chunked video run (--chunks, --mpi) made: a note, and its outputs claimed. */
static void chunk_summary(const char *input, const fathom_chunk_run_result *res, const char *where,
                          char **claimed, int *n_claimed) {
    cli_note("%s: %lld frames in %d chunks%s (%d run now, %d from an earlier run, %d retried)",
             input, (long long)res->frames, res->chunks, where, res->ran, res->reused,
             res->retried);
    for (int i = 0; i < 3; i++)
        if (res->outputs[i][0]) {
            cli_note("  %s", res->outputs[i]);
            if (claimed && (claimed[*n_claimed] = strdup(res->outputs[i]))) (*n_claimed)++;
        }
}

/* --chunks: one video as chunks on the --device engines, merged (fathom_chunk_video_run). */
int run_video_chunked(const fathom_model *model, const fathom_run_params *rp, const char *input,
                      const fathom_video_opts *vo, int chunks, int overlap, int resume,
                      char **claimed, int *n_claimed) {
    if (signals_cancelled()) return 130;
    fathom_chunk_run_result res;
    fathom_status st = fathom_chunk_video_run(model, rp, input, vo, chunks, overlap, resume, &res);
    if (st != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        return st == FATHOM_ERR_INTERRUPTED || signals_cancelled() ? 130 : res.chunks > 0 ? 1 : 2;
    }
    chunk_summary(input, &res, "", claimed, n_claimed);
    return 0;
}

/* --mpi with several ranks: rank 0 plans, hands out the chunks and merges
 * (fathom_mpi_video_run); every rank returns rank 0's exit code. */
int run_video_mpi(const fathom_model *model, const fathom_run_params *rp, const char *input,
                  const fathom_video_opts *vo, int chunks, int overlap, int resume, int rank,
                  char **claimed, int *n_claimed) {
    fathom_chunk_run_result res;
    fathom_status st = fathom_mpi_video_run(model, rp, input, vo, chunks, overlap, resume, &res);
    int rc = 0;
    if (rank == 0 && st != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        rc = st == FATHOM_ERR_INTERRUPTED ? 130 : res.chunks > 0 ? 1 : 2;
    } else if (rank == 0) {
        chunk_summary(input, &res, " over the ranks", claimed, n_claimed);
    }
    fathom_mpi_share_int(&rc); /* rank 0 knows how the video ended: every rank goes on alike */
    return rc;
}

static double mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* --mpi, images: rank 0 hands out batches (from a thread) and runs its own share; every rank
 * writes REPORT.rank<r>.json and rank 0 merges them into --report (elapsed_s: the job on rank
 * 0's clock). Every rank returns the same exit code. */
int run_images_mpi(const fathom_model *model, const fathom_run_params *rp, progress_out *po,
                   int rank, int size) {
    fathom_mpi_images mst;
    fathom_mpi_images_worker_init(&mst, rp->batch); /* every rank ready */
    const double t0 = mono_s(); /* rank 0: the job starts with its hand-out */
    if (rank == 0 && fathom_mpi_images_serve_start(size) != FATHOM_OK) {
        cli_error("%s", fathom_last_error());
        fathom_mpi_abort(2); /* the others would wait for batches forever */
    }
    char rank_report[4200];
    fathom_run_params wp = *rp;
    wp.take = fathom_mpi_images_take, wp.take_user = &mst;
    if (rp->report_path) {
        snprintf(rank_report, sizeof rank_report, "%s.rank%d.json", rp->report_path, rank);
        wp.report_path = rank_report;
    }
    int rc = run_images(model, &wp, po, 0);
    fathom_mpi_images_worker_done(rc);
    if (rank == 0) {
        int others = fathom_mpi_images_serve_end();
        if (others > rc) rc = others; /* 130 > 2 > 1 > 0 */
        if (rp->report_path) { /* one report from the ranks' */
            char(*paths)[4200] = calloc((size_t)size, sizeof *paths);
            const char **pp = calloc((size_t)size, sizeof *pp);
            for (int r = 0; paths && pp && r < size; r++) {
                snprintf(paths[r], sizeof paths[r], "%s.rank%d.json", rp->report_path, r);
                pp[r] = paths[r];
            }
            if (!paths || !pp ||
                fathom_report_merge_job(pp, size, rp->report_path, NULL, mono_s() - t0) !=
                    FATHOM_OK) {
                cli_error("%s", paths && pp ? fathom_last_error() : "out of memory");
                if (rc < 2) rc = 2;
            }
            free(pp);
            free(paths);
        }
    }
    fathom_mpi_share_int(&rc); /* every rank goes on to the videos, or none does */
    return rc;
}

