/* write_npy.c - raw float32 .npy (format 1.0, little-endian, C order), streamed to disk. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "media/atomic_file.h"
#include "media/image.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy writer assumes a little-endian host");

size_t fathom_npy_header(char hdr[128], int h, int w) {
    /* magic, version 1.0, uint16 header length, dict padded with spaces to 64, newline */
    char dict[96];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }",
                     h, w);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)(hlen & 0xFF);
    hdr[9] = (char)(hlen >> 8);
    memcpy(hdr + 10, dict, (size_t)n);
    memset(hdr + 10 + n, ' ', total - 10 - (size_t)n - 1);
    hdr[total - 1] = '\n';
    return total;
}

fathom_status fathom_write_npy(const char *path, const float *depth, int h, int w) {
    char hdr[128];
    size_t hn = fathom_npy_header(hdr, h, w);
    fathom_atomic_file f;
    FATHOM_TRY(fathom_atomic_open(&f, path));
    fathom_status s = fathom_atomic_write(&f, hdr, hn);
    if (s == FATHOM_OK) s = fathom_atomic_write(&f, depth, (size_t)h * w * sizeof(float));
    if (s != FATHOM_OK) {
        fathom_atomic_abort(&f);
        return s;
    }
    return fathom_atomic_commit(&f);
}
