/* pickle.c - the state dict of torch.save's data.pkl (pickle.h), from the values the
 * interpreter (pickle_vm.c) builds without executing anything. */
#include "model/pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/pickle_vm.h"

static const pk_obj *pk_dict_get(const pk_obj *d, const char *key) {
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (fathom_pk_is_str(d->items[i], key)) return d->items[i + 1];
    return NULL;
}

static int pk_has_tensor(const pk_obj *d) {
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (d->items[i + 1]->kind == PK_TENSOR) return 1;
    return 0;
}

/* The state dict itself, or one level down in a training checkpoint. */
static const pk_obj *pk_find_state_dict(const pk_obj *top) {
    static const char *const keys[] = {"state_dict", "model", "module", "model_state_dict"};
    if (top->kind != PK_DICT) return NULL;
    if (pk_has_tensor(top)) return top;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const pk_obj *v = pk_dict_get(top, keys[k]);
        if (v && v->kind == PK_DICT && pk_has_tensor(v)) return v;
    }
    return NULL;
}

void fathom_pkl_free(fathom_pkl_tensor *t, size_t count) {
    if (!t) return;
    for (size_t i = 0; i < count; i++) {
        free(t[i].name);
        free(t[i].storage_key);
    }
    free(t);
}

static fathom_status pk_collect(pk_state *st, const pk_obj *sd, fathom_pkl_tensor **out,
                                size_t *count) {
    size_t n = sd->n / 2;
    fathom_pkl_tensor *t = calloc(n ? n : 1, sizeof *t); /* owned until handed to *out */
    if (!t) return fathom_pk_nomem(st);
    fathom_status s = FATHOM_OK;
    for (size_t i = 0; i < n; i++) {
        const pk_obj *k = sd->items[2 * i], *v = sd->items[2 * i + 1];
        if (k->kind != PK_STR) {
            s = fathom_fail(FATHOM_ERR_FORMAT, "%s: state dict key %zu is not a string", st->what, i);
            goto done;
        }
        if (v->kind != PK_TENSOR) {
            s = fathom_fail(FATHOM_ERR_FORMAT, "%s: state dict entry '%s' is not a tensor", st->what, k->s);
            goto done;
        }
        fathom_pkl_tensor *o = &t[i];
        o->name = strdup(k->s);
        o->storage_key = strdup(v->storage->s);
        if (!o->name || !o->storage_key) {
            s = fathom_pk_nomem(st);
            goto done;
        }
        o->dtype = v->storage->dtype;
        snprintf(o->dtype_name, sizeof o->dtype_name, "%s", v->storage->s2);
        o->storage_numel = v->storage->i;
        o->offset = v->i;
        o->ndim = v->ndim;
        memcpy(o->shape, v->shape, sizeof o->shape);
        memcpy(o->stride, v->stride, sizeof o->stride);
    }
done:
    if (s != FATHOM_OK) {
        fathom_pkl_free(t, n);
        return s;
    }
    *out = t;
    *count = n;
    return FATHOM_OK;
}

fathom_status fathom_pkl_state_dict(const uint8_t *buf, size_t n, const char *what,
                                    fathom_pkl_tensor **out, size_t *count) {
    pk_state st = {.buf = buf, .n = n, .what = what};
    pk_obj *top = NULL;
    *out = NULL;
    *count = 0;
    fathom_status s = fathom_pk_run(&st, &top);
    if (s != FATHOM_OK) goto done;
    const pk_obj *sd = pk_find_state_dict(top);
    if (!sd) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: the pickle holds no state dict (a dict of tensors)", what);
        goto done;
    }
    s = pk_collect(&st, sd, out, count);
done:
    fathom_pk_free_pool(&st);
    free(st.stack);
    free(st.marks);
    free(st.memo);
    return s;
}
