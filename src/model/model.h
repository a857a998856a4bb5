/* model.h - the public fathom_model handle: loaded, read-only weights shared by engines. */
#ifndef FATHOM_MODEL_MODEL_H
#define FATHOM_MODEL_MODEL_H

#include "model/vda.h"
#include "model/weights.h"

struct fathom_model {
    fathom_weights *w; /* owned; NULL for Depth Pro */
    struct fathom_dp_weights *dp; /* owned: Depth Pro weights (depthpro.h); NULL otherwise */
    fathom_vda_weights *vda; /* owned; NULL unless a Video Depth Anything checkpoint */
    int vda_metric;    /* VDA: metric depth in meters (file name or --metric); offline skips the fit */
    char path[4096];   /* what it was loaded from */
};

#endif
