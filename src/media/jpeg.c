/* jpeg.c - JPEG decoding with libjpeg-turbo, as cv2.imread(IMREAD_COLOR) does it:
 * grey and YCbCr come out as RGB, CMYK/YCCK (Adobe, inverted) is converted the OpenCV way,
 * and the EXIF orientation of the APP1 segment is applied.
 * libjpeg reports errors through error_exit, which would exit(): ours longjmps back, and
 * output_message is silenced so the library never prints. A truncated or corrupt stream
 * (libjpeg only warns "Corrupt JPEG data: ..." and pads with grey) is an error here. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "core/alloc.h"
#include "core/status.h"
#include "media/image.h"

/* A progressive JPEG of a few KB can hold thousands of scans and take minutes to decode. */
#define JPEG_MAX_SCANS 1000

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error_exit(j_common_ptr ci) {
    jpeg_err *e = (jpeg_err *)ci->err;
    e->pub.format_message(ci, e->msg);
    longjmp(e->jump, 1);
}

static void on_output_message(j_common_ptr ci) { (void)ci; }

static void on_emit_message(j_common_ptr ci, int level) {
    jpeg_err *e = (jpeg_err *)ci->err;
    if (level >= 0) return; /* trace messages */
    e->pub.num_warnings++;
    /* truncated or corrupt entropy data: fail, do not pad with grey (a JPEG cut short that
     * still ends in FF D9 gives "premature end of data segment", not EOF) */
    switch (e->pub.msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_EXTRANEOUS_DATA:
        e->pub.format_message(ci, e->msg);
        longjmp(e->jump, 1);
    default: break;
    }
}

typedef struct scan_guard {
    struct jpeg_progress_mgr pub;
    jpeg_err *err;
} scan_guard;

static void on_progress(j_common_ptr ci) {
    j_decompress_ptr d = (j_decompress_ptr)ci;
    if (d->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
        scan_guard *g = (scan_guard *)ci->progress;
        snprintf(g->err->msg, sizeof g->err->msg, "more than %d progressive scans", JPEG_MAX_SCANS);
        longjmp(g->err->jump, 1);
    }
}

/* OpenCV icvCvt_CMYK2BGR_8u_C4C3R: Adobe CMYK is stored inverted. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int w) {
    for (int x = 0; x < w; x++, cmyk += 4, rgb += 3) {
        int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
        rgb[0] = (uint8_t)(k - ((255 - c) * k >> 8));
        rgb[1] = (uint8_t)(k - ((255 - m) * k >> 8));
        rgb[2] = (uint8_t)(k - ((255 - y) * k >> 8));
    }
}

static int find_orientation(j_decompress_ptr d) {
    for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
            return fathom_exif_orientation(m->data, m->data_length);
    return 1;
}

fathom_status fathom_jpeg_decode(const uint8_t *data, size_t size, const char *name,
                                 uint64_t max_pixels, fathom_image *out) {
    struct jpeg_decompress_struct d;
    jpeg_err err;
    scan_guard guard;
    /* volatile: modified between setjmp and longjmp */
    uint8_t *volatile row = NULL; /* owned: one CMYK row */
    volatile fathom_status s = FATHOM_OK;
    volatile int orientation = 1;

    memset(&d, 0, sizeof d);
    d.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.output_message = on_output_message;
    err.pub.emit_message = on_emit_message;
    err.msg[0] = '\0';
    if (setjmp(err.jump)) {
        /* out->rgb may already be allocated: fathom_image_decode frees it */
        if (s == FATHOM_OK) s = fathom_fail(FATHOM_ERR_FORMAT, "%s: corrupt JPEG: %s", name, err.msg);
        goto done;
    }
    jpeg_create_decompress(&d);
    guard.pub.progress_monitor = on_progress;
    guard.err = &err;
    d.progress = &guard.pub;
    jpeg_mem_src(&d, data, (unsigned long)size);
    jpeg_save_markers(&d, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&d, TRUE);

    s = fathom_image_check_dims(name, d.image_width, d.image_height, max_pixels);
    if (s != FATHOM_OK) goto done;
    int cmyk = d.num_components == 4;
    d.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    orientation = find_orientation(&d);
    jpeg_start_decompress(&d);
    s = fathom_image_alloc(name, (int)d.output_width, (int)d.output_height, out);
    if (s != FATHOM_OK) goto done;
    out->src_bits = 8;
    out->src_channels = d.num_components;
    if (cmyk) {
        row = malloc((size_t)d.output_width * 4);
        if (!row) {
            s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate a JPEG row", name);
            goto done;
        }
    }
    while (d.output_scanline < d.output_height) {
        uint8_t *dst = out->rgb + (size_t)d.output_scanline * out->stride;
        JSAMPROW rows[1] = {cmyk ? row : dst};
        if (jpeg_read_scanlines(&d, rows, 1) != 1) {
            s = fathom_fail(FATHOM_ERR_FORMAT, "%s: corrupt JPEG: no data at row %u", name,
                            d.output_scanline);
            goto done;
        }
        if (cmyk) cmyk_to_rgb(row, dst, (int)d.output_width);
    }
    jpeg_finish_decompress(&d);
    if (orientation != 1) s = fathom_image_orient(out, orientation, name);
done:
    jpeg_destroy_decompress(&d);
    free(row);
    return s;
}
