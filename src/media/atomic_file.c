/* atomic_file.c - temp file + fsync + rename, and mkdir -p. */
#include "media/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

static atomic_uint tmp_counter;

/* DISK_FULL for ENOSPC/EDQUOT, NOT_FOUND for a missing directory, IO otherwise. */
static fathom_status write_error(int err) {
    if (err == ENOSPC || err == EDQUOT) return FATHOM_ERR_DISK_FULL;
    if (err == ENOENT || err == ENOTDIR) return FATHOM_ERR_NOT_FOUND;
    if (err == EFBIG) return FATHOM_ERR_TOO_LARGE;
    return FATHOM_ERR_IO;
}

static void release(fathom_atomic_file *f) {
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fd = -1;
}

fathom_status fathom_atomic_open(fathom_atomic_file *f, const char *path) {
    f->fd = -1;
    f->path = f->tmp_path = NULL;
    if (!path || !*path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "output path is empty");
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: output path names a directory", path);
    size_t dir_len = (size_t)(base - path);
    size_t cap = strlen(path) + 64;
    f->path = strdup(path);
    f->tmp_path = malloc(cap);
    if (!f->path || !f->tmp_path) {
        release(f);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    }
    /* the base name is shortened so the temp name stays under NAME_MAX (255) */
    snprintf(f->tmp_path, cap, "%.*s.%.200s.fathom-tmp-%ld-%u", (int)dir_len, path, base,
             (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
    f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        int e = errno;
        fathom_status s = fathom_fail(write_error(e), "%s: cannot create (temporary %s): %s", path,
                                      f->tmp_path, strerror(e));
        release(f);
        return s;
    }
    return FATHOM_OK;
}

static fathom_status fail_write(fathom_atomic_file *f, int e) {
    return fathom_fail(write_error(e), "%s: write failed: %s", f->path, strerror(e));
}

fathom_status fathom_atomic_write(fathom_atomic_file *f, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return fail_write(f, errno);
        if (w == 0) return fail_write(f, ENOSPC);
        p += w;
        n -= (size_t)w;
    }
    return FATHOM_OK;
}

fathom_status fathom_atomic_pwrite(fathom_atomic_file *f, const void *data, size_t n, uint64_t off) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = pwrite(f->fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return fail_write(f, errno);
        if (w == 0) return fail_write(f, ENOSPC);
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return FATHOM_OK;
}

void fathom_atomic_abort(fathom_atomic_file *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    if (f->tmp_path) unlink(f->tmp_path);
    release(f);
}

fathom_status fathom_atomic_commit(fathom_atomic_file *f) {
    fathom_status s = FATHOM_OK;
    /* fsync and close report delayed write errors (NFS, quota) that write() did not */
    if (fsync(f->fd) != 0 && errno != EINVAL && errno != EROFS) {
        s = fail_write(f, errno);
        goto done;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0 && errno != EINTR) {
        s = fail_write(f, errno);
        goto done;
    }
    if (rename(f->tmp_path, f->path) != 0) {
        int e = errno;
        s = fathom_fail(write_error(e), "%s: cannot rename %s into place: %s", f->path, f->tmp_path,
                        strerror(e));
        goto done;
    }
    release(f);
    return FATHOM_OK;
done:
    fathom_atomic_abort(f);
    return s;
}

fathom_status fathom_atomic_write_file(const char *path, const void *data, size_t n) {
    fathom_atomic_file f;
    FATHOM_TRY(fathom_atomic_open(&f, path));
    fathom_status s = fathom_atomic_write(&f, data, n);
    if (s != FATHOM_OK) {
        fathom_atomic_abort(&f);
        return s;
    }
    return fathom_atomic_commit(&f);
}

fathom_status fathom_mkdir_p(const char *dir) {
    if (!dir || !*dir) return FATHOM_OK;
    char *buf = strdup(dir); /* owned: edited in place, one component at a time */
    if (!buf) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", dir);
    fathom_status s = FATHOM_OK;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0) {
            int e = errno;
            struct stat st;
            if (e == EEXIST && stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) {
                /* already there */
            } else if (e == EEXIST) {
                s = fathom_fail(FATHOM_ERR_IO, "%s: cannot create directory: %s exists and is not a directory",
                                dir, buf);
                goto done;
            } else {
                s = fathom_fail(write_error(e), "%s: cannot create directory %s: %s", dir, buf,
                                strerror(e));
                goto done;
            }
        }
        *p = c;
        if (c == '\0') break;
    }
done:
    free(buf);
    return s;
}

fathom_status fathom_mkdir_parents(const char *file_path) {
    if (!file_path) return FATHOM_OK;
    const char *slash = strrchr(file_path, '/');
    if (!slash || slash == file_path) return FATHOM_OK;
    char *dir = strndup(file_path, (size_t)(slash - file_path)); /* owned */
    if (!dir) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", file_path);
    fathom_status s = fathom_mkdir_p(dir);
    free(dir);
    return s;
}

/* ".<name>.fathom-tmp-<pid>-<tag>" whose process is gone (kill(pid, 0) says ESRCH). */
static int is_stale_tmp(const char *name) {
    if (name[0] != '.') return 0;
    const char *m = strstr(name, ".fathom-tmp-");
    if (!m) return 0;
    char *end;
    errno = 0;
    long pid = strtol(m + 12, &end, 10);
    if (errno || end == m + 12 || *end != '-' || pid <= 0 || pid == (long)getpid()) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void clean_dir(const char *dir, int depth, size_t *removed) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        int len = snprintf(path, sizeof path, "%s/%s", dir, n);
        if (len < 0 || (size_t)len >= sizeof path) continue;
        struct stat st;
        if (lstat(path, &st) != 0) continue; /* symlinks are never followed */
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0) clean_dir(path, depth - 1, removed);
        } else if (S_ISREG(st.st_mode) && is_stale_tmp(n) && unlink(path) == 0) {
            (*removed)++;
        }
    }
    closedir(d);
}

size_t fathom_atomic_clean_stale(const char *dir, int depth) {
    size_t removed = 0;
    if (dir && *dir) clean_dir(dir, depth, &removed);
    return removed;
}
