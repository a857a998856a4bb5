/* colormap.h - RGB8 colormap lookup tables (generated once with matplotlib, see
 * tests/tools/gen_colormap_lut.py) and their application to normalized uint8 depth. */
#ifndef FATHOM_MEDIA_COLORMAP_H
#define FATHOM_MEDIA_COLORMAP_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

extern const uint8_t fathom_lut_spectral_r[256][3];
extern const uint8_t fathom_lut_inferno[256][3];
extern const uint8_t fathom_lut_turbo[256][3];
extern const uint8_t fathom_lut_gray[256][3];

/* The table of a colormap; NULL for an unknown value. */
const uint8_t (*fathom_colormap_lut(fathom_colormap c))[3];
/* Name as given on the command line ("spectral_r", "inferno", "turbo", "gray"); NULL if unknown. */
const char *fathom_colormap_name(fathom_colormap c);
/* rgb[3*i..] = lut[q[i]] for n codes. */
void fathom_colormap_apply(const uint8_t (*lut)[3], const uint8_t *q, size_t n, uint8_t *rgb);

#endif
