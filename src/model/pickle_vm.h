/* pickle_vm.h - the interpreter behind pickle.c: torch.save's opcodes into plain values in a
 * pool owned by one parse (pk_state). Internal to src/model/pickle*.c. */
#ifndef FATHOM_MODEL_PICKLE_VM_H
#define FATHOM_MODEL_PICKLE_VM_H

#include <stddef.h>
#include <stdint.h>

#include "model/pickle.h"

/* Limits: torch.save of the largest DA-V2 model (vitg) writes ~4k memo entries and a stack
 * of a few thousand; these leave room for training checkpoints and stop hostile files. */
#define PK_MAX_STACK (1u << 18)
#define PK_MAX_MEMO (1u << 22)
#define PK_MAX_STR (1u << 20)
#define PK_MAX_OBJECTS (1u << 20)

typedef enum {
    PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_BYTES, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL, PK_STORAGE, PK_TENSOR, PK_OPAQUE
} pk_kind;

typedef struct pk_obj pk_obj;
struct pk_obj {
    pk_kind kind;
    int64_t i;            /* INT, BOOL; STORAGE: numel; TENSOR: offset */
    char *s;              /* owned: STR/BYTES text; GLOBAL "module.name"; STORAGE key */
    char *s2;             /* owned: STORAGE dtype name */
    size_t slen;
    pk_obj **items;       /* owned array: TUPLE/LIST items, DICT key,value pairs */
    size_t n, cap;
    fathom_dtype dtype;   /* STORAGE */
    pk_obj *storage;      /* TENSOR: borrowed (pool) */
    int ndim;             /* TENSOR */
    int64_t shape[FATHOM_PKL_MAX_DIMS], stride[FATHOM_PKL_MAX_DIMS];
    pk_obj *next_alloc;   /* pool chain */
};

typedef struct pk_state {
    const uint8_t *buf;
    size_t n, pos;
    const char *what;
    pk_obj *pool;            /* owned: every object, chained */
    pk_obj **stack;          /* owned */
    size_t sp, stack_cap;
    size_t *marks;           /* owned */
    size_t nmarks, marks_cap;
    pk_obj **memo;           /* owned */
    size_t memo_cap, memo_count;
    size_t nobj;
} pk_state;

/* Run the pickle in st->buf to its STOP; *result is the top value (in st's pool). */
fathom_status fathom_pk_run(pk_state *st, pk_obj **result);
/* Free every value of the parse (the stack, marks and memo arrays stay the caller's). */
void fathom_pk_free_pool(pk_state *st);
/* The out-of-memory failure, naming st->what. */
fathom_status fathom_pk_nomem(pk_state *st);
/* 1 when o is the string s. */
int fathom_pk_is_str(const pk_obj *o, const char *s);

#endif
