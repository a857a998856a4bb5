/* hub.h - model names ("small", "metric-indoor-base", ...) to local folders, downloading
 * the Hugging Face files into the user's cache on first use.
 *
 * Cache: $XDG_CACHE_HOME/fathom, else $HOME/.cache/fathom; one folder per repo:
 *   <cache>/Depth-Anything-V2-Small-hf/{config.json, model.safetensors}
 * Downloads go to <file>.incomplete (resumed with Range when present), are checked against the
 * SHA-256 the hub announces (X-Linked-Etag), then renamed into place, so a final file is always
 * complete. Endpoint: opts->endpoint, else $HF_ENDPOINT, else $FATHOM_HF_ENDPOINT, else
 * https://huggingface.co. A copy already in the Hugging Face cache is used as it is.
 * See docs/models.md. */
#ifndef FATHOM_MODEL_MODEL_CACHE_H
#define FATHOM_MODEL_MODEL_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fathom.h"
#include "net/fetch.h"

/* fathom_resolve_opts, fathom_model_resolve, fathom_model_repo and fathom_model_names are
 * public (fathom.h). */

/* The cache root (opts->cache_dir or the XDG default) into out. */
fathom_status fathom_model_cache_dir(const fathom_resolve_opts *opts, char *out, size_t cap);

#endif
