/* hub.c - model names -> cached Hugging Face folders, downloaded and verified once. */
#include "net/hub.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file_hash.h"
#include "core/status.h"

#define PATH_CAP 4096

static const char *const model_names[] = {
    "small", "base", "large",
    "metric-indoor-small", "metric-indoor-base", "metric-indoor-large",
    "metric-outdoor-small", "metric-outdoor-base", "metric-outdoor-large",
    "depth-pro",
    "video-small", "video-base", "video-large",
    "video-metric-small", "video-metric-base", "video-metric-large",
    NULL,
};
static const char *const model_repos[] = {
    "depth-anything/Depth-Anything-V2-Small-hf",
    "depth-anything/Depth-Anything-V2-Base-hf",
    "depth-anything/Depth-Anything-V2-Large-hf",
    "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf",
    "depth-anything/Depth-Anything-V2-Metric-Indoor-Base-hf",
    "depth-anything/Depth-Anything-V2-Metric-Indoor-Large-hf",
    "depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf",
    "depth-anything/Depth-Anything-V2-Metric-Outdoor-Base-hf",
    "depth-anything/Depth-Anything-V2-Metric-Outdoor-Large-hf",
    "apple/DepthPro-hf", /* Depth Pro (src/model/depthpro*): same two files */
    /* Video Depth Anything (src/model/vda*): one official .pth each, the model is that file */
    "depth-anything/Video-Depth-Anything-Small",
    "depth-anything/Video-Depth-Anything-Base",
    "depth-anything/Video-Depth-Anything-Large",
    "depth-anything/Metric-Video-Depth-Anything-Small",
    "depth-anything/Metric-Video-Depth-Anything-Base",
    "depth-anything/Metric-Video-Depth-Anything-Large",
};
static const char *const model_pth[] = { /* by index; NULL: config.json + model.safetensors */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    "video_depth_anything_vits.pth", "video_depth_anything_vitb.pth",
    "video_depth_anything_vitl.pth", "metric_video_depth_anything_vits.pth",
    "metric_video_depth_anything_vitb.pth", "metric_video_depth_anything_vitl.pth",
};

/* The files of a cached model, in download order (small config first: fails fast offline). */
typedef struct hub_files {
    const char *f[2];
    int n;
    int single; /* the model is the one file, not the folder */
} hub_files;

static hub_files files_of(const char *repo) {
    for (int i = 0; model_names[i]; i++)
        if (model_repos[i] == repo && model_pth[i]) return (hub_files){{model_pth[i], NULL}, 1, 1};
    return (hub_files){{"config.json", "model.safetensors"}, 2, 0};
}

const char *const *fathom_model_names(void) { return model_names; }

/* The names of the official checkpoints' backbones, as the official scripts call them. */
static const struct { const char *alias, *name; } model_aliases[] = {
    {"vits", "small"}, {"vitb", "base"}, {"vitl", "large"},
    {"metric-indoor-vits", "metric-indoor-small"}, {"metric-indoor-vitb", "metric-indoor-base"},
    {"metric-indoor-vitl", "metric-indoor-large"}, {"metric-outdoor-vits", "metric-outdoor-small"},
    {"metric-outdoor-vitb", "metric-outdoor-base"}, {"metric-outdoor-vitl", "metric-outdoor-large"},
};

const char *fathom_model_repo(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof model_aliases / sizeof model_aliases[0]; i++)
        if (strcasecmp(name, model_aliases[i].alias) == 0) name = model_aliases[i].name;
    for (int i = 0; model_names[i]; i++) {
        const char *repo = model_repos[i];
        /* a name, the repo id, or the repo's name without its organisation */
        if (strcasecmp(name, model_names[i]) == 0 || strcasecmp(name, repo) == 0 ||
            strcasecmp(name, strchr(repo, '/') + 1) == 0)
            return repo;
    }
    return NULL;
}

/* Truthy environment value as huggingface_hub reads it: 1, on, yes, true. */
static int env_true(const char *var) {
    const char *v = getenv(var);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "true"));
}

/* The Hugging Face hub cache: $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
 * ~/.cache/huggingface/hub (huggingface_hub's own order). 0 when no home is known. */
static int hf_cache_root(char *out, size_t cap) {
    const char *v;
    int n;
    if ((v = getenv("HF_HUB_CACHE")) && v[0]) n = snprintf(out, cap, "%s", v);
    else if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && v[0]) n = snprintf(out, cap, "%s", v);
    else if ((v = getenv("HF_HOME")) && v[0]) n = snprintf(out, cap, "%s/hub", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && v[0] == '/')
        n = snprintf(out, cap, "%s/huggingface/hub", v);
    else if ((v = getenv("HOME")) && v[0]) n = snprintf(out, cap, "%s/.cache/huggingface/hub", v);
    else return 0;
    return n > 0 && (size_t)n < cap;
}

static int all_present(const char *folder, const hub_files *hf);

/* A snapshot of `repo` in the Hugging Face cache with its files (models--ORG--NAME/
 * snapshots/REV/, REV = refs/main when it has them, else any complete snapshot) into out. */
static int hf_cache_find(const char *repo, char *out, size_t cap) {
    const hub_files files = files_of(repo);
    char root[PATH_CAP], dir[PATH_CAP + 64], ref[128] = "";
    if (!hf_cache_root(root, sizeof root)) return 0;
    const char *slash = strchr(repo, '/');
    int n = snprintf(dir, sizeof dir, "%s/models--%.*s--%s", root, (int)(slash - repo), repo,
                     slash + 1);
    if (n < 0 || (size_t)n >= sizeof dir - 64) return 0;
    char refpath[PATH_CAP + 96];
    snprintf(refpath, sizeof refpath, "%s/refs/main", dir);
    FILE *f = fopen(refpath, "r");
    if (f) {
        if (!fgets(ref, sizeof ref, f)) ref[0] = '\0';
        fclose(f);
        ref[strcspn(ref, "\r\n")] = '\0';
        if (ref[0] && !strchr(ref, '/') && strcmp(ref, "..") &&
            (size_t)snprintf(out, cap, "%s/snapshots/%s", dir, ref) < cap &&
            all_present(out, &files))
            return 1;
    }
    char snaps[PATH_CAP + 96];
    snprintf(snaps, sizeof snaps, "%s/snapshots", dir);
    DIR *d = opendir(snaps);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        found = (size_t)snprintf(out, cap, "%s/%s", snaps, e->d_name) < cap &&
                all_present(out, &files);
    }
    closedir(d);
    return found;
}

fathom_status fathom_model_cache_dir(const fathom_resolve_opts *opts, char *out, size_t cap) {
    int n;
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (opts && opts->cache_dir && opts->cache_dir[0]) {
        n = snprintf(out, cap, "%s", opts->cache_dir);
    } else if (xdg && xdg[0] == '/') { /* the XDG spec ignores relative values */
        n = snprintf(out, cap, "%s/fathom", xdg);
    } else {
        const char *home = getenv("HOME");
        if (!home || !home[0]) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home || !home[0])
            return fathom_fail(FATHOM_ERR_NOT_FOUND,
                               "no cache folder: neither XDG_CACHE_HOME nor HOME is set");
        n = snprintf(out, cap, "%s/.cache/fathom", home);
    }
    if (n < 0 || (size_t)n >= cap)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "cache folder path longer than %zu bytes", cap);
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    return FATHOM_OK;
}

static int regular_nonempty(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

static int all_present(const char *folder, const hub_files *hf) {
    char p[PATH_CAP + 64];
    for (int i = 0; i < hf->n; i++) {
        snprintf(p, sizeof p, "%s/%s", folder, hf->f[i]);
        if (!regular_nonempty(p)) return 0;
    }
    return 1;
}

/* mkdir -p */
static fathom_status make_dirs(const char *dir) {
    char p[PATH_CAP];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            return fathom_fail(fathom_status_from_errno(e), "%s: cannot create folder: %s", p,
                               strerror(e));
        }
        *s = c;
        if (!c) break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fathom_fail(FATHOM_ERR_IO, "%s: not a folder", dir);
    return FATHOM_OK;
}

static int is_sha256_hex(const char *s) {
    if (strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

typedef struct progress_ctx {
    const fathom_resolve_opts *opts; /* borrowed */
    const char *file;                /* borrowed */
} progress_ctx;

static void on_progress(void *user, int64_t done, int64_t total) {
    progress_ctx *p = user;
    p->opts->progress(p->opts->progress_user, p->file, done, total);
}

/* Exclusive lock on <folder>/.lock so two processes never write the same .incomplete file.
 * Polls so the cancel flag is honoured while another process downloads. */
static fathom_status lock_folder(const char *folder, const atomic_int *cancel, int *fd_out) {
    char p[PATH_CAP];
    snprintf(p, sizeof p, "%s/.lock", folder);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: cannot open: %s", p, strerror(e));
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return fathom_fail(fathom_status_from_errno(e), "%s: cannot lock: %s", p, strerror(e));
        }
        if (cancel && atomic_load(cancel)) {
            close(fd);
            return fathom_fail(FATHOM_ERR_INTERRUPTED, "%s: cancelled while waiting for another "
                               "download of this model", folder);
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    *fd_out = fd;
    return FATHOM_OK;
}

/* Download one file into place: <final>.incomplete (resumed), verify, rename. */
static fathom_status download_one(fathom_fetcher *f, const fathom_resolve_opts *opts,
                                  const char *url, const char *file, const char *final) {
    char tmp[PATH_CAP + 96];
    snprintf(tmp, sizeof tmp, "%s.incomplete", final);
    progress_ctx pc = {opts, file};
    fathom_fetch_meta meta;
    fathom_status st = fathom_fetch_to_file(f, url, tmp, 1, opts && opts->progress ? on_progress : NULL,
                                            &pc, &meta);
    if (st == FATHOM_ERR_TOO_LARGE) { /* resuming it would never succeed */
        unlink(tmp);
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: the download from %s is longer than the %lld "
                           "bytes the hub announced; deleted it, run again to retry",
                           file, url, (long long)meta.linked_size);
    }
    struct stat sb;
    if (st != FATHOM_OK) {
        if (stat(tmp, &sb) == 0 && sb.st_size == 0) unlink(tmp); /* nothing worth resuming */
        return st;
    }
    if (stat(tmp, &sb) != 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: %s", tmp, strerror(e));
    }
    if (meta.linked_size >= 0 && (int64_t)sb.st_size != meta.linked_size) {
        unlink(tmp);
        return fathom_fail(FATHOM_ERR_FORMAT,
                           "%s: downloaded %lld bytes from %s but the hub announced %lld; "
                           "deleted it, run again to retry",
                           file, (long long)sb.st_size, url, (long long)meta.linked_size);
    }
    if (is_sha256_hex(meta.linked_etag)) {
        char got[65];
        FATHOM_TRY(fathom_sha256_file(tmp, got));
        if (strcasecmp(got, meta.linked_etag) != 0) {
            unlink(tmp);
            return fathom_fail(FATHOM_ERR_FORMAT,
                               "%s: SHA-256 of the download from %s is %s, the hub announced %s; "
                               "deleted it, run again to retry",
                               file, url, got, meta.linked_etag);
        }
    }
    if (rename(tmp, final) != 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "cannot rename %s to %s: %s", tmp, final,
                           strerror(e));
    }
    return FATHOM_OK;
}

static fathom_status copy_out(const char *s, char *out, size_t cap) {
    size_t n = strlen(s);
    if (n >= cap)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: path longer than %zu bytes", s, cap - 1);
    memcpy(out, s, n + 1);
    return FATHOM_OK;
}

/* The model in a complete folder: the folder, or its one file (Video Depth Anything). */
static fathom_status model_out(const char *folder, const hub_files *hf, char *out, size_t cap) {
    if (!hf->single) return copy_out(folder, out, cap);
    if ((size_t)snprintf(out, cap, "%s/%s", folder, hf->f[0]) >= cap)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: path longer than %zu bytes", folder, cap - 1);
    return FATHOM_OK;
}

fathom_status fathom_model_resolve(const char *name_or_path, const fathom_resolve_opts *opts,
                                   char *out, size_t cap) {
    if (!out || cap == 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_model_resolve: no output buffer");
    out[0] = '\0';
    const char *name = name_or_path ? name_or_path : "small";
    struct stat sb;
    if (stat(name, &sb) == 0) return copy_out(name, out, cap);

    const char *repo = fathom_model_repo(name);
    if (!repo) {
        char list[512] = "";
        for (int i = 0; model_names[i]; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, model_names[i], sizeof list - strlen(list) - 1);
        }
        return fathom_fail(FATHOM_ERR_NOT_FOUND,
                           "'%s' is neither an existing file or folder nor a model name (%s; "
                           "aliases vits, vitb, vitl; or their Hugging Face repo ids such as "
                           "depth-anything/Depth-Anything-V2-Small-hf)",
                           name, list);
    }

    fathom_status st = FATHOM_OK;
    fathom_fetcher *own = NULL; /* owned: made when the caller lends none */
    fathom_fetcher *f = NULL;   /* borrowed from opts, or own */
    int lock_fd = -1;
    char cache[PATH_CAP], folder[PATH_CAP], final[PATH_CAP + 64], url[PATH_CAP];
    const hub_files files = files_of(repo);
    char what[160]; /* "config.json and model.safetensors" */
    snprintf(what, sizeof what, "%s%s%s", files.f[0], files.n > 1 ? " and " : "",
             files.n > 1 ? files.f[1] : "");
    FATHOM_TRY(fathom_model_cache_dir(opts, cache, sizeof cache));
    const char *repo_name = strrchr(repo, '/') + 1;
    if ((size_t)snprintf(folder, sizeof folder, "%s/%s", cache, repo_name) >= sizeof folder - 32)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: cache path too long", cache);
    if (all_present(folder, &files)) return model_out(folder, &files, out, cap);
    char hf[PATH_CAP];
    if (hf_cache_find(repo, hf, sizeof hf)) return model_out(hf, &files, out, cap); /* in place */

    const char *endpoint = opts && opts->endpoint ? opts->endpoint : getenv("FATHOM_HF_ENDPOINT");
    if (!endpoint || !endpoint[0]) endpoint = getenv("HF_ENDPOINT");
    if (!endpoint || !endpoint[0]) endpoint = "https://huggingface.co";
    size_t elen = strlen(endpoint);
    while (elen > 0 && endpoint[elen - 1] == '/') elen--;

    const char *first_missing = NULL;
    for (int i = 0; i < files.n && !first_missing; i++) {
        snprintf(final, sizeof final, "%s/%s", folder, files.f[i]);
        if (!regular_nonempty(final)) first_missing = files.f[i];
    }
    const char *env_off = getenv("FATHOM_OFFLINE");
    int offline = (opts && opts->offline) || (env_off && env_off[0] && strcmp(env_off, "0") != 0) ||
                  env_true("HF_HUB_OFFLINE");
    if (offline)
        return fathom_fail(FATHOM_ERR_NOT_FOUND,
                           "model '%s' is not cached (%s missing) and downloads are off: place "
                           "%s from %s (%.*s/%s) in %s/ (or in the Hugging Face cache), or give "
                           "the model as a local path",
                           name, first_missing, what, repo, (int)elen, endpoint, repo, folder);


    st = make_dirs(folder);
    if (st != FATHOM_OK) goto done;
    st = lock_folder(folder, opts ? opts->cancel : NULL, &lock_fd);
    if (st != FATHOM_OK) goto done;
    f = opts ? opts->fetcher : NULL;
    if (!f) {
        fathom_fetch_opts fo = fathom_fetch_default_opts();
        fo.cancel = opts ? opts->cancel : NULL;
        st = fathom_fetcher_create(&fo, &own);
        if (st != FATHOM_OK) goto done;
        f = own;
    }
    for (int i = 0; i < files.n; i++) {
        snprintf(final, sizeof final, "%s/%s", folder, files.f[i]);
        if (regular_nonempty(final)) continue; /* present, or another process just made it */
        if ((size_t)snprintf(url, sizeof url, "%.*s/%s/resolve/main/%s", (int)elen, endpoint,
                             repo, files.f[i]) >= sizeof url) {
            st = fathom_fail(FATHOM_ERR_INVALID_ARG, "download endpoint too long: %.64s...",
                             endpoint);
            goto done;
        }
        st = download_one(f, opts, url, files.f[i], final);
        if (st == FATHOM_OK) continue;
        if (st == FATHOM_ERR_INTERRUPTED || st == FATHOM_ERR_FORMAT || st == FATHOM_ERR_NOMEM)
            goto done;
        /* the cause without a repeated "URL: " prefix */
        char cause[768];
        const char *msg = fathom_last_error();
        size_t ul = strlen(url);
        if (strncmp(msg, url, ul) == 0 && msg[ul] == ':' && msg[ul + 1] == ' ') msg += ul + 2;
        snprintf(cause, sizeof cause, "%s", msg);
        st = fathom_fail(st == FATHOM_ERR_IO || st == FATHOM_ERR_DISK_FULL ? st : FATHOM_ERR_NETWORK,
                         "download %s failed: %s; place %s from %s in %s/, or give the model "
                         "as a local path",
                         url, cause, what, repo, folder);
        goto done;
    }
    st = model_out(folder, &files, out, cap);
done:
    fathom_fetcher_free(&own);
    if (lock_fd >= 0) close(lock_fd); /* releases the flock */
    return st;
}
