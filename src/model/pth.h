/* pth.h - read a PyTorch checkpoint (torch.save zip format) into a tensor set.
 *
 * The archive holds <prefix>/data.pkl (the pickled state dict, see pickle.h) and one entry
 * <prefix>/data/<key> per storage (raw little-endian elements). Every tensor is checked
 * against its storage (dtype known, contiguous strides, offset + numel inside the storage,
 * the entry's declared size) before any storage byte is read; bytes are read on demand with
 * libzip, straight into the caller's buffer. */
#ifndef FATHOM_MODEL_PTH_H
#define FATHOM_MODEL_PTH_H

#include <stddef.h>
#include <stdint.h>

#include "model/weights.h"

#define FATHOM_PTH_MAX_PICKLE (64u << 20)

/* 1 if buf starts with a zip local file header ("PK\3\4"). */
int fathom_pth_sniff(const uint8_t *buf, size_t size);

/* Open an image in memory (libzip buffer source; buf must outlive the set). */
fathom_status fathom_pth_open_memory(const void *buf, size_t size, const char *name,
                                     fathom_tensor_set *out);
/* Open a file (regular files only). */
fathom_status fathom_pth_open_file(const char *path, fathom_tensor_set *out);

#endif
