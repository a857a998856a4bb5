/* cli_util.h - what every `fathom` subcommand shares: the "fathom <cmd>:" message prefix,
 * option errors with a suggestion, number and device parsing, and the log callback. */
#ifndef FATHOM_CLI_UTIL_H
#define FATHOM_CLI_UTIL_H

#include <getopt.h>
#include <stdio.h>

#include "fathom.h"

/* The subcommand ("run") used in the prefix of every message; set once in main. */
void cli_set_command(const char *name);
const char *cli_command(void);

/* "fathom <cmd>: <message>\n" on stderr (or an NDJSON message line when cli_set_ndjson(1)). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A note the user should see at the default verbosity (hidden by -q). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A library message in the flag words the user typed (what cli_error/cli_warn/cli_note and the
 * log do to every line). */
void cli_flag_words(const char *msg, char *out, size_t cap);
/* Every later stderr line of cli_error/cli_warn and of the log is one JSON object. */
void cli_set_ndjson(int on);
int cli_ndjson(void);

/* getopt_long over argv with `shortopts` (a leading ':' is added). Returns the option like
 * getopt_long, -1 at the end, or '?' after printing the one-line error for an unknown option
 * (with "did you mean --x?" when a long option is close) or a missing value; the caller then
 * returns 2. *longindex as getopt_long. Set optind = 1 before the first call. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               int *longindex);

/* Numbers: 1 when `s` is an integer/number in [lo, hi], else prints "FLAG: ..." and returns 0. */
int cli_int(const char *flag, const char *s, long lo, long hi, int *out);
int cli_double(const char *flag, const char *s, double lo, double hi, double *out);

/* One device: "cpu", "cuda", "cuda:N" or "auto" (CUDA 0 when usable, else the CPU, saying so
 * on stderr). 1 ok, 0 after printing why not. */
int cli_device(const char *s, fathom_engine_params *ep);
/* "local" / "local:K": append this process's CUDA devices on its machine (fathom_local_devices,
 * K per process, default an even share) to rp->devices, saying which; 1 ok, 0 after printing
 * why. */
int cli_local_devices(const char *s, fathom_run_params *rp, int threads, fathom_precision precision);

/* A model argument (path, name, alias, Hugging Face repo id; NULL = small) to a path for
 * fathom_model_load, downloading into the cache unless `offline` (progress on a terminal,
 * Ctrl-C stops it). 1 ok, 0 after printing why not. */
int cli_model(const char *arg, int offline, char *out, size_t cap);

/* Verbosity from -q (-1) / -v (+1 each): 0 shows warnings, -1 nothing, 1 info, 2 debug.
 * Installs the library log callback that prints at that level. */
void cli_log_install(int verbosity);

#endif
