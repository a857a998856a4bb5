/* fetch.h - download http(s) URLs into memory or into a file (libcurl).
 *
 * One fathom_fetcher is shared by all threads: each call uses its own curl easy handle and
 * the fetcher shares the DNS and connection caches between them (with locks), so many decode
 * workers can fetch at once. Only http and https are allowed, also after redirects.
 * Transient failures (connect/DNS/timeouts, HTTP 5xx and 429) are retried with exponential
 * back-off; other HTTP errors (4xx) fail at once. */
#ifndef FATHOM_MEDIA_FETCH_H
#define FATHOM_MEDIA_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

typedef struct fathom_fetcher fathom_fetcher;

typedef struct fathom_fetch_opts {
    long connect_timeout_ms;   /* per attempt, TCP+TLS connect */
    long timeout_ms;           /* per attempt, whole transfer; 0 = none (use for big files) */
    long low_speed_bytes;      /* abort an attempt slower than this many bytes/s ... */
    long low_speed_time_s;     /* ... for this many seconds (0 = no low-speed limit) */
    int retries;               /* extra attempts after the first on transient errors */
    long retry_delay_ms;       /* first back-off delay; doubles each retry */
    size_t max_bytes;          /* fathom_fetch_url limit: larger -> FATHOM_ERR_TOO_LARGE; 0 = none */
    int max_redirects;         /* redirects followed per request */
    const atomic_int *cancel;  /* borrowed, may be NULL: nonzero stops transfers fast
                                  (FATHOM_ERR_INTERRUPTED); must outlive the fetcher */
} fathom_fetch_opts;

/* connect 15 s, total 120 s, < 1 KiB/s for 30 s, 3 retries from 500 ms, 1 GiB, 10 redirects. */
fathom_fetch_opts fathom_fetch_default_opts(void);

/* opts may be NULL (defaults); it is copied. *out is owned by the caller (fathom_fetcher_free). */
fathom_status fathom_fetcher_create(const fathom_fetch_opts *opts, fathom_fetcher **out);
/* Accepts NULL / *f == NULL; sets *f to NULL. No transfer may be running. */
void fathom_fetcher_free(fathom_fetcher **f);

/* 1 if s starts with http:// or https:// (case-insensitive), else 0. */
int fathom_is_url(const char *s);

/* GET url into memory. On success *data (owned by the caller, free()) holds *size bytes plus
 * a terminating NUL not counted in *size. Errors: FATHOM_ERR_NETWORK ("URL: HTTP 404",
 * "URL: <curl reason>"), FATHOM_ERR_TOO_LARGE (over max_bytes, by Content-Length or while
 * streaming), FATHOM_ERR_UNSUPPORTED (scheme other than http/https),
 * FATHOM_ERR_INTERRUPTED (cancel flag), FATHOM_ERR_NOMEM. Thread-safe. */
fathom_status fathom_fetch_url(fathom_fetcher *f, const char *url, uint8_t **data, size_t *size);

/* What the first response of a request announced (Hugging Face resolve URLs answer with a
 * redirect that carries the LFS object's SHA-256 and size). */
typedef struct fathom_fetch_meta {
    char linked_etag[72];  /* the first X-Linked-Etag of the redirect chain, else the ETag of
                              a direct (not redirected) answer; quotes and W/ removed; "" when
                              absent */
    int64_t linked_size;   /* the first X-Linked-Size of the chain; -1 when absent */
    int64_t total;         /* full size of the resource when known (after resume), else -1 */
    long http_status;      /* final HTTP status */
} fathom_fetch_meta;

/* (bytes done, total bytes or -1 when unknown); done includes a resumed prefix. Called from
 * the calling thread, at most a few times per second plus once at the end. */
typedef void (*fathom_fetch_progress_fn)(void *user, int64_t done, int64_t total);

/* GET url into the file at path. When resume is nonzero and path holds a partial download,
 * asks only for the rest (Range) and appends; if the server ignores the range the file is
 * rewritten from the start. max_bytes and timeout_ms do not apply (big files take long);
 * the connect timeout and the low-speed limit do, and a body longer than the first response's
 * X-Linked-Size is cut off (FATHOM_ERR_TOO_LARGE).
 * meta and progress may be NULL. Errors as fathom_fetch_url, plus FATHOM_ERR_IO /
 * FATHOM_ERR_DISK_FULL naming path. The file is left in place on failure (for resume). */
fathom_status fathom_fetch_to_file(fathom_fetcher *f, const char *url, const char *path,
                                   int resume, fathom_fetch_progress_fn progress, void *user,
                                   fathom_fetch_meta *meta);

#endif
