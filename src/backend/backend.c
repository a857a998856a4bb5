/* backend.c - backend-independent entry points: op names, op support, freeing any backend. */
#include <stddef.h>

#include "backend/backend.h"
#include "core/status.h"

const char *const fathom_op_names[FATHOM_OP_COUNT] = {
#define FATHOM_OP(name, params) #name,
#include "backend/ops.def"
#undef FATHOM_OP
};

int fathom_backend_supports(const fathom_backend *be, fathom_op_id op) {
    int present = 0;
    switch (op) {
#define FATHOM_OP(name, params)                                                              \
    case FATHOM_OP_##name:                                                                   \
        present = be->ops->name != NULL;                                                     \
        break;
#include "backend/ops.def"
#undef FATHOM_OP
    default:
        return 0;
    }
    return present && (!be->ops->supports_op || be->ops->supports_op(be, op));
}

void fathom_backend_free(fathom_backend **be) {
    if (!be || !*be) return;
    (*be)->ops->destroy(*be);
    *be = NULL;
}
