/* exif_find.h - where an image file keeps its EXIF (exif_find.c). */
#ifndef FATHOM_MEDIA_EXIF_FIND_H
#define FATHOM_MEDIA_EXIF_FIND_H

#include <stddef.h>
#include <stdint.h>

/* The EXIF blob (starting at its TIFF header, "II*\0" or "MM\0*") in an image file's bytes:
 * a JPEG's APP1 "Exif" segment, a PNG's eXIf chunk, a WebP's EXIF chunk, or a TIFF file
 * itself. Points into data; NULL (and *len 0) when the container has none or is cut short. */
const uint8_t *fathom_exif_find(const uint8_t *data, size_t size, size_t *len);

#endif
