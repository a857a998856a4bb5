/* video_spill.h - depth frames parked on disk until a video's range is known.
 *
 * One range for a whole video (FATHOM_VNORM_VIDEO, Video Depth Anything) needs every frame
 * before the first normalized one is written. Holding them would make memory grow with the
 * video, so each frame goes as float32, with its timing, to an unlinked temporary file in
 * the output folder (frames x width x height x 4 bytes of disk while the run lasts; gone with
 * the process whatever happens) and is read back once the video's min..max is known. */
#ifndef FATHOM_PIPELINE_VIDEO_SPILL_H
#define FATHOM_PIPELINE_VIDEO_SPILL_H

#include <stdint.h>

#include "fathom.h"

typedef struct fathom_video_spill fathom_video_spill;

fathom_status fathom_video_spill_open(const char *dir, int height, int width,
                                      fathom_video_spill **out);
/* Append a frame; `failed` frames (a repeated depth) do not widen the range. */
fathom_status fathom_video_spill_add(fathom_video_spill *s, const float *depth, int64_t frame,
                                     int64_t pts, int64_t duration, int failed);
/* Back to the first frame; *lo..*hi: the range of the frames added (a flat video: hi > lo). */
fathom_status fathom_video_spill_rewind(fathom_video_spill *s, float *lo, float *hi);
/* The next frame into depth (height x width); *got 0 after the last. */
fathom_status fathom_video_spill_next(fathom_video_spill *s, float *depth, int64_t *frame,
                                      int64_t *pts, int64_t *duration, int *failed, int *got);
void fathom_video_spill_free(fathom_video_spill **s);

#endif
