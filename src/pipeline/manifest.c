/* manifest.c - the output manifest (see manifest.h). */
#include "pipeline/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"

typedef struct slot {
    uint64_t k1, k2; /* output path hash; (0, 0) = empty */
    uint64_t src;    /* source id hash */
} slot;

struct fathom_manifest {
    char *path;          /* owned: OUTDIR/.fathom-manifest */
    int fd;              /* append descriptor, -1 until the first record */
    slot *slots;         /* owned: cap entries, open addressing */
    size_t cap, count;
    pthread_mutex_t mu;  /* slots, count, fd */
};

static void hash2(const char *s, uint64_t *a, uint64_t *b) {
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h1 = (h1 ^ *p) * 1099511628211ULL;
        h2 = (h2 + *p) * 0xff51afd7ed558ccdULL;
        h2 ^= h2 >> 29;
    }
    if (!h1 && !h2) h2 = 1;
    *a = h1;
    *b = h2;
}

static uint64_t hash1(const char *s) {
    uint64_t a, b;
    hash2(s, &a, &b);
    return a ^ (b * 31);
}

static slot *find(slot *slots, size_t cap, uint64_t k1, uint64_t k2) {
    size_t i = (size_t)(k1 ^ (k2 >> 7)) & (cap - 1);
    for (;;) {
        slot *s = &slots[i];
        if ((!s->k1 && !s->k2) || (s->k1 == k1 && s->k2 == k2)) return s;
        i = (i + 1) & (cap - 1);
    }
}

static fathom_status put(fathom_manifest *m, uint64_t k1, uint64_t k2, uint64_t src) {
    if ((m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        slot *ns = calloc(cap, sizeof *ns);
        if (!ns) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", m->path);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].k1 || m->slots[i].k2)
                *find(ns, cap, m->slots[i].k1, m->slots[i].k2) = m->slots[i];
        free(m->slots);
        m->slots = ns;
        m->cap = cap;
    }
    slot *s = find(m->slots, m->cap, k1, k2);
    if (!s->k1 && !s->k2) m->count++;
    *s = (slot){k1, k2, src};
    return FATHOM_OK;
}

/* In-place unescape of one field; returns its end. */
static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static size_t escape(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (; *s; s++) {
        const char *e = *s == '\\' ? "\\\\" : *s == '\t' ? "\\t" : *s == '\n' ? "\\n"
                      : *s == '\r' ? "\\r" : NULL;
        size_t k = e ? 2 : 1;
        if (n + k >= cap) return cap; /* does not fit */
        if (e) memcpy(out + n, e, 2);
        else out[n] = *s;
        n += k;
    }
    out[n] = '\0';
    return n;
}

static fathom_status load(fathom_manifest *m) {
    FILE *f = fopen(m->path, "r");
    if (!f) {
        if (errno == ENOENT) return FATHOM_OK;
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: %s", m->path, strerror(e));
    }
    char *line = NULL; /* owned: getline buffer */
    size_t cap = 0;
    ssize_t n;
    fathom_status st = FATHOM_OK;
    while ((n = getline(&line, &cap, f)) > 0 && st == FATHOM_OK) {
        if (line[n - 1] != '\n') break; /* a torn last line (crash mid-append): ignored */
        line[n - 1] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        unescape(line);
        unescape(tab + 1);
        uint64_t k1, k2;
        hash2(tab + 1, &k1, &k2);
        st = put(m, k1, k2, hash1(line));
    }
    free(line);
    fclose(f);
    return st;
}

fathom_status fathom_manifest_open(const char *outdir, fathom_manifest **out) {
    *out = NULL;
    fathom_manifest *m = calloc(1, sizeof *m);
    if (!m) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the manifest");
    m->fd = -1;
    pthread_mutex_init(&m->mu, NULL);
    size_t n = strlen(outdir) + sizeof FATHOM_MANIFEST_NAME + 2;
    if (!(m->path = malloc(n))) {
        fathom_manifest_free(&m);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the manifest");
    }
    snprintf(m->path, n, "%s/%s", outdir, FATHOM_MANIFEST_NAME);
    fathom_status st = load(m);
    if (st != FATHOM_OK) {
        fathom_manifest_free(&m);
        return st;
    }
    *out = m;
    return FATHOM_OK;
}

void fathom_manifest_free(fathom_manifest **mp) {
    if (!mp || !*mp) return;
    fathom_manifest *m = *mp;
    if (m->fd >= 0) close(m->fd);
    pthread_mutex_destroy(&m->mu);
    free(m->slots);
    free(m->path);
    free(m);
    *mp = NULL;
}

fathom_owner fathom_manifest_owner(fathom_manifest *m, const char *out_rel, const char *source_id) {
    if (!m) return FATHOM_OWNER_NONE;
    uint64_t k1, k2, src = hash1(source_id);
    hash2(out_rel, &k1, &k2);
    fathom_owner o = FATHOM_OWNER_NONE;
    pthread_mutex_lock(&m->mu);
    if (m->cap) {
        slot *s = find(m->slots, m->cap, k1, k2);
        if (s->k1 || s->k2) o = s->src == src ? FATHOM_OWNER_SELF : FATHOM_OWNER_OTHER;
    }
    pthread_mutex_unlock(&m->mu);
    return o;
}

fathom_status fathom_manifest_record(fathom_manifest *m, const char *out_rel, const char *source_id) {
    if (!m) return FATHOM_OK;
    if (fathom_manifest_owner(m, out_rel, source_id) == FATHOM_OWNER_SELF) return FATHOM_OK;
    char line[2 * PATH_MAX + 8 * 1024];
    size_t a = escape(source_id, line, sizeof line / 2);
    if (a >= sizeof line / 2)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: source name too long for the manifest",
                           source_id);
    line[a++] = '\t';
    size_t b = escape(out_rel, line + a, sizeof line - a - 1);
    if (b >= sizeof line - a - 1)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: output name too long for the manifest",
                           out_rel);
    a += b;
    line[a++] = '\n';
    uint64_t k1, k2;
    hash2(out_rel, &k1, &k2);
    fathom_status st = FATHOM_OK;
    pthread_mutex_lock(&m->mu);
    if (m->fd < 0) m->fd = open(m->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (m->fd < 0) {
        int e = errno;
        st = fathom_fail(e == ENOSPC || e == EDQUOT ? FATHOM_ERR_DISK_FULL : FATHOM_ERR_IO,
                         "%s: cannot open: %s", m->path, strerror(e));
    } else {
        ssize_t w;
        do w = write(m->fd, line, a);
        while (w < 0 && errno == EINTR);
        if (w != (ssize_t)a) {
            int e = w < 0 ? errno : ENOSPC;
            st = fathom_fail(e == ENOSPC || e == EDQUOT ? FATHOM_ERR_DISK_FULL : FATHOM_ERR_IO,
                             "%s: cannot record %s: %s", m->path, out_rel, strerror(e));
        } else {
            st = put(m, k1, k2, hash1(source_id));
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

void fathom_manifest_source_id(const char *source, char *out, size_t cap) {
    /* the folder is resolved, the name is kept: "x/../a.jpg" and "./a.jpg" are one input,
     * while symlinks b.jpg -> a.jpg in a folder stay inputs of their own (own outputs) */
    char dir[PATH_MAX], buf[PATH_MAX];
    const char *slash = strrchr(source, '/');
    const char *name = slash ? slash + 1 : source;
    int dl = slash ? (int)(slash - source) : 1;
    snprintf(dir, sizeof dir, "%.*s", slash == source ? 1 : dl, slash ? source : ".");
    /* one realpath per folder, not per file: the walk names many files of one folder in a row
     * (per thread: the source thread is the caller) */
    static _Thread_local char last_dir[PATH_MAX], last_real[PATH_MAX];
    if (strstr(source, "://") || !*name || !strcmp(name, ".") || !strcmp(name, "..")) {
        snprintf(out, cap, "%s", source);
        return;
    }
    if (last_dir[0] && !strcmp(dir, last_dir)) {
        memcpy(buf, last_real, sizeof buf);
    } else if (realpath(dir, buf)) {
        memcpy(last_dir, dir, sizeof last_dir);
        memcpy(last_real, buf, sizeof last_real);
    } else {
        snprintf(out, cap, "%s", source);
        return;
    }
    snprintf(out, cap, "%s%s%s", buf, strcmp(buf, "/") ? "/" : "", name);
}
