/* weights_names.h - official <-> Hugging Face tensor names of Depth Anything V2, from one
 * table of name patterns used in both directions (weights_names.c). */
#ifndef FATHOM_MODEL_WEIGHTS_NAMES_H
#define FATHOM_MODEL_WEIGHTS_NAMES_H

#include <stddef.h>

/* HF name -> official name. 1 when `hf` is a known HF name (out written); else 0. *part is
 * 0/1/2 for HF's separate query/key/value (parts of the official packed qkv), else -1. */
int fathom_name_hf_to_official(const char *hf, char *out, size_t cap, int *part);

/* Official name -> HF name, for naming a tensor in the file's own scheme. part: 0/1/2 for the
 * query/key/value row blocks of qkv, else -1. 1 when translated; else 0 with out = official. */
int fathom_name_official_to_hf(const char *official, int part, char *out, size_t cap);

#endif
