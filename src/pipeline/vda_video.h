/* vda_video.h - a video through Video Depth Anything (docs/video.md "Video Depth Anything").
 *
 * Serial and ordered: decode -> fathom_vda (offline windows or streaming) -> outputs. Raw
 * outputs (npy, npz, exr sequences) are written as frames come out; 8/16-bit outputs (the
 * depth video, png sequences) use one range for the whole video, since VDA's scale is fixed
 * by its first window: their frames are spilled as float32 to an unlinked temporary file in
 * OUTDIR and encoded once the video's min..max is known. Memory stays flat; the spill takes
 * frames x width x height x 4 bytes of disk while the run lasts. */
#ifndef FATHOM_PIPELINE_VDA_VIDEO_H
#define FATHOM_PIPELINE_VDA_VIDEO_H

#include <stdatomic.h>
#include <stddef.h>

#include "fathom.h"
#include "pipeline/video_job.h"

/* The first device of rp runs the model; rp->input_size, outdir, existing, write are used.
 * cancel (may be NULL): nonzero stops the run between frames (FATHOM_ERR_INTERRUPTED).
 * summary (may be NULL) gets a one-line description of what was written. */
fathom_status fathom_vda_video_run(const fathom_model *m, const fathom_run_params *rp,
                                   const char *input, const fathom_video_run_opts *vo,
                                   int streaming, const atomic_int *cancel, char *summary,
                                   size_t cap);

#endif
