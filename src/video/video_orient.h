/* video_orient.h - upright frames: the rotation and mirror of a video stream's display matrix,
 * and that turn applied to an RGB24 picture. */
#ifndef FATHOM_VIDEO_ORIENT_H
#define FATHOM_VIDEO_ORIENT_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

/* Clockwise degrees (0, 90, 180, 270) a player turns st's picture; *mirrored: it then mirrors it
 * left-right. */
int fathom_video_stream_rotation(const AVStream *st, int *mirrored);

/* src: w x h RGB24 rows of ss bytes. dst (rows of ds bytes) gets it turned clockwise by rot
 * degrees, then mirrored when asked: h wide and w tall for 90/270, else w x h. */
void fathom_rgb_rotate(const uint8_t *src, int w, int h, size_t ss, uint8_t *dst, size_t ds,
                       int rot, int mirrored);

#endif
