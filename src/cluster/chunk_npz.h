/* chunk_npz.h - read back a chunk's --video-npz archive (video/video_npz.h) frame by frame. */
#ifndef FATHOM_CLUSTER_CHUNK_NPZ_H
#define FATHOM_CLUSTER_CHUNK_NPZ_H

#include <stdint.h>

#include "fathom.h"

typedef struct fathom_chunk_npz fathom_chunk_npz;

/* Open `path`; reads pts and time base now, depth frames on demand. Errors name the file. */
fathom_status fathom_chunk_npz_open(const char *path, fathom_chunk_npz **out);
void fathom_chunk_npz_free(fathom_chunk_npz **z); /* accepts NULL */
/* Frames, frame size, time base and the pts of frame i (0-based). */
int64_t fathom_chunk_npz_frames(const fathom_chunk_npz *z);
void fathom_chunk_npz_size(const fathom_chunk_npz *z, int *h, int *w);
void fathom_chunk_npz_time_base(const fathom_chunk_npz *z, int *num, int *den);
int64_t fathom_chunk_npz_pts(const fathom_chunk_npz *z, int64_t i);
/* The next frame's depth (h * w floats), in order. */
fathom_status fathom_chunk_npz_next(fathom_chunk_npz *z, float *depth);

#endif
