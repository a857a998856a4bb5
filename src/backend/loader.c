/* loader.c - finds and loads the CUDA backend module on the first CUDA request.
 *
 * Search order (first that loads wins):
 *   1. FATHOM_BACKEND_PATH: ':'-separated directories (or paths of the module file itself);
 *      when it is set, nothing else is searched (an override: tests and relocated installs
 *      must not pick up another build's module from the install libdir);
 *   2. the directory of the binary or shared library holding libfathom (dladdr);
 *   3. the install libdir (FATHOM_BACKEND_LIBDIR, set by the build) and its fathom/ subdir;
 *   4. the bare file name, through the dynamic linker's own search (LD_LIBRARY_PATH, cache).
 * The module is never unloaded: CUDA's runtime registers exit handlers. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/module.h"
#include "core/status.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const fathom_backend_module *module; /* set once, then read-only */
static char why[1024];                      /* reason the load failed, set once */

static const fathom_backend_host host = {FATHOM_BACKEND_ABI, fathom_fail, fathom_last_error};

/* Appends to why; keeps the first failures when the text grows too long. */
static void note(const char *fmt, const char *a, const char *b) {
    size_t n = strlen(why);
    if (n + 4 >= sizeof why) return;
    snprintf(why + n, sizeof why - n, fmt, a, b);
}

/* dlopen + entry + ABI check; 1 when `path` gave a usable module. */
static int try_path(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror(); /* names the path and the cause */
        note("%s%s", *why ? "; " : "", e ? e : path);
        return 0;
    }
    fathom_backend_module_entry_fn entry;
    *(void **)&entry = dlsym(h, FATHOM_BACKEND_MODULE_ENTRY);
    const fathom_backend_module *m = entry ? entry(&host) : NULL;
    if (!m || m->abi != FATHOM_BACKEND_ABI) {
        note("%s%s: not a fathom backend module of this version", *why ? "; " : "", path);
        dlclose(h);
        return 0;
    }
    module = m;
    return 1;
}

static int try_dir(const char *dir, size_t len) {
    char path[4096];
    if (len == 0 || len + sizeof FATHOM_CUDA_MODULE_FILE + 2 > sizeof path) return 0;
    if (len > 3 && !strncmp(dir + len - 3, ".so", 3)) { /* the module file itself */
        snprintf(path, sizeof path, "%.*s", (int)len, dir);
    } else {
        snprintf(path, sizeof path, "%.*s/%s", (int)len, dir, FATHOM_CUDA_MODULE_FILE);
    }
    return try_path(path);
}

static void load(void) {
    const char *env = getenv("FATHOM_BACKEND_PATH");
    for (const char *p = env; p && *p;) {
        size_t len = strcspn(p, ":");
        if (try_dir(p, len)) return;
        p += len + (p[len] == ':');
    }
    if (env && *env) return;
    Dl_info info;
    if (dladdr((void *)&fathom_cuda_module, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        if (slash && try_dir(info.dli_fname, (size_t)(slash - info.dli_fname))) return;
    }
#ifdef FATHOM_BACKEND_LIBDIR
    if (try_dir(FATHOM_BACKEND_LIBDIR, strlen(FATHOM_BACKEND_LIBDIR))) return;
    if (try_dir(FATHOM_BACKEND_LIBDIR "/fathom", strlen(FATHOM_BACKEND_LIBDIR "/fathom"))) return;
#endif
    try_path(FATHOM_CUDA_MODULE_FILE);
}

const fathom_backend_module *fathom_cuda_module(void) {
    pthread_once(&once, load);
    if (!module) {
#ifdef FATHOM_HAVE_CUDA
        fathom_fail(FATHOM_ERR_UNSUPPORTED,
                    "the CUDA backend module %s could not be loaded (set FATHOM_BACKEND_PATH "
                    "to its directory): %s",
                    FATHOM_CUDA_MODULE_FILE, why);
#else
        fathom_fail(FATHOM_ERR_UNSUPPORTED,
                    "fathom was built without CUDA and no CUDA backend module %s was found (%s)",
                    FATHOM_CUDA_MODULE_FILE, why);
#endif
    }
    return module;
}

int fathom_cuda_device_count(void) {
    const fathom_backend_module *m = fathom_cuda_module();
    return m ? m->device_count() : 0;
}

fathom_status fathom_backend_cuda_create(int device, fathom_precision precision,
                                         size_t mem_limit, fathom_backend **out) {
    if (out) *out = NULL;
    const fathom_backend_module *m = fathom_cuda_module();
    if (!m) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s", fathom_last_error());
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "CUDA device %d requested, but %s", device,
                           msg);
    }
    return m->create(device, precision, mem_limit, out);
}
