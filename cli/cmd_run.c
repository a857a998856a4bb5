/* cmd_run.c - `fathom run`: depth maps for images, folders, lists, stdin and URLs.
 *
 * Exit codes: 0 every input done (or skipped by --resume), 1 some items failed, 2 usage or
 * setup error (bad flags, model missing, an input named here missing or unreadable, output
 * folder not writable, disk full), 130 interrupted. See docs/pipeline.md.
 * The command line is read in run_options.c, the jobs run in run_jobs.c; this file sorts the
 * inputs and runs the images, then each video. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "fathom.h"
#include "run_args.h"
#include "signals.h"

/* One `fathom run`: what it owns until it returns. */
typedef struct run_state {
    run_args a;
    char **argv;                      /* borrowed */
    const char *const *in;            /* borrowed: the inputs in argv */
    int n_in;
    fathom_model *model;              /* owned */
    fathom_governor *gov;             /* owned */
    const char **imgs, **vids;        /* owned arrays of borrowed argv strings */
    int n_img, n_vid;
    fathom_video_list walked;         /* owned: videos found in input folders */
    char **claimed;                   /* owned: outputs of the videos run so far (name clashes) */
    int n_claimed;
    int mpi_inited, mpi_shared;       /* --mpi: initialized; every rank reached the shared part */
} run_state;

/* The engines (--device, --weights) and, with --mpi, this rank; 1 ok, 0 after printing why. */
static int setup_engines(run_state *s) {
    run_args *a = &s->a;
    if (a->use_mpi) { /* first: --device local asks MPI which ranks share this machine */
        if (fathom_mpi_init(NULL, NULL, &a->mpi_rank, &a->mpi_size) != FATHOM_OK) {
            cli_error("%s", fathom_last_error());
            return 0;
        }
        s->mpi_inited = 1;
    }
    return run_parse_devices(a);
}

/* Videos run one by one as ordered jobs; everything else goes through one image run. The videos
 * inside input folders are run too, each as its own video (docs/video.md). 1 ok, 0 after
 * printing why not. */
static int sort_inputs(run_state *s) {
    fathom_run_params *rp = &s->a.rp;
    s->imgs = calloc((size_t)s->n_in + 1, sizeof *s->imgs);
    s->vids = calloc((size_t)s->n_in + 1, sizeof *s->vids);
    if (!s->imgs || !s->vids) {
        cli_error("out of memory");
        return 0;
    }
    for (int i = 0; i < s->n_in; i++) {
        if (fathom_video_is_input(s->in[i])) s->vids[s->n_vid++] = s->in[i];
        else s->imgs[s->n_img++] = s->in[i];
    }
    for (int i = 0; i < s->n_in; i++) {
        struct stat sb;
        if (!fathom_video_is_input(s->in[i]) && stat(s->in[i], &sb) == 0 &&
            S_ISDIR(sb.st_mode) &&
            fathom_video_walk(s->in[i], rp->recursive, rp->outdir, &s->walked) != FATHOM_OK) {
            cli_error("%s", fathom_last_error());
            return 0;
        }
    }
    if (s->a.video_path && s->n_vid + (int)s->walked.n > 1) {
        cli_error("--video names one depth video, but the inputs hold %d videos (leave --video "
                  "out: each goes to OUTDIR/<name>_depth.mkv)", s->n_vid + (int)s->walked.n);
        return 0;
    }
    rp->inputs = s->imgs;
    rp->n_inputs = s->n_img;
    rp->stdin_list = stdin;
    return 1;
}

/* --video FILE never replaces an input (as given or under OUTDIR); 1 ok, 0 after printing. */
static int check_video_path(const run_state *s) {
    const char *v = s->a.video_path;
    if (!v) return 1;
    char under[4096];
    snprintf(under, sizeof under, "%s/%s", s->a.rp.outdir, v);
    if (fathom_path_is_input(v, s->in, s->n_in) ||
        (v[0] != '/' && fathom_path_is_input(under, s->in, s->n_in))) {
        cli_error("--video %s is an input of this run: the depth video would replace the "
                  "input; choose another output name", v);
        return 0;
    }
    return 1;
}

static const char *video_input(const run_state *s, int i) {
    return i < s->n_vid ? s->vids[i] : s->walked.items[i - s->n_vid].path;
}

/* Each video is its own item: one that fails does not stop the next (only Ctrl-C does).
 * Returns the worst exit code of rc and the videos'. */
static int run_videos(run_state *s, progress_out *po, int rc) {
    run_args *a = &s->a;
    fathom_run_params *rp = &a->rp;
    const int n_all = s->n_vid + (int)s->walked.n;
    s->claimed = calloc((size_t)n_all * 3 + 1, sizeof *s->claimed); /* owned, with each path */
    for (int i = 0; i < n_all && rc != 130; i++) {
        const char *in = video_input(s, i);
        /* --shard: videos by their position among the run's videos (arguments, then folders) */
        if (!fathom_shard_takes((uint64_t)i, rp->shard_index, rp->shard_count)) continue;
        /* several engines: chunks (0 = automatic) unless --chunks 1 */
        const int chunked = a->mpi_size > 1 || a->chunks > 1 ||
                            (a->chunks == 0 && rp->n_devices > 1);
        fathom_video_opts_set_run(a->vo, signals_cancel_flag(),
                                  i < s->n_vid ? NULL : s->walked.items[i - s->n_vid].rel_dir,
                                  s->in, s->n_in, (const char *const *)s->claimed,
                                  s->claimed ? s->n_claimed : 0);
        /* one report per run: with several runs, video k's is FILE.<video name>.json */
        char rpath[4096];
        fathom_run_params vp = *rp;
        vp.vda_streaming = a->streaming; /* Video Depth Anything models only */
        if (rp->report_path && s->n_img + n_all > 1) {
            int dup = 0; /* earlier videos of the same name (other folders) */
            for (int j = 0; j < i; j++) dup += fathom_video_same_name(in, video_input(s, j));
            fathom_video_report_path(rp->report_path, in, dup, rpath, sizeof rpath);
            vp.report_path = rpath;
        }
        char **cl = s->claimed;
        int *ncl = &s->n_claimed;
        int r = a->mpi_size > 1 ? run_video_mpi(s->model, &vp, in, a->vo, a->chunks, a->overlap,
                                                a->resume, a->mpi_rank, cl, ncl)
                : chunked ? run_video_chunked(s->model, &vp, in, a->vo, a->chunks,
                                                    a->overlap, a->resume, cl, ncl)
                : run_video(s->model, &vp, po, in, a->vo, a->streaming, cl, ncl);
        if (r > rc) rc = r; /* 130 > 2 > 1 > 0: the worst outcome decides */
    }
    return rc;
}

/* Everything after the command line: 0, 1, 2 or 130. */
static int run(run_state *s, int argc) {
    run_args *a = &s->a;
    fathom_run_params *rp = &a->rp;
    if (!setup_engines(s) || !sort_inputs(s)) return 2;
    signals_install();
    char model_path[4096];
    if (!cli_model(a->model_arg, a->offline, model_path, sizeof model_path)) return 2;
    if (fathom_model_load(model_path, &a->mp, &s->model) != FATHOM_OK) {
        cli_error("model: %s", fathom_last_error());
        return 2;
    }
    rp->argc = argc, rp->argv = (const char *const *)s->argv;
    rp->model_path = model_path; /* for the report */
    if (!check_video_path(s)) return 2;
    if (a->use_governor && !run_start_governor(a, &s->gov)) return 2;
    progress_out po;
    progress_init(&po, a->pmode, a->verbosity < 0);
    progress_attach(&po, rp);
    if (po.mode == PROGRESS_NDJSON) rp->stats_interval_s = 1.0; /* a line a second is plenty */
    int rc = 0;
    s->mpi_shared = 1;
    if (a->mpi_size > 1 && s->n_img > 0) /* rank 0 hands out batches; every rank runs them */
        rc = run_images_mpi(s->model, rp, &po, a->mpi_rank, a->mpi_size);
    else if (s->n_img > 0) rc = run_images(s->model, rp, &po, (long long)s->walked.n);
    return run_videos(s, &po, rc);
}

int cmd_run(int argc, char **argv) {
    run_state s;
    memset(&s, 0, sizeof s);
    int rc = run_parse_args(argc, argv, &s.a);
    if (rc < 0) {
        s.argv = argv;
        s.in = (const char *const *)argv + optind;
        s.n_in = argc - optind;
        rc = run(&s, argc);
    }
    /* a rank that stops before the shared part would leave the others waiting: end them all */
    if (s.a.mpi_size > 1 && rc == 2 && !s.mpi_shared) fathom_mpi_abort(2);
    if (s.mpi_inited) fathom_mpi_finalize();
    for (int i = 0; i < s.n_claimed; i++) free(s.claimed[i]);
    free(s.claimed);
    fathom_video_list_free(&s.walked);
    if (rc == 2 && signals_cancelled()) rc = 130;
    fathom_governor_free(&s.gov);
    fathom_model_free(&s.model);
    fathom_video_opts_free(&s.a.vo);
    free(s.imgs);
    free(s.vids);
    return rc;
}
