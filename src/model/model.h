/* model.h - the public fathom_model handle: loaded, read-only weights shared by engines. */
#ifndef FATHOM_MODEL_MODEL_H
#define FATHOM_MODEL_MODEL_H

#include "model/weights.h"

struct fathom_model {
    fathom_weights *w; /* owned */
    char path[4096];   /* what it was loaded from */
};

#endif
