/* nvml.c - NVML through dlopen, so fathom runs (without GPU readings) where it is absent.
 *
 * Only the handful of functions the governor needs are resolved. The library is opened once
 * and reference counted; the function pointers are written before `loaded` is published and
 * never change while a reference is held, so readers (sampler thread, restore path) take no
 * lock. Any missing symbol or failing nvmlInit means "no GPU readings", never an error. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "governor/sensor.h"

typedef int nvml_ret; /* nvmlReturn_t */
typedef struct nvml_dev_st *nvml_dev; /* nvmlDevice_t */
typedef struct { unsigned int gpu, memory; } nvml_util;                    /* nvmlUtilization_t */
typedef struct { unsigned long long total, free, used; } nvml_memory;      /* nvmlMemory_t */

#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_TEMPERATURE_GPU 0

static struct {
    nvml_ret (*init)(void);
    nvml_ret (*shutdown)(void);
    nvml_ret (*handle)(unsigned int, nvml_dev *);
    nvml_ret (*util)(nvml_dev, nvml_util *);
    nvml_ret (*memory)(nvml_dev, nvml_memory *);
    nvml_ret (*power)(nvml_dev, unsigned int *);              /* mW */
    nvml_ret (*temp)(nvml_dev, int, unsigned int *);          /* deg C */
    nvml_ret (*limit)(nvml_dev, unsigned int *);              /* mW */
    nvml_ret (*limits)(nvml_dev, unsigned int *, unsigned int *); /* min, max mW */
    nvml_ret (*set_limit)(nvml_dev, unsigned int);            /* mW */
} fn;

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static void *lib;           /* owned: dlopen handle while refs > 0 */
static int refs;
static atomic_int loaded;   /* 1: fn usable */

static void *sym(const char *a, const char *b) {
    void *p = dlsym(lib, a);
    return p || !b ? p : dlsym(lib, b);
}

int gov_nvml_open(void) {
    pthread_mutex_lock(&open_lock);
    if (refs > 0) {
        refs++;
        int ok = atomic_load(&loaded);
        pthread_mutex_unlock(&open_lock);
        return ok;
    }
    int ok = 0;
    lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib) {
        *(void **)&fn.init = sym("nvmlInit_v2", "nvmlInit");
        *(void **)&fn.shutdown = sym("nvmlShutdown", NULL);
        *(void **)&fn.handle = sym("nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
        *(void **)&fn.util = sym("nvmlDeviceGetUtilizationRates", NULL);
        *(void **)&fn.memory = sym("nvmlDeviceGetMemoryInfo", NULL);
        *(void **)&fn.power = sym("nvmlDeviceGetPowerUsage", NULL);
        *(void **)&fn.temp = sym("nvmlDeviceGetTemperature", NULL);
        *(void **)&fn.limit = sym("nvmlDeviceGetPowerManagementLimit", NULL);
        *(void **)&fn.limits = sym("nvmlDeviceGetPowerManagementLimitConstraints", NULL);
        *(void **)&fn.set_limit = sym("nvmlDeviceSetPowerManagementLimit", NULL);
        ok = fn.init && fn.shutdown && fn.handle && fn.util && fn.memory &&
             fn.init() == NVML_SUCCESS;
        if (!ok) {
            dlclose(lib);
            lib = NULL;
        }
    }
    atomic_store(&loaded, ok);
    refs = 1;
    pthread_mutex_unlock(&open_lock);
    return ok;
}

void gov_nvml_close(void) {
    pthread_mutex_lock(&open_lock);
    if (refs > 0 && --refs == 0) {
        if (atomic_exchange(&loaded, 0)) {
            fn.shutdown();
            dlclose(lib);
            lib = NULL;
        }
    }
    pthread_mutex_unlock(&open_lock);
}

static int dev(int index, nvml_dev *d) {
    if (!atomic_load(&loaded) || index < 0) return -1;
    return fn.handle((unsigned int)index, d) == NVML_SUCCESS ? 0 : -1;
}

int gov_nvml_read(int index, gov_gpu_reading *out) {
    nvml_dev d;
    if (dev(index, &d) != 0) return -1;
    nvml_util u;
    nvml_memory m;
    if (fn.util(d, &u) != NVML_SUCCESS || fn.memory(d, &m) != NVML_SUCCESS) return -1;
    out->util = u.gpu;
    out->mem_used = m.used;
    out->mem_total = m.total;
    unsigned int v;
    out->power_w = fn.power && fn.power(d, &v) == NVML_SUCCESS ? v / 1000.0 : -1;
    out->temp_c = fn.temp && fn.temp(d, NVML_TEMPERATURE_GPU, &v) == NVML_SUCCESS ? (double)v : -1;
    return 0;
}

static gov_act_result act(nvml_ret r) {
    if (r == NVML_SUCCESS) return GOV_ACT_OK;
    if (r == NVML_ERROR_NO_PERMISSION) return GOV_ACT_NO_PERMISSION;
    if (r == NVML_ERROR_NOT_SUPPORTED) return GOV_ACT_UNSUPPORTED;
    return GOV_ACT_FAILED;
}

gov_act_result gov_nvml_power_get(int index, double *cur_w, double *min_w, double *max_w) {
    nvml_dev d;
    if (dev(index, &d) != 0 || !fn.limit || !fn.limits) return GOV_ACT_UNSUPPORTED;
    unsigned int cur, lo, hi;
    nvml_ret r = fn.limit(d, &cur);
    if (r == NVML_SUCCESS) r = fn.limits(d, &lo, &hi);
    if (r != NVML_SUCCESS) return act(r);
    *cur_w = cur / 1000.0;
    *min_w = lo / 1000.0;
    *max_w = hi / 1000.0;
    return GOV_ACT_OK;
}

/* Called from the restore path too: no locks, no allocation. */
gov_act_result gov_nvml_power_set(int index, double watts) {
    nvml_dev d;
    if (dev(index, &d) != 0 || !fn.set_limit) return GOV_ACT_UNSUPPORTED;
    return act(fn.set_limit(d, (unsigned int)(watts * 1000.0 + 0.5)));
}
