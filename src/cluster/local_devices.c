/* local_devices.c - which GPUs of its machine a rank takes (`--device local[:K]`,
 * docs/scale-out.md "GPU binding"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/module.h"
#include "cluster/mpi_driver.h"
#include "core/status.h"
#include "fathom.h"

/* A non-negative integer environment variable, or -1. */
static int env_int(const char *name) {
    const char *s = getenv(name);
    char *end;
    if (!s || !*s) return -1;
    long v = strtol(s, &end, 10);
    return v >= 0 && v < (1 << 24) && (*end == '\0' || *end == '(' || *end == ',') ? (int)v : -1;
}

void fathom_local_rank(int *local_rank, int *local_size) {
    if (fathom_mpi_local_rank(local_rank, local_size)) return; /* the MPI node split */
    /* mpirun's environment, else Slurm's (SLURM_TASKS_PER_NODE: "4(x2),3": this node's first) */
    int r = env_int("OMPI_COMM_WORLD_LOCAL_RANK"), n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (r < 0 || n <= r) r = env_int("SLURM_LOCALID"), n = env_int("SLURM_TASKS_PER_NODE");
    if (r < 0 || n <= r) r = 0, n = 1;
    *local_rank = r, *local_size = n;
}

int fathom_cuda_visible_count(void) {
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    if (!v) return fathom_cuda_device_count();
    /* the CUDA runtime stops at the first invalid entry: "" and "-1" hide every device */
    int n = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || p[0] == '-') break;
        n++;
        p += len;
        if (*p) p++;
    }
    return n;
}

fathom_status fathom_local_devices(int local_rank, int local_size, int per_rank, int visible,
                                   int *first, int *count, int *shared) {
    *first = 0, *count = 0, *shared = 0;
    if (local_size < 1 || local_rank < 0 || local_rank >= local_size)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "local rank %d of %d is not a rank of this "
                           "machine", local_rank, local_size);
    if (visible < 1)
        return fathom_fail(FATHOM_ERR_DEVICE, "--device local: no CUDA device is visible to local "
                           "rank %d (CUDA_VISIBLE_DEVICES=%s)", local_rank,
                           getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "unset");
    if (per_rank > visible)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "--device local:%d: only %d CUDA devices are "
                           "visible", per_rank, visible);
    if (per_rank < 1) { /* an even share of the visible devices, at least one */
        per_rank = visible / local_size;
        if (per_rank < 1) per_rank = 1;
        /* a launcher that binds (Slurm --gpus-per-task) shows each rank only its own */
    }
    if (local_size * per_rank <= visible) {
        *first = local_rank * per_rank, *count = per_rank;
    } else if (visible == per_rank) { /* already bound by the launcher, or one rank's share */
        *first = 0, *count = visible;
        *shared = local_size > 1 && getenv("CUDA_VISIBLE_DEVICES") == NULL;
    } else { /* more ranks than devices: round robin, devices shared by several ranks */
        *first = (local_rank * per_rank) % visible, *count = per_rank;
        *shared = 1;
    }
    return FATHOM_OK;
}
