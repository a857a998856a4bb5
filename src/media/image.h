/* image.h - internals of image decoding and depth writing (src/media): per-format decoders,
 * per-format depth writers and shared helpers.
 *
 * fathom_image_decode() sniffs the magic bytes and calls one decoder below. Every decoder
 * checks the declared dimensions with fathom_image_check_dims() before allocating pixels,
 * fills an fathom_image whose rgb buffer comes from fathom_image_alloc(), and records errors
 * naming `name`. */
#ifndef FATHOM_MEDIA_IMAGE_H
#define FATHOM_MEDIA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

/* Hard cap on one decoded RGB buffer, whatever max_pixels says (decompression bombs). */
#define FATHOM_IMAGE_MAX_BYTES ((uint64_t)1 << 31)
/* Largest file fathom_image_load reads into memory. */
#define FATHOM_IMAGE_MAX_FILE_BYTES ((uint64_t)1 << 30)

/* TOO_LARGE when w*h exceeds max_pixels (0 = none) or the RGB buffer exceeds the hard cap;
 * FORMAT for non-positive dimensions. */
fathom_status fathom_image_check_dims(const char *name, int64_t w, int64_t h, uint64_t max_pixels);
/* Allocate out->rgb for w x h RGB8 (stride 3*w) and set the size fields. */
fathom_status fathom_image_alloc(const char *name, int w, int h, fathom_image *out);

fathom_status fathom_jpeg_decode(const uint8_t *data, size_t size, const char *name,
                                 uint64_t max_pixels, fathom_image *out);
fathom_status fathom_png_decode(const uint8_t *data, size_t size, const char *name,
                                uint64_t max_pixels, fathom_image *out);
fathom_status fathom_webp_decode(const uint8_t *data, size_t size, const char *name,
                                 uint64_t max_pixels, fathom_image *out);
/* Reason a TIFF cannot be decoded (float or wide integer samples), or NULL (tiff_probe.c). */
const char *fathom_tiff_unsupported(const uint8_t *data, size_t size);
fathom_status fathom_ffimage_decode(const uint8_t *data, size_t size, const char *name,
                                    uint64_t max_pixels, fathom_image *out);

/* EXIF orientation (1..8) from an APP1 payload starting at "Exif\0\0"; 1 when absent or
 * unreadable (a broken EXIF block never fails the image, as with cv2.imread). */
int fathom_exif_orientation(const uint8_t *app1, size_t size);
/* Apply EXIF orientation o (2..8) to img in place (re-allocates when the image transposes),
 * with the transforms cv2.imread uses. */
fathom_status fathom_image_orient(fathom_image *img, int o, const char *name);

/* ---- depth writers (fathom_depth_write validates the arguments and dispatches) ---- */

/* The .npy v1.0 header of a float32 (h, w) C-order array; returns its length (a multiple of
 * 64) written into hdr[128]. */
size_t fathom_npy_header(char hdr[128], int h, int w);
fathom_status fathom_write_npy(const char *path, const float *depth, int h, int w);
fathom_status fathom_write_npz(const char *path, const float *depth, int h, int w);
/* The same, plus focallength_px (float64) and fov_deg (float32) arrays when opts->has_focal. */
fathom_status fathom_write_npz_opts(const char *path, const float *depth, int h, int w,
                                    const fathom_write_opts *opts);
/* png16, png8 and color (one of FATHOM_OUT_PNG16/PNG8/COLOR). */
fathom_status fathom_write_png(const char *path, fathom_output_format fmt, const float *depth,
                               int h, int w, const fathom_write_opts *opts);
/* EXR string attributes: "units" (from opts->metric) and "software". */
fathom_status fathom_write_exr(const char *path, const float *depth, int h, int w,
                               const fathom_write_opts *opts);

#endif
