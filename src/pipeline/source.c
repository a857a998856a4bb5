/* source.c - the built-in input source: files, folders (lazy walk), lists, stdin, URLs.
 *
 * DESIGN
 *   One call of next() produces one item. Folder arguments are walked depth first with an
 *   explicit stack of frames; a frame holds the sorted entry names of ONE folder (read when the
 *   folder is entered), so memory is bounded by the largest folder and the depth, not by the
 *   tree. Lists are read one line per item with getline(). Symlinks to files are followed;
 *   symlinks to folders are not (no loops). Driven by the pipeline's source thread only.
 *   Progress: when folders or lists are given, a counting thread walks the same inputs with
 *   the same rules (without sorting or naming) and publishes the total; it stops early when
 *   the source is freed. The exact count replaces it when the input ends. */
#include "pipeline/source.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "pipeline/naming.h"

#define MAX_DEPTH 256 /* folder nesting followed by -r */

typedef enum { ARG_FILE, ARG_URL, ARG_DIR, ARG_LIST, ARG_STDIN } arg_kind;

typedef struct dir_frame {
    char *path;     /* owned: folder path */
    char *rel;      /* owned: folder path relative to the argument root ("" or "a/b/") */
    char **names;   /* owned: sorted entry names (each owned) */
    size_t n, pos;
} dir_frame;

typedef struct inputs_source {
    char **args;        /* owned: copies of the inputs */
    arg_kind *kinds;    /* owned */
    int n, cur;         /* current argument; cur == n: done */
    int started;        /* the current argument has been opened */
    int recursive;
    struct stat skip_st; /* the output dir (never walked) when has_skip */
    int has_skip;
    FILE *stdin_list;    /* borrowed */
    dir_frame stack[MAX_DEPTH];
    int depth;
    FILE *list;          /* owned unless == stdin_list */
    char *list_dir;      /* owned: folder of the current list ("" for stdin) */
    char *line;          /* owned: getline buffer */
    size_t line_cap;
    long line_no;
    atomic_llong total;  /* -1 unknown */
    atomic_llong ignored[FATHOM_IGNORED_KINDS]; /* folder entries not taken, by reason */
    int64_t produced;    /* items returned so far (the exact total once the input ends) */
    /* background count of folder and list inputs, for progress (total/ETA) */
    pthread_t counter;
    int counter_started;
    atomic_int counter_stop;
} inputs_source;

/* every still-image format the decoders take (jpeg.c, png_read.c, webp.c, ffimage.c) */
static const char *const k_image_exts[] = {"jpg", "jpeg", "jpe", "jfif", "png", "webp", "bmp",
                                           "dib", "tif", "tiff", "ppm", "pgm", "pbm", "pnm",
                                           "pam", "tga", "gif", "avif", "pcx", "sgi", "rgb",
                                           "qoi", "dpx", "sun", "ras", NULL};

static int is_image_name(const char *name) {
    const char *ext = fathom_naming_ext(name);
    for (int i = 0; k_image_exts[i]; i++)
        if (!strcasecmp(ext, k_image_exts[i])) return 1;
    return 0;
}

static int is_list_name(const char *name) { return !strcasecmp(fathom_naming_ext(name), "txt"); }

static int is_url(const char *s) {
    return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

static void frame_free(dir_frame *f) {
    for (size_t i = 0; i < f->n; i++) free(f->names[i]);
    free(f->names);
    free(f->path);
    free(f->rel);
    memset(f, 0, sizeof *f);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read and sort the names of folder `path` into a new frame. */
static fathom_status frame_open(dir_frame *f, const char *path, const char *rel) {
    memset(f, 0, sizeof *f);
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: cannot open folder: %s", path,
                           strerror(e));
    }
    f->path = strdup(path);
    f->rel = strdup(rel);
    size_t cap = 0;
    int ok = f->path && f->rel;
    for (struct dirent *de; ok && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue; /* hidden, "." and ".." */
        if (f->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(f->names, cap * sizeof *p);
            if (!(ok = p != NULL)) break;
            f->names = p;
        }
        if (!(ok = (f->names[f->n] = strdup(de->d_name)) != NULL)) break;
        f->n++;
    }
    closedir(d);
    if (!ok) {
        frame_free(f);
        return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory listing the folder", path);
    }
    if (f->n > 1) qsort(f->names, f->n, sizeof *f->names, cmp_names);
    return FATHOM_OK;
}

static void close_list(inputs_source *s) {
    if (s->list && s->list != s->stdin_list) fclose(s->list);
    s->list = NULL;
    free(s->list_dir);
    s->list_dir = NULL;
}

static void set_stem_name(fathom_item *it, const char *dir_rel, const char *path,
                          fathom_status *st) {
    char buf[4096], stem[1024];
    buf[0] = '\0';
    if (dir_rel) snprintf(buf, sizeof buf, "%s", dir_rel);
    fathom_naming_stem(path, stem, sizeof stem);
    if (!stem[0]) snprintf(stem, sizeof stem, "item%llu", (unsigned long long)it->index);
    size_t len = strlen(buf);
    snprintf(buf + len, sizeof buf - len, "%s", stem);
    if (*st == FATHOM_OK) *st = fathom_str_set(&it->rel_out, buf);
}

/* URL -> stem of the last path component, without query. */
static fathom_status fill_url(fathom_item *it, const char *url) {
    FATHOM_TRY(fathom_str_set(&it->source, url));
    it->kind = FATHOM_ITEM_URL;
    char path[2048];
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p = strchr(p, '/');
    snprintf(path, sizeof path, "%s", p ? p : "");
    path[strcspn(path, "?#")] = '\0';
    size_t n = strlen(path);
    while (n && path[n - 1] == '/') path[--n] = '\0';
    fathom_status st = FATHOM_OK;
    if (!n) {
        char buf[64];
        snprintf(buf, sizeof buf, "url%llu", (unsigned long long)it->index);
        return fathom_str_set(&it->rel_out, buf);
    }
    set_stem_name(it, NULL, path, &st);
    return st;
}

static fathom_status fill_file(fathom_item *it, const char *path, const char *dir_rel) {
    FATHOM_TRY(fathom_str_set(&it->source, path));
    it->kind = FATHOM_ITEM_FILE;
    fathom_status st = FATHOM_OK;
    set_stem_name(it, dir_rel, path, &st);
    return st;
}

/* Next entry of the folder walk. *got = 0 when the walk of this argument is over. */
static fathom_status next_in_dir(inputs_source *s, fathom_item *it, int *got) {
    *got = 0;
    while (s->depth > 0) {
        dir_frame *f = &s->stack[s->depth - 1];
        if (f->pos == f->n) {
            frame_free(f);
            s->depth--;
            continue;
        }
        const char *name = f->names[f->pos++];
        char path[4096];
        int pl = snprintf(path, sizeof path, "%s/%s", f->path, name);
        if (pl < 0 || (size_t)pl >= sizeof path) {
            FATHOM_TRY(fathom_str_set(&it->source, f->path));
            fathom_item_fail(it, FATHOM_ERR_TOO_LARGE, "%s/%s: path too long", f->path, name);
            *got = 1;
            return fathom_str_set(&it->rel_out, "");
        }
        struct stat lst, st;
        if (lstat(path, &lst) != 0 || stat(path, &st) != 0) {
            int e = errno;
            FATHOM_TRY(fill_file(it, path, f->rel));
            fathom_item_fail(it, fathom_status_from_errno(e), "%s: %s", path, strerror(e));
            *got = 1;
            return FATHOM_OK;
        }
        if (S_ISDIR(st.st_mode)) {
            if (s->has_skip && st.st_dev == s->skip_st.st_dev && st.st_ino == s->skip_st.st_ino)
                continue; /* the output dir inside an input folder */
            if (!s->recursive || S_ISLNK(lst.st_mode)) {
                atomic_fetch_add(&s->ignored[FATHOM_IGNORED_FOLDER], 1);
                continue;
            }
            char rel[4096];
            snprintf(rel, sizeof rel, "%s%s/", f->rel, name);
            if (s->depth == MAX_DEPTH) {
                FATHOM_TRY(fill_file(it, path, f->rel));
                fathom_item_fail(it, FATHOM_ERR_TOO_LARGE, "%s: folders nested deeper than %d",
                                 path, MAX_DEPTH);
                *got = 1;
                return FATHOM_OK;
            }
            fathom_status ds = frame_open(&s->stack[s->depth], path, rel);
            if (ds != FATHOM_OK) { /* an unreadable sub-folder is an item error */
                FATHOM_TRY(fill_file(it, path, f->rel));
                fathom_item_fail_last(it, ds);
                *got = 1;
                return FATHOM_OK;
            }
            s->depth++;
            continue;
        }
        if (!S_ISREG(st.st_mode)) { /* FIFO, socket, device: never opened */
            atomic_fetch_add(&s->ignored[FATHOM_IGNORED_SPECIAL], 1);
            continue;
        }
        if (!is_image_name(name)) {
            atomic_fetch_add(&s->ignored[FATHOM_IGNORED_NOT_IMAGE], 1);
            continue;
        }
        FATHOM_TRY(fill_file(it, path, f->rel));
        *got = 1;
        return FATHOM_OK;
    }
    return FATHOM_OK;
}

/* Next line of the current list. *got = 0 at its end. */
static fathom_status next_in_list(inputs_source *s, fathom_item *it, int *got) {
    *got = 0;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&s->line, &s->line_cap, s->list);
        if (n < 0) {
            if (ferror(s->list)) {
                int e = errno;
                return fathom_fail(FATHOM_ERR_IO, "%s: read error: %s", s->args[s->cur],
                                   strerror(e ? e : EIO));
            }
            return FATHOM_OK;
        }
        s->line_no++;
        char *l = s->line;
        while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
            l[--n] = '\0';
        while (*l == ' ' || *l == '\t') l++;
        if (!*l || *l == '#') continue;
        *got = 1;
        if (is_url(l)) return fill_url(it, l);
        if (strstr(l, "://")) { /* ftp://, file://, ...: say so, not "No such file" */
            FATHOM_TRY(fathom_str_set(&it->source, l));
            FATHOM_TRY(fathom_str_set(&it->rel_out, ""));
            fathom_item_fail(it, FATHOM_ERR_UNSUPPORTED,
                             "%s (%s line %ld): unsupported URL scheme '%.*s://' (http:// and "
                             "https:// are supported)",
                             l, s->args[s->cur], s->line_no, (int)(strstr(l, "://") - l), l);
            return FATHOM_OK;
        }
        if (l[0] == '/') return fill_file(it, l, NULL);
        char path[4096], rel[4096];
        int pl = snprintf(path, sizeof path, "%s%s", s->list_dir, l);
        if (pl < 0 || (size_t)pl >= sizeof path) {
            FATHOM_TRY(fathom_str_set(&it->source, l));
            FATHOM_TRY(fathom_str_set(&it->rel_out, ""));
            fathom_item_fail(it, FATHOM_ERR_TOO_LARGE, "%s line %ld: path too long",
                             s->args[s->cur], s->line_no);
            return FATHOM_OK;
        }
        rel[0] = '\0';
        fathom_naming_clean_dir(l, rel, sizeof rel);
        return fill_file(it, path, rel);
    }
}

/* Open the current argument (folder frame or list). */
static fathom_status start_arg(inputs_source *s) {
    const char *a = s->args[s->cur];
    s->line_no = 0;
    if (s->kinds[s->cur] == ARG_DIR) {
        FATHOM_TRY(frame_open(&s->stack[0], a, ""));
        s->depth = 1;
    } else if (s->kinds[s->cur] == ARG_LIST || s->kinds[s->cur] == ARG_STDIN) {
        if (s->kinds[s->cur] == ARG_STDIN) {
            s->list = s->stdin_list;
            s->list_dir = strdup("");
        } else {
            s->list = fopen(a, "r");
            if (!s->list) {
                int e = errno;
                return fathom_fail(fathom_status_from_errno(e), "%s: %s", a, strerror(e));
            }
            const char *slash = strrchr(a, '/');
            size_t n = slash ? (size_t)(slash - a) + 1 : 0;
            s->list_dir = strndup(a, n);
        }
        if (!s->list_dir) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", a);
    }
    return FATHOM_OK;
}

static fathom_status inputs_next(void *self, fathom_item *it, int *done) {
    inputs_source *s = self;
    *done = 0;
    while (s->cur < s->n) {
        arg_kind k = s->kinds[s->cur];
        if (!s->started) {
            FATHOM_TRY(start_arg(s));
            s->started = 1;
        }
        int got = 0;
        if (k == ARG_FILE) {
            FATHOM_TRY(fill_file(it, s->args[s->cur], NULL));
            got = 1;
        } else if (k == ARG_URL) {
            FATHOM_TRY(fill_url(it, s->args[s->cur]));
            got = 1;
        } else if (k == ARG_DIR) {
            FATHOM_TRY(next_in_dir(s, it, &got));
        } else {
            FATHOM_TRY(next_in_list(s, it, &got));
            if (!got) close_list(s);
        }
        /* one-shot arguments end after their item; walks and lists when exhausted */
        if (k == ARG_FILE || k == ARG_URL || !got) {
            s->cur++;
            s->started = 0;
        }
        if (got) {
            s->produced++;
            return FATHOM_OK;
        }
    }
    *done = 1;
    atomic_store(&s->total, s->produced);
    return FATHOM_OK;
}

/* ---- background count (same rules as the walk and the list reader) ---- */

static int64_t count_dir(inputs_source *s, const char *path, int depth) {
    DIR *d = opendir(path);
    if (!d) return 1; /* the walk reports an unreadable folder as one failed item */
    int64_t n = 0;
    struct dirent *de;
    char child[4096];
    while ((de = readdir(d)) && !atomic_load(&s->counter_stop)) {
        if (de->d_name[0] == '.') continue;
        int cl = snprintf(child, sizeof child, "%s/%s", path, de->d_name);
        if (cl < 0 || (size_t)cl >= sizeof child) {
            n++; /* too long: one failed item */
            continue;
        }
        struct stat lst, st;
        if (lstat(child, &lst) != 0 || stat(child, &st) != 0) {
            n++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (!s->recursive || S_ISLNK(lst.st_mode)) continue;
            if (s->has_skip && st.st_dev == s->skip_st.st_dev && st.st_ino == s->skip_st.st_ino)
                continue;
            n += depth + 1 >= MAX_DEPTH ? 1 : count_dir(s, child, depth + 1);
        } else if (S_ISREG(st.st_mode) && is_image_name(de->d_name)) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static int64_t count_list(inputs_source *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int64_t n = 0;
    char *line = NULL; /* owned */
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0 && !atomic_load(&s->counter_stop)) {
        char *l = line;
        while (*l == ' ' || *l == '\t') l++;
        if (*l && *l != '#' && *l != '\n' && *l != '\r') n++;
    }
    free(line);
    fclose(f);
    return n;
}

static void *count_thread(void *arg) {
    inputs_source *s = arg;
    int64_t n = 0;
    for (int i = 0; i < s->n && !atomic_load(&s->counter_stop); i++) {
        switch (s->kinds[i]) {
        case ARG_FILE:
        case ARG_URL: n++; break;
        case ARG_DIR: n += count_dir(s, s->args[i], 0); break;
        case ARG_LIST: n += count_list(s, s->args[i]); break;
        case ARG_STDIN: return NULL; /* cannot be counted ahead: the total stays unknown */
        }
    }
    if (atomic_load(&s->counter_stop)) return NULL;
    long long unknown = -1; /* publish unless the walk already set the exact count */
    atomic_compare_exchange_strong(&s->total, &unknown, (long long)n);
    return NULL;
}

static int64_t inputs_total(void *self) { return atomic_load(&((inputs_source *)self)->total); }



static void inputs_free(void *self) {
    inputs_source *s = self;
    if (!s) return;
    if (s->counter_started) {
        atomic_store(&s->counter_stop, 1);
        pthread_join(s->counter, NULL);
    }
    while (s->depth > 0) frame_free(&s->stack[--s->depth]);
    close_list(s);
    free(s->line);
    for (int i = 0; i < s->n; i++) free(s->args[i]);
    free(s->args);
    free(s->kinds);
    free(s);
}

static const fathom_source_ops k_inputs_ops = {"inputs", inputs_next, inputs_total, inputs_free};

void fathom_inputs_source_ignored(const fathom_source *src, int64_t *counts) {
    inputs_source *s = src && src->ops == &k_inputs_ops ? src->self : NULL;
    for (int i = 0; i < FATHOM_IGNORED_KINDS; i++) counts[i] = s ? atomic_load(&s->ignored[i]) : 0;
}

/* Classify and check one command-line input (setup errors name the path). */
static fathom_status classify(const char *a, const fathom_inputs_opts *o, arg_kind *k) {
    if (!strcmp(a, "-")) {
        if (!o || !o->stdin_list)
            return fathom_fail(FATHOM_ERR_INVALID_ARG, "'-': no list on standard input here");
        *k = ARG_STDIN;
        return FATHOM_OK;
    }
    if (is_url(a)) {
        *k = ARG_URL;
        return FATHOM_OK;
    }
    if (strstr(a, "://"))
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: only http:// and https:// URLs are supported", a);
    struct stat st;
    if (stat(a, &st) != 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: %s", a, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        if (access(a, R_OK | X_OK) != 0) {
            int e = errno;
            return fathom_fail(fathom_status_from_errno(e), "%s: cannot read folder: %s", a, strerror(e));
        }
        *k = ARG_DIR;
        return FATHOM_OK;
    }
    if (access(a, R_OK) != 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: %s", a, strerror(e));
    }
    *k = is_list_name(a) ? ARG_LIST : ARG_FILE;
    return FATHOM_OK;
}

fathom_status fathom_inputs_source_create(const char *const *inputs, int n,
                                          const fathom_inputs_opts *opts, fathom_source *out) {
    memset(out, 0, sizeof *out);
    if (n <= 0) return fathom_fail(FATHOM_ERR_INVALID_ARG, "no inputs given");
    fathom_status st = FATHOM_OK;
    inputs_source *s = calloc(1, sizeof *s);
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the input list");
    s->args = calloc((size_t)n, sizeof *s->args);
    s->kinds = calloc((size_t)n, sizeof *s->kinds);
    if (!s->args || !s->kinds) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the input list");
        goto done;
    }
    int stdin_uses = 0, countable = 1;
    for (int i = 0; i < n; i++) {
        if ((st = classify(inputs[i], opts, &s->kinds[i])) != FATHOM_OK) {
            /* among several inputs, a missing or unreadable path is that item's error (the
             * decode stage names it), as a missing entry of a list is; alone, it is the run's */
            int path_error = (st == FATHOM_ERR_NOT_FOUND || st == FATHOM_ERR_IO) &&
                             strcmp(inputs[i], "-") != 0 && !strstr(inputs[i], "://");
            if (n == 1 || !path_error) goto done;
            s->kinds[i] = ARG_FILE;
            st = FATHOM_OK;
        }
        if (s->kinds[i] == ARG_STDIN && ++stdin_uses > 1) {
            st = fathom_fail(FATHOM_ERR_INVALID_ARG, "'-' given more than once");
            goto done;
        }
        if (s->kinds[i] != ARG_FILE && s->kinds[i] != ARG_URL) countable = 0;
        if (!(s->args[i] = strdup(inputs[i]))) {
            st = fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the input list");
            goto done;
        }
        s->n = i + 1;
    }
    s->recursive = opts && opts->recursive;
    s->stdin_list = opts ? opts->stdin_list : NULL;
    if (opts && opts->skip_dir && stat(opts->skip_dir, &s->skip_st) == 0) s->has_skip = 1;
    atomic_init(&s->total, countable ? (long long)n : -1);
    atomic_init(&s->counter_stop, 0);
    for (int i = 0; i < FATHOM_IGNORED_KINDS; i++) atomic_init(&s->ignored[i], 0);
    /* without the count the run still works: progress just shows no total */
    if (!countable && !stdin_uses && pthread_create(&s->counter, NULL, count_thread, s) == 0)
        s->counter_started = 1;
    out->ops = &k_inputs_ops;
    out->self = s;
    return FATHOM_OK;
done:
    inputs_free(s);
    return st;
}

void fathom_source_free(fathom_source *src) {
    if (!src) return;
    if (src->ops && src->ops->free) src->ops->free(src->self);
    memset(src, 0, sizeof *src);
}
