/* pickle.h - a small, non-executing reader for the pickles torch.save writes (data.pkl).
 *
 * It interprets the opcode subset of protocols 2-4 that torch.save emits, builds plain
 * values (no code is ever run: callables are recorded by name), recognises
 * torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter and the
 * ('storage', type, key, location, numel) persistent ids, and returns the state dict:
 * the top-level dict, or the dict under "state_dict" / "model" / "module" /
 * "model_state_dict" when the top level is a training checkpoint. */
#ifndef FATHOM_MODEL_PICKLE_H
#define FATHOM_MODEL_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "model/weights.h"

#define FATHOM_PKL_MAX_DIMS 8

typedef struct fathom_pkl_tensor {
    char *name;              /* owned */
    char *storage_key;       /* owned: the zip entry is <prefix>/data/<key> */
    fathom_dtype dtype;      /* from the storage type */
    char dtype_name[24];     /* the storage type as the file spells it */
    int64_t storage_numel;   /* elements in the storage */
    int64_t offset;          /* storage offset, elements */
    int ndim;
    int64_t shape[FATHOM_PKL_MAX_DIMS];
    int64_t stride[FATHOM_PKL_MAX_DIMS];
} fathom_pkl_tensor;

/* Parse `buf` (n bytes; `what` names it in errors). On success *out is an owned array of *count
 * tensors in file order (free with fathom_pkl_free). Hostile input gives FATHOM_ERR_FORMAT
 * (bad or unknown opcode, stack under/overflow, memo out of range, truncation),
 * FATHOM_ERR_TOO_LARGE (limits) or FATHOM_ERR_UNSUPPORTED; never reads outside buf. */
fathom_status fathom_pkl_state_dict(const uint8_t *buf, size_t n, const char *what,
                                    fathom_pkl_tensor **out, size_t *count);
void fathom_pkl_free(fathom_pkl_tensor *t, size_t count);

#endif
