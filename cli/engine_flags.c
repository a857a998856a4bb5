/* engine_flags.c - the flags `fathom run` and `fathom serve` share (engine_flags.h). */
#include "engine_flags.h"

#include <strings.h>

#include "cli_util.h"

int cli_precision(const char *s, fathom_precision *out) {
    if (!strcasecmp(s, "fp32")) *out = FATHOM_PRECISION_FP32;
    else if (!strcasecmp(s, "fp16")) *out = FATHOM_PRECISION_FP16;
    else if (!strcasecmp(s, "bf16")) *out = FATHOM_PRECISION_BF16;
    else {
        cli_error("--precision: '%s' is not fp32, fp16 or bf16", s);
        return 0;
    }
    return 1;
}

/* The governor's flags; -1 when c is not one of them. */
static int governor_flag(int c, const char *arg, fathom_governor_params *gp) {
    int v;
    switch (c) {
    case CLI_OPT_TARGET_UTIL: return cli_double("--target-util", arg, 1, 99.999, &gp->target_util);
    case CLI_OPT_MAX_UTIL: return cli_double("--max-util", arg, 1, 100, &gp->max_util);
    case CLI_OPT_BATCH_MIN: return cli_int("--batch-min", arg, 1, 256, &gp->batch_min);
    case CLI_OPT_BATCH_MAX: return cli_int("--batch-max", arg, 1, 256, &gp->batch_max);
    case CLI_OPT_NICE:
        if (!cli_int("--nice", arg, -20, 19, &v)) return 0;
        gp->nice = v;
        return 1;
    case CLI_OPT_GPU_MEM_LIMIT:
        if (fathom_parse_bytes(arg, &gp->gpu_mem_limit) == FATHOM_OK) return 1;
        cli_error("--gpu-mem-limit: %s", fathom_last_error());
        return 0;
    case CLI_OPT_GPU_MEM_FRACTION:
        return cli_double("--gpu-mem-fraction", arg, 0.001, 1, &gp->gpu_mem_fraction);
    case CLI_OPT_GPU_POWER_LIMIT:
        return cli_double("--gpu-power-limit", arg, 1, 10000, &gp->gpu_power_limit_w);
    case CLI_OPT_GOVERNOR_HZ: /* the same range the governor validates */
        return cli_double("--governor-hz", arg, 0.5, 1000, &gp->hz);
    default: return -1;
    }
}

int cli_engine_flag(int c, const char *arg, const cli_engine_dest *d) {
    double v;
    switch (c) {
    case CLI_OPT_PRECISION: return cli_precision(arg, d->precision);
    case CLI_OPT_THREADS: return cli_int("--threads", arg, 0, 4096, d->threads);
    case CLI_OPT_OFFLINE: *d->offline = 1; return 1;
    case CLI_OPT_METRIC: d->mp->metric = 1; return 1;
    case CLI_OPT_MAX_DEPTH:
        if (!cli_double("--max-depth", arg, 1e-6, 1e9, &v)) return 0;
        d->mp->max_depth = (float)v;
        return 1;
    default: {
        int g = governor_flag(c, arg, d->gp);
        if (g == 1) *d->use_governor = 1;
        return g;
    }
    }
}

int cli_check_cpu_precision(const fathom_engine_params *ep) {
    if (ep->device != FATHOM_DEVICE_CPU || ep->precision != FATHOM_PRECISION_FP16) return 1;
    cli_error("--precision fp16: the CPU engine computes in fp32 or bf16 "
              "(use --precision fp32, bf16 or a CUDA device)");
    return 0;
}
