/* fetch.c - http(s) downloads with libcurl: retries, limits, cancel, resume, shared caches. */
#include "net/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

struct fathom_fetcher {
    fathom_fetch_opts opts;
    CURLSH *share; /* owned: DNS + connection cache shared by all easy handles */
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* ------------------------------------------------------------------ global init, share locks */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user) {
    fathom_fetcher *f = user;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&f->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user) {
    fathom_fetcher *f = user;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&f->locks[data]);
}

fathom_fetch_opts fathom_fetch_default_opts(void) {
    fathom_fetch_opts o = {
        .connect_timeout_ms = 15000,
        .timeout_ms = 120000,
        .low_speed_bytes = 1024,
        .low_speed_time_s = 30,
        .retries = 3,
        .retry_delay_ms = 500,
        .max_bytes = (size_t)1 << 30,
        .max_redirects = 10,
        .cancel = NULL,
    };
    return o;
}

fathom_status fathom_fetcher_create(const fathom_fetch_opts *opts, fathom_fetcher **out) {
    if (!out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_fetcher_create: out is NULL");
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return fathom_fail(FATHOM_ERR_NETWORK, "libcurl initialisation failed: %s",
                           curl_easy_strerror(global_rc));
    fathom_fetcher *f = calloc(1, sizeof *f); /* owned by *out */
    if (!f) return fathom_fail(FATHOM_ERR_NOMEM, "fetcher: out of memory");
    f->opts = opts ? *opts : fathom_fetch_default_opts();
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&f->locks[i], NULL);
    f->share = curl_share_init();
    if (!f->share) {
        fathom_fetcher_free(&f);
        return fathom_fail(FATHOM_ERR_NOMEM, "fetcher: curl_share_init failed");
    }
    curl_share_setopt(f->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(f->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(f->share, CURLSHOPT_USERDATA, f);
    curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = f;
    return FATHOM_OK;
}

void fathom_fetcher_free(fathom_fetcher **fp) {
    if (!fp || !*fp) return;
    fathom_fetcher *f = *fp;
    if (f->share) curl_share_cleanup(f->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&f->locks[i]);
    free(f);
    *fp = NULL;
}

int fathom_is_url(const char *s) {
    return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

/* ------------------------------------------------------------------ one transfer */

typedef struct xfer {
    fathom_fetcher *f; /* borrowed */
    const char *url;   /* borrowed */
    /* memory sink */
    uint8_t *buf; /* owned until handed to the caller */
    size_t len, cap, max_bytes;
    /* file sink */
    int fd;             /* borrowed, -1 for memory */
    int64_t offset;     /* bytes already in the file before this attempt (resume) */
    int started;        /* first body byte of the final response seen */
    int write_errno;
    /* headers */
    int responses;      /* non-1xx status lines seen (1 = first response) */
    long status;        /* status of the current response */
    int64_t content_length; /* of the current response, -1 unknown */
    int64_t range_start, range_total; /* from Content-Range of a 206, -1 unknown */
    fathom_fetch_meta meta;
    /* outcome flags set by callbacks */
    int too_large, cancelled, bad_range;
    int linked_seen; /* an X-Linked-Etag was read */
    char first_etag[72]; /* ETag of the first response: the file's own only if not redirected */
    /* progress */
    fathom_fetch_progress_fn progress;
    void *progress_user;
    struct timespec last_progress;
} xfer;

static int cancelled(const fathom_fetcher *f) {
    return f->opts.cancel && atomic_load(f->opts.cancel) != 0;
}

/* Copy header value (after "Name:") into dst, trimming spaces, CR/LF, W/ and quotes. */
static void header_value(const char *v, size_t n, char *dst, size_t cap) {
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int header_is(const char *line, size_t n, const char *name, const char **value,
                     size_t *vn) {
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) return 0;
    *value = line + k + 1;
    *vn = n - k - 1;
    return 1;
}

static int64_t parse_i64(const char *v, size_t n) {
    char tmp[32];
    header_value(v, n, tmp, sizeof tmp);
    char *end = NULL;
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno || end == tmp || *end || x < 0) return -1;
    return (int64_t)x;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *user) {
    xfer *x = user;
    size_t n = size * nitems;
    const char *v;
    size_t vn;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', n); /* the line is not NUL-terminated */
        long code = 0;
        for (const char *c = sp ? sp + 1 : line + n; c < line + n && *c >= '0' && *c <= '9'; c++)
            if (code < 1000) code = code * 10 + (*c - '0');
        if (code >= 100 && code < 200) return n; /* interim response: not counted */
        x->responses++;
        x->status = code;
        x->content_length = -1;
        x->range_start = x->range_total = -1;
        return n;
    }
    if (header_is(line, n, "Content-Length", &v, &vn)) {
        x->content_length = parse_i64(v, vn);
        if (x->max_bytes && x->status >= 200 && x->status < 300 && x->content_length >= 0 &&
            (uint64_t)x->content_length > x->max_bytes) {
            x->too_large = 1;
            return 0; /* abort before the body */
        }
    } else if (header_is(line, n, "Content-Range", &v, &vn)) {
        const char *slash = memchr(v, '/', vn);
        if (slash) x->range_total = parse_i64(slash + 1, vn - (size_t)(slash + 1 - v));
        const char *dash = memchr(v, '-', vn); /* " bytes START-END/TOTAL" */
        if (dash) {
            const char *d0 = dash;
            while (d0 > v && d0[-1] >= '0' && d0[-1] <= '9') d0--;
            if (d0 < dash) x->range_start = parse_i64(d0, (size_t)(dash - d0));
        }
    } else if (header_is(line, n, "X-Linked-Etag", &v, &vn)) {
        /* the first response that has one (the hub may first redirect a renamed repo); the
         * final CDN response's own ETag is something else */
        if (!x->linked_seen)
            header_value(v, vn, x->meta.linked_etag, sizeof x->meta.linked_etag);
        x->linked_seen = 1;
    } else if (x->responses == 1 && header_is(line, n, "ETag", &v, &vn)) {
        header_value(v, vn, x->first_etag, sizeof x->first_etag);
    } else if (x->meta.linked_size < 0 && header_is(line, n, "X-Linked-Size", &v, &vn)) {
        x->meta.linked_size = parse_i64(v, vn);
    }
    return n;
}

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    xfer *x = user;
    size_t n = size * nmemb;
    if (x->fd >= 0) {
        if (!x->started) {
            x->started = 1;
            /* the server ignored our Range (or we sent none): start the file over */
            if (x->status != 206 && x->offset > 0) x->offset = 0;
            if (x->status == 206 && x->range_start != x->offset) {
                x->bad_range = 1; /* appending would splice the wrong bytes */
                return 0;
            }
            if (ftruncate(x->fd, (off_t)x->offset) != 0 ||
                lseek(x->fd, (off_t)x->offset, SEEK_SET) < 0) {
                x->write_errno = errno;
                return 0;
            }
        }
        if (x->meta.linked_size >= 0 && x->offset + (int64_t)(x->len + n) > x->meta.linked_size) {
            x->too_large = 1; /* more than the hub announced: never a valid file */
            return 0;
        }
        int e = write_all(x->fd, data, n);
        if (e) {
            x->write_errno = e;
            return 0;
        }
        x->len += n;
        return n;
    }
    if (x->max_bytes && x->len + n > x->max_bytes) {
        x->too_large = 1;
        return 0;
    }
    if (x->len + n + 1 > x->cap) {
        size_t want = x->cap ? x->cap * 2 : 64 * 1024;
        if (x->content_length > 0 && (uint64_t)x->content_length + 1 > want &&
            (!x->max_bytes || (uint64_t)x->content_length <= x->max_bytes))
            want = (size_t)x->content_length + 1;
        while (want < x->len + n + 1) want *= 2;
        uint8_t *nb = realloc(x->buf, want);
        if (!nb) {
            x->write_errno = ENOMEM;
            return 0;
        }
        x->buf = nb;
        x->cap = want;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return n;
}

static int64_t xfer_total(const xfer *x) {
    if (x->range_total >= 0) return x->range_total;
    if (x->content_length >= 0 && x->status >= 200 && x->status < 300)
        return x->content_length + (x->status == 206 ? x->offset : 0);
    return x->meta.linked_size;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    xfer *x = user;
    if (cancelled(x->f)) {
        x->cancelled = 1;
        return 1;
    }
    if (x->progress && x->started) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double dt = (double)(now.tv_sec - x->last_progress.tv_sec) +
                    1e-9 * (double)(now.tv_nsec - x->last_progress.tv_nsec);
        if (dt >= 0.2) {
            x->last_progress = now;
            x->progress(x->progress_user, x->offset + (int64_t)x->len, xfer_total(x));
        }
    }
    return 0;
}

/* Sleep ms, waking early (returns 1) when cancelled. */
static int backoff_sleep(const fathom_fetcher *f, long ms) {
    while (ms > 0) {
        if (cancelled(f)) return 1;
        long step = ms < 50 ? ms : 50;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return cancelled(f);
}

static int transient_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static CURL *make_handle(fathom_fetcher *f, xfer *x, int whole_file, char *errbuf) {
    CURL *h = curl_easy_init();
    if (!h) return NULL;
    const fathom_fetch_opts *o = &f->opts;
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_SHARE, f->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)(o->max_redirects < 0 ? 0 : o->max_redirects));
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "fathom/" FATHOM_VERSION);
    /* compressed transfer for memory fetches only: a Range counts encoded bytes, so a resumed
     * file must be fetched as stored */
    if (!whole_file) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (o->connect_timeout_ms > 0) curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->timeout_ms > 0 && !whole_file) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (o->low_speed_time_s > 0 && o->low_speed_bytes > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    return h;
}

/* Reset per-attempt state. */
static void xfer_reset(xfer *x) {
    x->len = 0;
    x->started = 0;
    x->write_errno = 0;
    x->responses = 0;
    x->status = 0;
    x->content_length = -1;
    x->range_start = x->range_total = -1;
    x->meta.linked_etag[0] = '\0';
    x->meta.linked_size = -1;
    x->meta.total = -1;
    x->meta.http_status = 0;
    x->too_large = x->cancelled = x->bad_range = x->linked_seen = 0;
    x->first_etag[0] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &x->last_progress);
}

/* Run the request with retries. For a file sink, each attempt resumes from the current file
 * size when resume is set (else starts over). */
static fathom_status run(fathom_fetcher *f, xfer *x, int resume) {
    char errbuf[CURL_ERROR_SIZE];
    fathom_status st = FATHOM_ERR_NETWORK;
    long delay = f->opts.retry_delay_ms > 0 ? f->opts.retry_delay_ms : 0;
    int attempts = 1 + (f->opts.retries > 0 ? f->opts.retries : 0);
    int restarted = 0, restart_now = 0;
    for (int a = 0; a < attempts; a++) {
        if (a > 0 && !restart_now) {
            if (backoff_sleep(f, delay))
                return fathom_fail(FATHOM_ERR_INTERRUPTED, "%s: cancelled", x->url);
            delay *= 2;
        }
        restart_now = 0;
        xfer_reset(x);
        errbuf[0] = '\0';
        x->offset = 0;
        if (x->fd >= 0 && resume) {
            struct stat sb;
            if (fstat(x->fd, &sb) == 0) x->offset = (int64_t)sb.st_size;
        } else if (x->fd >= 0 && ftruncate(x->fd, 0) != 0) { /* drop a failed attempt's bytes */
            int e = errno;
            return fathom_fail(fathom_status_from_errno(e), "%s: truncate failed: %s", x->url,
                               strerror(e));
        }
        CURL *h = make_handle(f, x, x->fd >= 0, errbuf);
        if (!h) return fathom_fail(FATHOM_ERR_NOMEM, "%s: curl_easy_init failed", x->url);
        char range[48];
        if (x->offset > 0) {
            snprintf(range, sizeof range, "%" PRId64 "-", x->offset);
            curl_easy_setopt(h, CURLOPT_RANGE, range);
        }
        CURLcode rc = curl_easy_perform(h);
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(h);
        x->meta.http_status = code;
        x->meta.total = xfer_total(x);
        if (!x->linked_seen && x->responses == 1)
            memcpy(x->meta.linked_etag, x->first_etag, sizeof x->first_etag);
        if (x->cancelled || cancelled(f))
            return fathom_fail(FATHOM_ERR_INTERRUPTED, "%s: cancelled", x->url);
        if (x->too_large && x->fd >= 0)
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: more bytes than the announced %lld",
                               x->url, (long long)x->meta.linked_size);
        if (x->too_large)
            return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: larger than the limit of %zu bytes",
                               x->url, x->max_bytes);
        if (x->bad_range)
            return fathom_fail(FATHOM_ERR_NETWORK, "%s: server answered a different range than "
                               "bytes=%" PRId64 "-", x->url, x->offset);
        if (x->write_errno == ENOMEM)
            return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory after %zu bytes", x->url,
                               x->len);
        if (x->write_errno)
            return fathom_fail(fathom_status_from_errno(x->write_errno), "%s: write failed: %s",
                               x->url, strerror(x->write_errno));
        if (rc == CURLE_OK) {
            /* a resumed file that was already complete is answered 206 with 0 bytes or 200 */
            if (x->fd >= 0 && x->status != 206 && !x->started && x->offset > 0)
                if (ftruncate(x->fd, 0) != 0) {
                    int e = errno;
                    return fathom_fail(fathom_status_from_errno(e), "%s: truncate failed: %s",
                                       x->url, strerror(e));
                }
            return FATHOM_OK;
        }
        if (rc == CURLE_HTTP_RETURNED_ERROR) {
            if (code == 416 && x->fd >= 0 && x->offset > 0) {
                int64_t full = x->range_total >= 0 ? x->range_total : x->meta.linked_size;
                if (full == x->offset) { /* nothing left to fetch: the partial is whole */
                    x->meta.total = full;
                    return FATHOM_OK;
                }
                if (restarted) return fathom_fail(FATHOM_ERR_NETWORK, "%s: HTTP 416", x->url);
                restarted = 1;
                /* our partial is not a prefix the server can continue: start over */
                if (ftruncate(x->fd, 0) != 0) {
                    int e = errno;
                    return fathom_fail(fathom_status_from_errno(e), "%s: truncate failed: %s",
                                       x->url, strerror(e));
                }
                a--; /* not a failed attempt: the next one, at once, has no Range */
                restart_now = 1;
                continue;
            }
            st = fathom_fail(FATHOM_ERR_NETWORK, "%s: HTTP %ld", x->url, code);
            if (code >= 500 || code == 429) continue;
            return st;
        }
        if (rc == CURLE_UNSUPPORTED_PROTOCOL)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: %s", x->url,
                               errbuf[0] ? errbuf : curl_easy_strerror(rc));
        st = fathom_fail(FATHOM_ERR_NETWORK, "%s: %s", x->url,
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
        if (!transient_curl(rc)) return st;
    }
    return st;
}

fathom_status fathom_fetch_url(fathom_fetcher *f, const char *url, uint8_t **data, size_t *size) {
    if (!f || !url || !data || !size)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_fetch_url: NULL argument");
    *data = NULL;
    *size = 0;
    if (!fathom_is_url(url))
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: only http:// and https:// URLs are fetched",
                           url);
    xfer x = {.f = f, .url = url, .fd = -1, .max_bytes = f->opts.max_bytes};
    fathom_status st = run(f, &x, 0);
    if (st != FATHOM_OK) goto done;
    if (!x.buf) { /* empty body */
        x.buf = malloc(1);
        if (!x.buf) {
            st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", url);
            goto done;
        }
    }
    x.buf[x.len] = '\0';
    *data = x.buf;
    *size = x.len;
    x.buf = NULL;
done:
    free(x.buf);
    return st;
}

fathom_status fathom_fetch_to_file(fathom_fetcher *f, const char *url, const char *path,
                                   int resume, fathom_fetch_progress_fn progress, void *user,
                                   fathom_fetch_meta *meta) {
    if (!f || !url || !path)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_fetch_to_file: NULL argument");
    if (!fathom_is_url(url))
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: only http:// and https:// URLs are fetched",
                           url);
    fathom_status st = FATHOM_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
    if (fd < 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: cannot open for writing: %s", path,
                           strerror(e));
    }
    xfer x = {.f = f, .url = url, .fd = fd, .progress = progress, .progress_user = user};
    st = run(f, &x, resume);
    if (st == FATHOM_OK && fsync(fd) != 0) {
        int e = errno;
        st = fathom_fail(fathom_status_from_errno(e), "%s: fsync failed: %s", path, strerror(e));
    }
    if (st == FATHOM_ERR_IO || st == FATHOM_ERR_DISK_FULL) {
        /* name the file, not only the URL */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fathom_last_error());
        st = fathom_fail(st, "%s (writing %s)", msg, path);
    }
    if (st == FATHOM_OK && progress) {
        struct stat sb;
        int64_t done = fstat(fd, &sb) == 0 ? (int64_t)sb.st_size : x.offset + (int64_t)x.len;
        progress(user, done, x.meta.total >= 0 ? x.meta.total : done);
    }
    if (meta) *meta = x.meta;
    if (close(fd) != 0 && st == FATHOM_OK) {
        int e = errno;
        st = fathom_fail(fathom_status_from_errno(e), "%s: close failed: %s", path, strerror(e));
    }
    return st;
}
