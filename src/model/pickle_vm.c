/* pickle_vm.c - the pickle interpreter (pickle_vm.h): opcodes to values, nothing executed.
 *
 * Values live in a pool owned by one parse and are freed together, so shared references
 * (memo) and cycles need no reference counting, and nothing here recurses. */
#include "model/pickle_vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static pk_obj *pk_new(pk_state *st, pk_kind kind) {
    if (st->nobj >= PK_MAX_OBJECTS) return NULL; /* reported as out of memory */
    st->nobj++;
    pk_obj *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->kind = kind;
    o->next_alloc = st->pool;
    st->pool = o;
    return o;
}

void fathom_pk_free_pool(pk_state *st) {
    pk_obj *o = st->pool;
    while (o) {
        pk_obj *next = o->next_alloc;
        free(o->s);
        free(o->s2);
        free(o->items);
        free(o);
        o = next;
    }
    st->pool = NULL;
}

fathom_status fathom_pk_nomem(pk_state *st) {
    return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory while parsing the pickle", st->what);
}

static fathom_status pk_bad(pk_state *st, const char *why) {
    return fathom_fail(FATHOM_ERR_FORMAT, "%s: bad pickle at byte %zu: %s", st->what, st->pos, why);
}

static fathom_status pk_push(pk_state *st, pk_obj *o) {
    if (!o && st->nobj >= PK_MAX_OBJECTS)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: pickle with more than %u values", st->what, PK_MAX_OBJECTS);
    if (!o) return fathom_pk_nomem(st);
    if (st->sp == st->stack_cap) {
        if (st->stack_cap >= PK_MAX_STACK) return pk_bad(st, "stack overflow");
        size_t cap = st->stack_cap ? st->stack_cap * 2 : 256;
        pk_obj **s = realloc(st->stack, cap * sizeof *s);
        if (!s) return fathom_pk_nomem(st);
        st->stack = s;
        st->stack_cap = cap;
    }
    st->stack[st->sp++] = o;
    return FATHOM_OK;
}

/* Lowest stack index usable by the current frame (above the last MARK). */
static size_t pk_floor(const pk_state *st) { return st->nmarks ? st->marks[st->nmarks - 1] : 0; }

static fathom_status pk_pop(pk_state *st, pk_obj **o) {
    if (st->sp <= pk_floor(st)) return pk_bad(st, "stack underflow");
    *o = st->stack[--st->sp];
    return FATHOM_OK;
}

static fathom_status pk_top(pk_state *st, pk_obj **o) {
    if (st->sp <= pk_floor(st)) return pk_bad(st, "stack underflow");
    *o = st->stack[st->sp - 1];
    return FATHOM_OK;
}

static fathom_status pk_pop_mark(pk_state *st, size_t *base) {
    if (!st->nmarks) return pk_bad(st, "no MARK on the stack");
    *base = st->marks[--st->nmarks];
    return FATHOM_OK;
}

static fathom_status pk_append(pk_state *st, pk_obj *c, pk_obj *item) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        if (cap > PK_MAX_STACK * 2) return pk_bad(st, "container too large");
        pk_obj **it = realloc(c->items, cap * sizeof *it);
        if (!it) return fathom_pk_nomem(st);
        c->items = it;
        c->cap = cap;
    }
    c->items[c->n++] = item;
    return FATHOM_OK;
}

static fathom_status pk_need(pk_state *st, size_t k) {
    if (st->n - st->pos < k) return pk_bad(st, "truncated");
    return FATHOM_OK;
}

static uint64_t pk_le(const uint8_t *p, int k) {
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static fathom_status pk_make_tuple(pk_state *st, size_t base) {
    pk_obj *t = pk_new(st, PK_TUPLE);
    if (!t) return fathom_pk_nomem(st);
    size_t k = st->sp - base;
    if (k) {
        t->items = malloc(k * sizeof *t->items);
        if (!t->items) return fathom_pk_nomem(st);
        memcpy(t->items, st->stack + base, k * sizeof *t->items);
        t->n = t->cap = k;
    }
    st->sp = base;
    return pk_push(st, t);
}

static fathom_status pk_string(pk_state *st, size_t len, pk_kind kind) {
    FATHOM_TRY(pk_need(st, len));
    if (len > PK_MAX_STR)
        return fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: pickle string of %zu bytes at byte %zu",
                           st->what, len, st->pos);
    pk_obj *o = pk_new(st, kind);
    if (!o) return fathom_pk_nomem(st);
    o->s = malloc(len + 1);
    if (!o->s) return fathom_pk_nomem(st);
    memcpy(o->s, st->buf + st->pos, len);
    o->s[len] = '\0';
    o->slen = len;
    st->pos += len;
    return pk_push(st, o);
}

static fathom_status pk_memo_put(pk_state *st, uint64_t idx) {
    pk_obj *o = NULL;
    FATHOM_TRY(pk_top(st, &o));
    if (idx >= PK_MAX_MEMO) return pk_bad(st, "memo index too large");
    if (idx >= st->memo_cap) {
        size_t cap = st->memo_cap ? st->memo_cap : 256;
        while (cap <= idx) cap *= 2;
        pk_obj **m = realloc(st->memo, cap * sizeof *m);
        if (!m) return fathom_pk_nomem(st);
        memset(m + st->memo_cap, 0, (cap - st->memo_cap) * sizeof *m);
        st->memo = m;
        st->memo_cap = cap;
    }
    if (!st->memo[idx]) st->memo_count++;
    st->memo[idx] = o;
    return FATHOM_OK;
}

static fathom_status pk_memo_get(pk_state *st, uint64_t idx) {
    if (idx >= st->memo_cap || !st->memo[idx]) return pk_bad(st, "memo index out of range");
    return pk_push(st, st->memo[idx]);
}

int fathom_pk_is_str(const pk_obj *o, const char *s) {
    return o && o->kind == PK_STR && strcmp(o->s, s) == 0;
}

static fathom_dtype pk_storage_dtype(const char *global) {
    static const struct { const char *name; fathom_dtype dt; } map[] = {
        {"torch.FloatStorage", FATHOM_DT_F32}, {"torch.float32", FATHOM_DT_F32},
        {"torch.float", FATHOM_DT_F32},        {"torch.HalfStorage", FATHOM_DT_F16},
        {"torch.float16", FATHOM_DT_F16},      {"torch.half", FATHOM_DT_F16},
        {"torch.BFloat16Storage", FATHOM_DT_BF16}, {"torch.bfloat16", FATHOM_DT_BF16},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(global, map[i].name) == 0) return map[i].dt;
    return FATHOM_DT_OTHER;
}

/* BINPERSID: ('storage', <storage type or dtype global>, key, location, numel). */
static fathom_status pk_persid(pk_state *st) {
    pk_obj *pid = NULL;
    FATHOM_TRY(pk_pop(st, &pid));
    if (pid->kind != PK_TUPLE || pid->n < 5 || !fathom_pk_is_str(pid->items[0], "storage") ||
        pid->items[1]->kind != PK_GLOBAL || pid->items[2]->kind != PK_STR ||
        pid->items[4]->kind != PK_INT || pid->items[4]->i < 0)
        return pk_bad(st, "persistent id is not ('storage', type, key, location, numel)");
    pk_obj *o = pk_new(st, PK_STORAGE);
    if (!o) return fathom_pk_nomem(st);
    o->s = strdup(pid->items[2]->s);
    o->s2 = strdup(pid->items[1]->s);
    if (!o->s || !o->s2) return fathom_pk_nomem(st);
    o->dtype = pk_storage_dtype(o->s2);
    o->i = pid->items[4]->i;
    return pk_push(st, o);
}

static fathom_status pk_int_tuple(pk_state *st, const pk_obj *t, int64_t *v, int *count) {
    if (t->kind != PK_TUPLE) return pk_bad(st, "tensor size/stride is not a tuple");
    if (t->n > FATHOM_PKL_MAX_DIMS)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: tensor with %zu dims (at most %d)",
                           st->what, t->n, FATHOM_PKL_MAX_DIMS);
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != PK_INT || t->items[i]->i < 0)
            return pk_bad(st, "tensor size/stride is not a non-negative integer");
        v[i] = t->items[i]->i;
    }
    *count = (int)t->n;
    return FATHOM_OK;
}

/* REDUCE: call nothing; build the value the known callables would have returned. */
static fathom_status pk_reduce(pk_state *st) {
    pk_obj *args = NULL, *fn = NULL;
    FATHOM_TRY(pk_pop(st, &args));
    FATHOM_TRY(pk_pop(st, &fn));
    if (args->kind != PK_TUPLE) return pk_bad(st, "REDUCE arguments are not a tuple");
    const char *name = fn->kind == PK_GLOBAL ? fn->s : "";
    if (strcmp(name, "torch._utils._rebuild_tensor_v2") == 0 ||
        strcmp(name, "torch._utils._rebuild_tensor") == 0) {
        if (args->n < 4 || args->items[0]->kind != PK_STORAGE || args->items[1]->kind != PK_INT ||
            args->items[1]->i < 0)
            return pk_bad(st, "_rebuild_tensor arguments are not (storage, offset, size, stride)");
        pk_obj *t = pk_new(st, PK_TENSOR);
        if (!t) return fathom_pk_nomem(st);
        t->storage = args->items[0];
        t->i = args->items[1]->i;
        int nd_size, nd_stride;
        FATHOM_TRY(pk_int_tuple(st, args->items[2], t->shape, &nd_size));
        FATHOM_TRY(pk_int_tuple(st, args->items[3], t->stride, &nd_stride));
        if (nd_size != nd_stride) return pk_bad(st, "tensor size and stride differ in length");
        t->ndim = nd_size;
        return pk_push(st, t);
    }
    if (strcmp(name, "torch._utils._rebuild_parameter") == 0 ||
        strcmp(name, "torch._utils._rebuild_parameter_with_state") == 0) {
        if (args->n < 1 || args->items[0]->kind != PK_TENSOR)
            return pk_bad(st, "_rebuild_parameter without a tensor");
        return pk_push(st, args->items[0]);
    }
    if (strcmp(name, "collections.OrderedDict") == 0 || strcmp(name, "builtins.dict") == 0 ||
        strcmp(name, "__builtin__.dict") == 0)
        return pk_push(st, pk_new(st, PK_DICT));
    /* anything else (argparse.Namespace, numpy scalars in a training checkpoint): kept opaque */
    return pk_push(st, pk_new(st, PK_OPAQUE));
}

static fathom_status pk_setitems(pk_state *st, size_t base) {
    if (base == 0 || base - 1 < pk_floor(st)) return pk_bad(st, "SETITEM(S) without a dict");
    if ((st->sp - base) % 2) return pk_bad(st, "SETITEMS with an odd count");
    pk_obj *d = st->stack[base - 1];
    if (d->kind == PK_DICT) {
        for (size_t i = base; i < st->sp; i++) FATHOM_TRY(pk_append(st, d, st->stack[i]));
    } else if (d->kind != PK_OPAQUE) {
        return pk_bad(st, "SETITEM(S) on something that is not a dict");
    }
    st->sp = base;
    return FATHOM_OK;
}

static fathom_status pk_appends(pk_state *st, size_t base) {
    if (base == 0 || base - 1 < pk_floor(st)) return pk_bad(st, "APPEND(S) without a list");
    pk_obj *l = st->stack[base - 1];
    if (l->kind == PK_LIST) {
        for (size_t i = base; i < st->sp; i++) FATHOM_TRY(pk_append(st, l, st->stack[i]));
    } else if (l->kind != PK_OPAQUE) {
        return pk_bad(st, "APPEND(S) on something that is not a list");
    }
    st->sp = base;
    return FATHOM_OK;
}

/* GLOBAL: "module\nname\n" */
static fathom_status pk_global(pk_state *st) {
    const uint8_t *p = st->buf + st->pos, *end = st->buf + st->n;
    const uint8_t *nl1 = memchr(p, '\n', (size_t)(end - p));
    if (!nl1) return pk_bad(st, "truncated GLOBAL");
    const uint8_t *nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1));
    if (!nl2) return pk_bad(st, "truncated GLOBAL");
    size_t a = (size_t)(nl1 - p), b = (size_t)(nl2 - nl1 - 1);
    if (a + b > 512) return pk_bad(st, "GLOBAL name too long");
    pk_obj *o = pk_new(st, PK_GLOBAL);
    if (!o || !(o->s = malloc(a + b + 2))) return fathom_pk_nomem(st);
    memcpy(o->s, p, a);
    o->s[a] = '.';
    memcpy(o->s + a + 1, nl1 + 1, b);
    o->s[a + 1 + b] = '\0';
    st->pos = (size_t)(nl2 + 1 - st->buf);
    return pk_push(st, o);
}

static fathom_status pk_stack_global(pk_state *st) {
    pk_obj *name = NULL, *mod = NULL;
    FATHOM_TRY(pk_pop(st, &name));
    FATHOM_TRY(pk_pop(st, &mod));
    if (mod->kind != PK_STR || name->kind != PK_STR) return pk_bad(st, "STACK_GLOBAL of non-strings");
    pk_obj *o = pk_new(st, PK_GLOBAL);
    if (!o || !(o->s = malloc(mod->slen + name->slen + 2))) return fathom_pk_nomem(st);
    memcpy(o->s, mod->s, mod->slen);
    o->s[mod->slen] = '.';
    memcpy(o->s + mod->slen + 1, name->s, name->slen + 1);
    return pk_push(st, o);
}

static fathom_status pk_int(pk_state *st, int64_t v) {
    pk_obj *o = pk_new(st, PK_INT);
    if (o) o->i = v;
    return pk_push(st, o);
}

/* The opcodes fathom reads (Python's Lib/pickle.py names); anything else is refused. */
enum {
    OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2',
    OP_BINFLOAT = 'G', OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N',
    OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U',
    OP_BINUNICODE = 'X', OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c', OP_APPENDS = 'e',
    OP_BINGET = 'h', OP_LONG_BINGET = 'j', OP_LIST = 'l', OP_BINPUT = 'q', OP_LONG_BINPUT = 'r',
    OP_SETITEM = 's', OP_TUPLE = 't', OP_SETITEMS = 'u', OP_EMPTY_DICT = '}',
    OP_EMPTY_LIST = ']', OP_EMPTY_TUPLE = ')', OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
    /* protocol 2 */
    OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87,
    OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a,
    /* protocol 4 */
    OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_STACK_GLOBAL = 0x93,
    OP_MEMOIZE = 0x94, OP_FRAME = 0x95,
};

static fathom_status pk_mark(pk_state *st) {
    if (st->nmarks == st->marks_cap) {
        if (st->marks_cap >= PK_MAX_STACK) return pk_bad(st, "too many MARKs");
        size_t cap = st->marks_cap ? st->marks_cap * 2 : 64;
        size_t *m = realloc(st->marks, cap * sizeof *m);
        if (!m) return fathom_pk_nomem(st);
        st->marks = m;
        st->marks_cap = cap;
    }
    st->marks[st->nmarks++] = st->sp;
    return FATHOM_OK;
}

/* Reads an n-byte little-endian length or value at the cursor and moves past it. */
static fathom_status pk_arg(pk_state *st, int n, uint64_t *v) {
    FATHOM_TRY(pk_need(st, (size_t)n));
    *v = pk_le(st->buf + st->pos, n);
    st->pos += (size_t)n;
    return FATHOM_OK;
}

/* LONG1: n bytes, two's complement little-endian. */
static fathom_status pk_long1(pk_state *st) {
    uint64_t k, v = 0;
    FATHOM_TRY(pk_arg(st, 1, &k));
    FATHOM_TRY(pk_need(st, k));
    if (k > 8)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: pickle integer of %zu bytes at byte %zu",
                           st->what, (size_t)k, st->pos);
    if (k) v = pk_le(st->buf + st->pos, (int)k);
    if (k && k < 8 && (st->buf[st->pos + k - 1] & 0x80)) v |= ~(uint64_t)0 << (8 * k);
    st->pos += k;
    return pk_int(st, (int64_t)v);
}

/* Opcodes that push one constant (numbers, strings, bytes); *handled = 0 for any other. */
static fathom_status pk_constant(pk_state *st, uint8_t op, int *handled) {
    uint64_t v;
    *handled = 1;
    switch (op) {
    case OP_BININT: FATHOM_TRY(pk_arg(st, 4, &v)); return pk_int(st, (int32_t)v);
    case OP_BININT1: FATHOM_TRY(pk_arg(st, 1, &v)); return pk_int(st, (int64_t)v);
    case OP_BININT2: FATHOM_TRY(pk_arg(st, 2, &v)); return pk_int(st, (int64_t)v);
    case OP_LONG1: return pk_long1(st);
    case OP_NEWTRUE:
    case OP_NEWFALSE: {
        pk_obj *o = pk_new(st, PK_BOOL);
        if (o) o->i = op == OP_NEWTRUE;
        return pk_push(st, o);
    }
    case OP_NONE: return pk_push(st, pk_new(st, PK_NONE));
    case OP_BINFLOAT: /* the value is never needed */
        FATHOM_TRY(pk_arg(st, 8, &v));
        return pk_push(st, pk_new(st, PK_FLOAT));
    case OP_BINUNICODE:
    case OP_BINSTRING: FATHOM_TRY(pk_arg(st, 4, &v)); return pk_string(st, (size_t)v, PK_STR);
    case OP_SHORT_BINUNICODE:
    case OP_SHORT_BINSTRING: FATHOM_TRY(pk_arg(st, 1, &v)); return pk_string(st, (size_t)v, PK_STR);
    case OP_BINUNICODE8:
        FATHOM_TRY(pk_arg(st, 8, &v));
        if (v > PK_MAX_STR) return pk_bad(st, "string too long");
        return pk_string(st, (size_t)v, PK_STR);
    case OP_BINBYTES: FATHOM_TRY(pk_arg(st, 4, &v)); return pk_string(st, (size_t)v, PK_BYTES);
    case OP_SHORT_BINBYTES: FATHOM_TRY(pk_arg(st, 1, &v)); return pk_string(st, (size_t)v, PK_BYTES);
    }
    *handled = 0;
    return FATHOM_OK;
}

/* Memo opcodes (PUT/GET/MEMOIZE); *handled = 0 for any other. */
static fathom_status pk_memo_op(pk_state *st, uint8_t op, int *handled) {
    uint64_t v;
    *handled = 1;
    switch (op) {
    case OP_BINPUT: FATHOM_TRY(pk_arg(st, 1, &v)); return pk_memo_put(st, v);
    case OP_LONG_BINPUT: FATHOM_TRY(pk_arg(st, 4, &v)); return pk_memo_put(st, v);
    case OP_MEMOIZE: return pk_memo_put(st, st->memo_count); /* index = entries, as in Python */
    case OP_BINGET: FATHOM_TRY(pk_arg(st, 1, &v)); return pk_memo_get(st, v);
    case OP_LONG_BINGET: FATHOM_TRY(pk_arg(st, 4, &v)); return pk_memo_get(st, v);
    }
    *handled = 0;
    return FATHOM_OK;
}

/* Run the opcodes to STOP; *result is the top value (borrowed from the pool). */
fathom_status fathom_pk_run(pk_state *st, pk_obj **result) {
    for (;;) {
        FATHOM_TRY(pk_need(st, 1));
        uint8_t op = st->buf[st->pos++];
        size_t base = 0;
        uint64_t v;
        pk_obj *a = NULL, *b = NULL;
        int handled = 0;
        FATHOM_TRY(pk_constant(st, op, &handled));
        if (!handled) FATHOM_TRY(pk_memo_op(st, op, &handled));
        if (handled) continue;
        switch (op) {
        case OP_PROTO:
            FATHOM_TRY(pk_arg(st, 1, &v));
            if (v > 5) return pk_bad(st, "pickle protocol above 5");
            break;
        case OP_FRAME: FATHOM_TRY(pk_arg(st, 8, &v)); break; /* a length hint only */
        case OP_STOP: return pk_pop(st, result);
        case OP_MARK: FATHOM_TRY(pk_mark(st)); break;
        case OP_POP: FATHOM_TRY(pk_pop(st, &a)); break;
        case OP_POP_MARK: FATHOM_TRY(pk_pop_mark(st, &base)); st->sp = base; break;
        case OP_DUP: FATHOM_TRY(pk_top(st, &a)); FATHOM_TRY(pk_push(st, a)); break;
        case OP_EMPTY_DICT: FATHOM_TRY(pk_push(st, pk_new(st, PK_DICT))); break;
        case OP_EMPTY_LIST: FATHOM_TRY(pk_push(st, pk_new(st, PK_LIST))); break;
        case OP_EMPTY_TUPLE: FATHOM_TRY(pk_make_tuple(st, st->sp)); break;
        case OP_TUPLE: FATHOM_TRY(pk_pop_mark(st, &base)); FATHOM_TRY(pk_make_tuple(st, base)); break;
        case OP_TUPLE1:
        case OP_TUPLE2:
        case OP_TUPLE3: {
            size_t k = (size_t)(op - OP_TUPLE1 + 1);
            if (st->sp < pk_floor(st) + k) return pk_bad(st, "stack underflow");
            FATHOM_TRY(pk_make_tuple(st, st->sp - k));
            break;
        }
        case OP_LIST: /* protocol 0/1 form */
            FATHOM_TRY(pk_pop_mark(st, &base));
            FATHOM_TRY(pk_make_tuple(st, base));
            st->stack[st->sp - 1]->kind = PK_LIST;
            break;
        case OP_GLOBAL: FATHOM_TRY(pk_global(st)); break;
        case OP_STACK_GLOBAL: FATHOM_TRY(pk_stack_global(st)); break;
        case OP_REDUCE: FATHOM_TRY(pk_reduce(st)); break;
        case OP_NEWOBJ: /* cls args */
            FATHOM_TRY(pk_pop(st, &a));
            FATHOM_TRY(pk_pop(st, &b));
            FATHOM_TRY(pk_push(st, pk_new(st, PK_OPAQUE)));
            break;
        case OP_BUILD: /* the state (tensor _metadata, object __dict__) is not needed */
            FATHOM_TRY(pk_pop(st, &a));
            FATHOM_TRY(pk_top(st, &b));
            break;
        case OP_BINPERSID: FATHOM_TRY(pk_persid(st)); break;
        case OP_SETITEM:
            if (st->sp < pk_floor(st) + 3) return pk_bad(st, "stack underflow");
            FATHOM_TRY(pk_setitems(st, st->sp - 2));
            break;
        case OP_SETITEMS: FATHOM_TRY(pk_pop_mark(st, &base)); FATHOM_TRY(pk_setitems(st, base)); break;
        case OP_APPEND:
            if (st->sp < pk_floor(st) + 2) return pk_bad(st, "stack underflow");
            FATHOM_TRY(pk_appends(st, st->sp - 1));
            break;
        case OP_APPENDS: FATHOM_TRY(pk_pop_mark(st, &base)); FATHOM_TRY(pk_appends(st, base)); break;
        default:
            st->pos--;
            return fathom_fail(FATHOM_ERR_FORMAT, "%s: unknown or unsupported pickle opcode 0x%02x at byte %zu",
                               st->what, op, st->pos);
        }
    }
}

