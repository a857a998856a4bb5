/* dpt.h - the DPT head: reassemble, layer_rn, fusion blocks, output convs, depth activation. */
#ifndef FATHOM_MODEL_DPT_H
#define FATHOM_MODEL_DPT_H

#include "model/engine.h"

/* Reads the features the encoder left at arena + p->feat[k]; writes depth (B, H, W) backend
 * memory (relative: ReLU; metric: sigmoid * max_depth). No allocation. */
void fathom_dpt_forward(fathom_backend *be, const fathom_weights *w, const fathom_plan *p,
                        float *arena, float *depth, fathom_tap *tap);

#endif
