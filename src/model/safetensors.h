/* safetensors.h - read a .safetensors file (mmap) or image in memory into a tensor set.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
 * data; offsets count from the byte after the header. Every entry is checked (dtype known,
 * at most 8 dims, numel * size == end - begin, inside the data, no two tensors overlapping)
 * before anything reads tensor bytes. */
#ifndef FATHOM_MODEL_SAFETENSORS_H
#define FATHOM_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "model/weights.h"

#define FATHOM_ST_MAX_HEADER (100u << 20) /* the format's own limit: 100 MB of JSON */

/* 1 if buf starts like a safetensors file (plausible header length, then '{'). */
int fathom_st_sniff(const uint8_t *buf, size_t size);

/* Parse an image in memory; tensor data pointers borrow from buf, which must outlive the set. */
fathom_status fathom_st_open_memory(const void *buf, size_t size, const char *name,
                                    fathom_tensor_set *out);
/* mmap a file (regular files only); the set owns the mapping. */
fathom_status fathom_st_open_file(const char *path, fathom_tensor_set *out);
/* The mapped pages of [p, p + n) go back to the file once copied (read again if touched), so
 * a loader copying tensor by tensor peaks near one copy, not two. No-op for a set of another
 * reader, a memory image, or a range outside the mapping. */
void fathom_st_drop_pages(fathom_tensor_set *s, const void *p, size_t n);

#endif
