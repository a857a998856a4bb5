/* weights_map.h - internals shared by the weight mapper's files (weights_map.c: slots, checks,
 * conversion; weights_arch.c: the architecture from shapes and config). */
#ifndef FATHOM_MODEL_WEIGHTS_MAP_H
#define FATHOM_MODEL_WEIGHTS_MAP_H

#include <stdint.h>
#include <string.h>

#include "model/config.h"
#include "model/weights.h"

#define MAP_NAME 112
#define MAP_MAX_DEPTH 256
#define MAP_MAX_DIM 16384
#define MAP_MAX_GRID 4096
#define MAP_MAX_ARENA ((size_t)64 << 30) /* vitg in float32 is 5.3 GB */

typedef struct slot {
    char name[MAP_NAME];  /* official name */
    int ndim;
    int64_t shape[4];
    int64_t numel;
    float **dst;          /* borrowed field of the weights; NULL: accepted but unused */
    int parts;            /* 3: qkv, which HF stores as query/key/value */
    unsigned filled;      /* bit per part (parts == 3) or bit 0 */
    size_t off;           /* arena offset in floats */
} slot;

typedef struct mapped {
    char name[MAP_NAME];  /* official name of file tensor i */
    int part;             /* -1 whole; 0/1/2 = HF query/key/value */
    slot *slot;           /* borrowed, NULL until matched */
} mapped;

typedef struct map_ctx {
    fathom_tensor_set *set;
    const char *path;
    mapped *m;            /* owned, set->n */
    slot *slots;          /* owned */
    size_t nslots, cap;
    int hf;               /* the file uses HF names */
    const fathom_arch *arch; /* borrowed: the architecture being checked */
} map_ctx;

static inline int fathom_map_eat(const char **p, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(*p, prefix, n) != 0) return 0;
    *p += n;
    return 1;
}

/* Decimal index of at most 4 digits followed by '.'. */
static inline int fathom_map_eat_index(const char **p, int *v) {
    const char *s = *p;
    int x = 0, k = 0;
    while (s[k] >= '0' && s[k] <= '9' && k < 4) x = x * 10 + (s[k++] - '0');
    if (k == 0 || s[k] != '.') return 0;
    *v = x;
    *p = s + k + 1;
    return 1;
}

/* The file tensor with this official name (and part, or a whole one); NULL when absent. */
const fathom_raw_tensor *fathom_map_find(const map_ctx *c, const char *official, int part);

/* Best guess from the shapes; fields stay 0 where the tensor is missing (reported later). */
void fathom_map_infer_arch(const map_ctx *c, fathom_arch *a);
void fathom_map_apply_config(fathom_arch *a, const fathom_config *cfg);
void fathom_map_apply_params(fathom_arch *a, const fathom_model_params *p);
/* "vits".."vitg" when every dimension matches a released model, else "custom". */
void fathom_map_name_arch(fathom_arch *a);
/* Values the slot shapes need; checked before any shape is compared. */
fathom_status fathom_map_check_arch(const map_ctx *c, const fathom_arch *a);

#endif
