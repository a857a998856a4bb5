/* video_npz.h - one .npz holding every frame of a video (`fathom run --video-npz`), written at
 * constant memory.
 *
 *   depth.npy      float32 (frames, H, W), raw depth (never normalized)
 *   pts.npy        int64 (frames,), each frame's pts in time_base units
 *   time_base.npy  int64 (2,), numerator and denominator
 *
 * Frames are appended to two hidden temporary .npy files next to the output whose headers have a
 * fixed width, so the frame count is patched in at the end; finish() then stores them in a zip
 * (libzip reads them back from disk, writes its own temporary archive and renames it over the
 * final name). An unfinished writer removes its temporary files: an interrupted run leaves no
 * .npz. */
#ifndef FATHOM_MEDIA_VIDEO_NPZ_H
#define FATHOM_MEDIA_VIDEO_NPZ_H

#include <stdint.h>

#include "fathom.h"

typedef struct fathom_video_npz fathom_video_npz;

/* Start `path` for frames of h x w. Fails when path exists unless `overwrite`. */
fathom_status fathom_video_npz_open(const char *path, int h, int w, int tb_num, int tb_den,
                                    int overwrite, fathom_video_npz **out);
/* Append one frame (h * w floats) and its pts. */
fathom_status fathom_video_npz_add(fathom_video_npz *z, const float *depth, int64_t pts);
/* Patch the frame count, build the archive, rename it to its final name. */
fathom_status fathom_video_npz_finish(fathom_video_npz *z);
/* Frames appended so far. */
int64_t fathom_video_npz_frames(const fathom_video_npz *z);
/* Remove the temporary files and free. Accepts NULL / *z NULL. */
void fathom_video_npz_free(fathom_video_npz **z);

#endif
