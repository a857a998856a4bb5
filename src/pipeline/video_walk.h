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

typedef struct fathom_video_entry {
    char *path;    /* owned: dir/sub/clip.mp4 */
    char *rel_dir; /* owned: "sub" ("" at the top): outputs go to OUTDIR/sub/ */
} fathom_video_entry;

typedef struct fathom_video_list {
    fathom_video_entry *items; /* owned */
    size_t n, cap;
} fathom_video_list;

/* Append the videos under `dir` to *out (which starts zeroed). outdir may be NULL. */
fathom_status fathom_video_walk(const char *dir, int recursive, const char *outdir,
                                fathom_video_list *out);
void fathom_video_list_free(fathom_video_list *l);

#endif
