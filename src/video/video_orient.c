/* video_orient.c - the picture turn a video's display matrix asks for (video_orient.h). */
#include "video/video_orient.h"

#include <math.h>
#include <string.h>

#include <libavutil/display.h>

/* Clockwise degrees a player turns the picture, and whether it then mirrors it left-right, as
 * the ffmpeg CLI (>= 6.1) decides from the display matrix: transpose for 90/270 with a flip,
 * hflip/vflip for 180 and 0 (vflip = 180 + mirror). */
int fathom_video_stream_rotation(const AVStream *st, int *mirrored) {
    *mirrored = 0;
#if LIBAVFORMAT_VERSION_MAJOR < 61
    size_t size = 0;
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
#else
    const AVPacketSideData *sd = av_packet_side_data_get(
        st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    const uint8_t *m = sd ? sd->data : NULL;
    size_t size = sd ? sd->size : 0;
#endif
    if (!m || size < 9 * sizeof(int32_t)) return 0;
    const int32_t *dm = (const int32_t *)m;
    double theta = -round(av_display_rotation_get(dm));
    if (isnan(theta)) return 0;
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    int deg = (int)lrint(theta / 90.0) * 90 % 360;
    deg = deg < 0 ? deg + 360 : deg;
    if (deg == 90) *mirrored = dm[3] > 0;       /* transpose=cclock_flip */
    else if (deg == 270) *mirrored = dm[3] < 0; /* transpose=clock_flip */
    else if (deg == 180 && (dm[0] < 0) != (dm[4] < 0)) {
        *mirrored = 1;                          /* hflip alone = 0 + mirror */
        if (dm[0] < 0) deg = 0;                 /* vflip alone = 180 + mirror */
    } else if (deg == 180 && dm[0] >= 0) {
        deg = 0;                                /* neither flip applies */
    } else if (deg == 0 && dm[4] < 0) {
        deg = 180;
        *mirrored = 1;
    }
    return deg;
}

void fathom_rgb_rotate(const uint8_t *src, int w, int h, size_t ss, uint8_t *dst, size_t ds,
                       int rot, int mirrored) {
    if (mirrored) {
        /* out(y, x) = in(sy, sx): swap axes for 90/270; flip the source rows (fy) / columns
         * (fx) as the rotation needs, the mirror toggles the axis that lands on out's x */
        const int tr = rot == 90 || rot == 270;
        const int fy = rot == 180 || rot == 270, fx = rot == 0 || rot == 270;
        const int ow = tr ? h : w, oh = tr ? w : h;
        for (int y = 0; y < oh; y++) {
            uint8_t *d = dst + (size_t)y * ds;
            for (int x = 0; x < ow; x++) {
                int sy = tr ? x : y, sx = tr ? y : x;
                if (fy) sy = h - 1 - sy;
                if (fx) sx = w - 1 - sx;
                memcpy(d + 3 * x, src + (size_t)sy * ss + 3 * (size_t)sx, 3);
            }
        }
        return;
    }
    if (rot == 180) {
        for (int y = 0; y < h; y++) {
            const uint8_t *s = src + (size_t)(h - 1 - y) * ss;
            uint8_t *d = dst + (size_t)y * ds;
            for (int x = 0; x < w; x++) memcpy(d + 3 * x, s + 3 * (w - 1 - x), 3);
        }
        return;
    }
    /* 90: out(y, x) = in(h-1-x, y); 270: out(y, x) = in(x, w-1-y); out is h wide, w tall */
    for (int y = 0; y < w; y++) {
        uint8_t *d = dst + (size_t)y * ds;
        for (int x = 0; x < h; x++) {
            const uint8_t *s = rot == 90 ? src + (size_t)(h - 1 - x) * ss + 3 * (size_t)y
                                         : src + (size_t)x * ss + 3 * (size_t)(w - 1 - y);
            memcpy(d + 3 * x, s, 3);
        }
    }
}
