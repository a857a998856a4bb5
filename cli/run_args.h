/* run_args.h - `fathom run`: its command line (run_options.c) and its jobs (run_jobs.c). */
#ifndef FATHOM_CLI_RUN_ARGS_H
#define FATHOM_CLI_RUN_ARGS_H

#include "fathom.h"
#include "progress_tty.h"

/* Everything `fathom run` reads from its command line. */
typedef struct run_args {
    fathom_run_params rp;
    fathom_model_params mp;         /* --metric / --max-depth */
    fathom_governor_params gp;
    fathom_video_opts *vo;          /* owned (fathom_video_opts_free) */
    int use_governor, threads, resume, overwrite, offline, verbosity;
    const char *model_arg, *device_arg;
    const char *video_path;         /* --video FILE, borrowed from argv */
    fathom_precision precision;
    fathom_weight_format wformat;   /* --weights (CPU engines only) */
    progress_mode pmode;
    int chunks, overlap;            /* --chunks / --overlap: videos in chunks (scale-out) */
    int use_mpi, mpi_rank, mpi_size; /* --mpi: this rank of mpi_size */
    int streaming;                  /* --streaming (Video Depth Anything) */
} run_args;

/* Parse argv into *a (zeroed by the caller): -1 to go on, else the exit code (0 after --help).
 * a->vo is created here and owned by the caller afterwards, whatever the result. */
int run_parse_args(int argc, char **argv, run_args *a);
/* --device into a->rp.devices (with --threads, --precision and --weights); 1 ok, 0 after
 * printing why not. */
int run_parse_devices(run_args *a);
/* The governor over the run's devices; 1 ok, 0 after printing why not. */
int run_start_governor(run_args *a, fathom_governor **gov);

/* The jobs; each returns the exit code. claimed (may be NULL) gets the outputs of the videos run,
 * for the next videos' clash check. */
int run_images(const fathom_model *model, const fathom_run_params *rp, progress_out *po,
               long long n_videos);
int run_images_mpi(const fathom_model *model, const fathom_run_params *rp, progress_out *po,
                   int rank, int size);
int run_video(const fathom_model *model, const fathom_run_params *rp, progress_out *po,
              const char *input, const fathom_video_opts *vo, int streaming, char **claimed,
              int *n_claimed);
int run_video_chunked(const fathom_model *model, const fathom_run_params *rp, const char *input,
                      const fathom_video_opts *vo, int chunks, int overlap, int resume,
                      char **claimed, int *n_claimed);
int run_video_mpi(const fathom_model *model, const fathom_run_params *rp, const char *input,
                  const fathom_video_opts *vo, int chunks, int overlap, int resume, int rank,
                  char **claimed, int *n_claimed);

#endif
