/* engine_flags.h - the engine, model and governor flags that `fathom run` and `fathom serve`
 * share (--precision, --threads, --offline, --metric, --max-depth and the governor's): one
 * option-table fragment and one parser, so both commands take them with the same meaning. */
#ifndef FATHOM_CLI_ENGINE_FLAGS_H
#define FATHOM_CLI_ENGINE_FLAGS_H

#include <getopt.h>

#include "fathom.h"

enum {
    CLI_OPT_PRECISION = 3000, CLI_OPT_THREADS, CLI_OPT_OFFLINE, CLI_OPT_METRIC, CLI_OPT_MAX_DEPTH,
    CLI_OPT_TARGET_UTIL, CLI_OPT_MAX_UTIL, CLI_OPT_BATCH_MIN, CLI_OPT_BATCH_MAX, CLI_OPT_NICE,
    CLI_OPT_GPU_MEM_LIMIT, CLI_OPT_GPU_MEM_FRACTION, CLI_OPT_GPU_POWER_LIMIT, CLI_OPT_GOVERNOR_HZ
};

/* Entries of a struct option table (before its {0, 0, 0, 0}). */
#define CLI_ENGINE_LONGOPTS                                                                  \
    {"precision", required_argument, 0, CLI_OPT_PRECISION},                                  \
    {"threads", required_argument, 0, CLI_OPT_THREADS},                                      \
    {"offline", no_argument, 0, CLI_OPT_OFFLINE}, {"metric", no_argument, 0, CLI_OPT_METRIC}, \
    {"max-depth", required_argument, 0, CLI_OPT_MAX_DEPTH},                                  \
    {"target-util", required_argument, 0, CLI_OPT_TARGET_UTIL},                              \
    {"max-util", required_argument, 0, CLI_OPT_MAX_UTIL},                                    \
    {"batch-min", required_argument, 0, CLI_OPT_BATCH_MIN},                                  \
    {"batch-max", required_argument, 0, CLI_OPT_BATCH_MAX},                                  \
    {"nice", required_argument, 0, CLI_OPT_NICE},                                            \
    {"gpu-mem-limit", required_argument, 0, CLI_OPT_GPU_MEM_LIMIT},                          \
    {"gpu-mem-fraction", required_argument, 0, CLI_OPT_GPU_MEM_FRACTION},                    \
    {"gpu-power-limit", required_argument, 0, CLI_OPT_GPU_POWER_LIMIT},                      \
    {"governor-hz", required_argument, 0, CLI_OPT_GOVERNOR_HZ}

/* Where the parsed values go (all borrowed, none NULL). use_governor is set by any governor
 * flag. */
typedef struct cli_engine_dest {
    fathom_precision *precision;
    int *threads;                /* 0: all cores */
    int *offline;
    fathom_model_params *mp;     /* metric, max_depth */
    fathom_governor_params *gp;
    int *use_governor;
} cli_engine_dest;

/* Option c (from CLI_ENGINE_LONGOPTS) with its argument: 1 ok, 0 bad value (printed), -1 not
 * one of these flags. */
int cli_engine_flag(int c, const char *arg, const cli_engine_dest *d);

/* --precision fp32|fp16|bf16 (any case): 1 ok, 0 after printing why. */
int cli_precision(const char *s, fathom_precision *out);

/* The precision a CPU engine cannot take (fp16): 1 ok, 0 after printing why. */
int cli_check_cpu_precision(const fathom_engine_params *ep);

#endif
