/* vit.h - the DINOv2 encoder forward pass (patch embed, blocks, final norm of taken layers). */
#ifndef FATHOM_MODEL_VIT_H
#define FATHOM_MODEL_VIT_H

#include "model/engine.h"

/* img: (B, 3, H, W) backend memory; pos: (1 + N, D) backend memory for this grid.
 * Writes the normalized taken layers to arena + p->feat[k] as (B, N, D). No allocation. */
void fathom_vit_forward(fathom_backend *be, const fathom_weights *w, const fathom_plan *p,
                        float *arena, const float *img, const float *pos, fathom_tap *tap);

#endif
