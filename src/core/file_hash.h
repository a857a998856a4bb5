/* file_hash.h - the sha256 of a weight file, for provenance (run reports, quantized files). */
#ifndef FATHOM_CORE_FILE_HASH_H
#define FATHOM_CORE_FILE_HASH_H

#include "core/status.h"

/* SHA-256 of the file at path as 64 lowercase hex digits; an error names the file. */
fathom_status fathom_sha256_file(const char *path, char hex[65]);

/* hex = lowercase hex sha256 of the file at path (a folder: its model.safetensors); "" when it
 * cannot be read */
void fathom_file_sha256(const char *path, char hex[65]);

#endif
