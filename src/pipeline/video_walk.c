/* video_walk.c - the videos inside a folder named on the command line (video_walk.h).
 *
 * The same rules as the image walk (src/pipeline/source.c): names in byte order, hidden files
 * and folders skipped, sub-folders only with --recursive and never through a symlink, the
 * output folder never entered. Videos are found by extension (fathom_video_is_input). */
#include "pipeline/video_walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "pipeline/video_job.h"

#define MAX_DEPTH 64

static fathom_status add(fathom_video_list *l, const char *path, const char *rel_dir) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fathom_video_entry *e = realloc(l->items, cap * sizeof *e);
        if (!e) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
        l->items = e;
        l->cap = cap;
    }
    fathom_video_entry *e = &l->items[l->n];
    e->path = strdup(path);
    e->rel_dir = strdup(rel_dir);
    if (!e->path || !e->rel_dir) {
        free(e->path);
        free(e->rel_dir);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    }
    l->n++;
    return FATHOM_OK;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct walk {
    fathom_video_list *out;
    int recursive;
    int has_skip;
    struct stat skip; /* the output folder */
} walk;

static fathom_status walk_dir(walk *w, const char *path, const char *rel, int depth) {
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: cannot open folder: %s", path,
                           strerror(e));
    }
    char **names = NULL; /* owned, with each name */
    size_t n = 0, cap = 0;
    fathom_status st = FATHOM_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* hidden, "." and ".." */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory listing the folder", path);
                break;
            }
            names = p;
        }
        if (!(names[n] = strdup(de->d_name))) {
            st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory listing the folder", path);
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_names);
    char child[4096], crel[4096];
    for (size_t i = 0; i < n && st == FATHOM_OK; i++) {
        int cl = snprintf(child, sizeof child, "%s/%s", path, names[i]);
        if (cl < 0 || (size_t)cl >= sizeof child) continue; /* the image walk reports it */
        struct stat lst, sb;
        if (lstat(child, &lst) != 0 || stat(child, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            if (!w->recursive || S_ISLNK(lst.st_mode) || depth + 1 >= MAX_DEPTH) continue;
            if (w->has_skip && sb.st_dev == w->skip.st_dev && sb.st_ino == w->skip.st_ino)
                continue; /* earlier outputs are never inputs */
            snprintf(crel, sizeof crel, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
            st = walk_dir(w, child, crel, depth + 1);
        } else if (S_ISREG(sb.st_mode) && fathom_video_is_input(names[i])) {
            st = add(w->out, child, rel);
        }
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

fathom_status fathom_video_walk(const char *dir, int recursive, const char *outdir,
                                fathom_video_list *out) {
    walk w = {out, recursive, 0, {0}};
    if (outdir && stat(outdir, &w.skip) == 0) {
        w.has_skip = 1;
        struct stat sd;
        /* the folder is the output folder itself: its files would be earlier outputs */
        if (stat(dir, &sd) == 0 && sd.st_dev == w.skip.st_dev && sd.st_ino == w.skip.st_ino)
            return fathom_fail(FATHOM_ERR_INVALID_ARG, "output folder %s is the input folder %s: "
                               "outputs would land next to the inputs and be taken as inputs by "
                               "the next run; choose another output folder", outdir, dir);
    }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--; /* "dir/" and "dir" name files alike */
    char path[4096];
    if (len >= sizeof path)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%.64s...: path too long", dir);
    memcpy(path, dir, len);
    path[len] = '\0';
    return walk_dir(&w, path, "", 0);
}

void fathom_video_list_free(fathom_video_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].path);
        free(l->items[i].rel_dir);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}
