/* hub.h - model names ("small", "metric-indoor-base", ...) to local folders, downloading
 * the Hugging Face files into the user's cache on first use.
 *
 * Cache: $XDG_CACHE_HOME/fathom, else $HOME/.cache/fathom; one folder per repo:
 *   <cache>/Depth-Anything-V2-Small-hf/{config.json, model.safetensors}
 * Downloads go to <file>.incomplete (resumed with Range when present), are checked against the
 * SHA-256 the hub announces (X-Linked-Etag), then renamed into place, so a final file is always
 * complete. Endpoint: opts->endpoint, else $FATHOM_HF_ENDPOINT, else https://huggingface.co.
 * See docs/models.md. */
#ifndef FATHOM_MODEL_MODEL_CACHE_H
#define FATHOM_MODEL_MODEL_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fathom.h"
#include "net/fetch.h"

/* file: "config.json" or "model.safetensors"; done/total bytes (total -1 when unknown). */
typedef void (*fathom_download_progress_fn)(void *user, const char *file, int64_t done,
                                            int64_t total);

typedef struct fathom_resolve_opts {
    const char *cache_dir;     /* NULL: $XDG_CACHE_HOME/fathom or $HOME/.cache/fathom */
    const char *endpoint;      /* NULL: $FATHOM_HF_ENDPOINT or https://huggingface.co */
    int offline;               /* nonzero (or $FATHOM_OFFLINE set and not "0"): never download;
                                  missing files -> FATHOM_ERR_NOT_FOUND */
    fathom_download_progress_fn progress; /* may be NULL; called on the calling thread */
    void *progress_user;
    const atomic_int *cancel;  /* borrowed, may be NULL: nonzero stops the download (a lent
                                  fetcher stops on its own cancel flag) */
    fathom_fetcher *fetcher;   /* borrowed, may be NULL (a private one is made, with default
                                  fetch options and the cancel flag above) */
} fathom_resolve_opts;

/* name_or_path: NULL -> "small"; an existing file or folder -> copied to out unchanged;
 * a known name -> its cache folder (downloaded if needed). opts may be NULL.
 * out receives the path to pass to fathom_model_load (cap bytes, NUL-terminated).
 * Errors: FATHOM_ERR_NOT_FOUND (neither a path nor a known name; offline and not cached),
 * FATHOM_ERR_NETWORK (the message names the URL, the files and the folder to place them in),
 * FATHOM_ERR_FORMAT (SHA-256 mismatch, naming the file), FATHOM_ERR_INTERRUPTED, IO errors. */
fathom_status fathom_model_resolve(const char *name_or_path, const fathom_resolve_opts *opts,
                                   char *out, size_t cap);

/* Hugging Face repo of a model name ("depth-anything/Depth-Anything-V2-Small-hf"), or NULL. */
const char *fathom_model_repo(const char *name);

/* The known names, NULL-terminated ("small", "base", "large", "metric-indoor-small", ...). */
const char *const *fathom_model_names(void);

/* The cache root (opts->cache_dir or the XDG default) into out. */
fathom_status fathom_model_cache_dir(const fathom_resolve_opts *opts, char *out, size_t cap);

#endif
