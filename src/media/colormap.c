/* colormap.c - colormap lookup by enum and the LUT application. */
#include "media/colormap.h"

#include <string.h>

const uint8_t (*fathom_colormap_lut(fathom_colormap c))[3] {
    switch (c) {
    case FATHOM_CMAP_SPECTRAL_R: return fathom_lut_spectral_r;
    case FATHOM_CMAP_INFERNO: return fathom_lut_inferno;
    case FATHOM_CMAP_TURBO: return fathom_lut_turbo;
    case FATHOM_CMAP_GRAY: return fathom_lut_gray;
    }
    return NULL;
}

const char *fathom_colormap_name(fathom_colormap c) {
    switch (c) {
    case FATHOM_CMAP_SPECTRAL_R: return "spectral_r";
    case FATHOM_CMAP_INFERNO: return "inferno";
    case FATHOM_CMAP_TURBO: return "turbo";
    case FATHOM_CMAP_GRAY: return "gray";
    }
    return NULL;
}

void fathom_colormap_apply(const uint8_t (*lut)[3], const uint8_t *q, size_t n, uint8_t *rgb) {
    for (size_t i = 0; i < n; i++) memcpy(rgb + 3 * i, lut[q[i]], 3);
}
