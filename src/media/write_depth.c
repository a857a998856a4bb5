/* write_depth.c - fathom_depth_write / fathom_output_ext: argument checks and dispatch to the
 * per-format writers. Every writer goes through atomic_file (temp name + rename). */
#include <string.h>

#include "core/status.h"
#include "media/atomic_file.h"
#include "media/colormap.h"
#include "media/image.h"

const char *fathom_output_ext(fathom_output_format one) {
    switch (one) {
    case FATHOM_OUT_NPY: return "npy";
    case FATHOM_OUT_NPZ: return "npz";
    case FATHOM_OUT_PNG16:
    case FATHOM_OUT_PNG8:
    case FATHOM_OUT_COLOR: return "png";
    case FATHOM_OUT_EXR: return "exr";
    }
    return NULL;
}

fathom_status fathom_depth_write(const char *path, fathom_output_format one, const float *depth,
                                 int h, int w, const fathom_write_opts *opts) {
    static const fathom_write_opts defaults = {0};
    if (!opts) opts = &defaults;
    if (!path || !*path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "depth write: no output path");
    if (!depth) return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: depth is NULL", path);
    if (h <= 0 || w <= 0 || (int64_t)h * w > ((int64_t)1 << 31))
        return fathom_fail(FATHOM_ERR_SHAPE, "%s: invalid depth size %dx%d", path, w, h);
    if (!fathom_output_ext(one))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: output format %d is not exactly one format",
                           path, (int)one);
    if (one == FATHOM_OUT_COLOR && !fathom_colormap_lut(opts->colormap))
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: unknown colormap %d", path,
                           (int)opts->colormap);
    FATHOM_TRY(fathom_mkdir_parents(path));
    switch (one) {
    case FATHOM_OUT_NPY: return fathom_write_npy(path, depth, h, w);
    case FATHOM_OUT_NPZ: return fathom_write_npz_opts(path, depth, h, w, opts);
    case FATHOM_OUT_EXR: return fathom_write_exr(path, depth, h, w, opts);
    default: return fathom_write_png(path, one, depth, h, w, opts);
    }
}
