/* depthpro_engine.h - the hooks engine.c calls for Depth Pro models (depthpro_engine.c). */
#ifndef FATHOM_MODEL_DEPTHPRO_ENGINE_H
#define FATHOM_MODEL_DEPTHPRO_ENGINE_H

#include "fathom.h"
#include "model/depthpro.h"

fathom_status fathom_dp_engine_create(const fathom_model *m, const fathom_engine_params *params, fathom_engine **out);
/* Frees the whole engine (backend, state, the struct). */
void fathom_dp_engine_free(fathom_engine *e);
fathom_status fathom_dp_engine_reserve(fathom_engine *e, int batch, int net_h, int net_w);
fathom_status fathom_dp_engine_forward(fathom_engine *e, const float *x, int batch, int net_h, int net_w, float *depth);
/* Multiply-adds x2 of one forward pass (any image: the network input is fixed). */
double fathom_dp_flops(const fathom_dp_weights *w);

#endif
