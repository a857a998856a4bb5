/* video_walk.h - the videos inside a folder named on the command line.
 *
 * `fathom run -o out dir/` processes the images of dir/ in one image run and each video of
 * dir/ as its own ordered video job (the user asked for the folder). Walk rules are the image
 * walk's: byte order, hidden entries skipped, sub-folders only when recursive and never through
 * a symlink, the output folder never entered (its files are earlier outputs, not inputs). */
#ifndef FATHOM_PIPELINE_VIDEO_WALK_H
#define FATHOM_PIPELINE_VIDEO_WALK_H

#include <stddef.h>

#include "fathom.h"

/* fathom_video_walk, fathom_video_list: declared in fathom.h (public). */

#endif
