/* write_exr.c - raw float32 depth as a scanline OpenEXR (channels "Y" and "Z", equal; ZIP compression,
 * string attributes "units" and "software") with the OpenEXR C API. OpenEXR's bytes go through our write callback into atomic_file, so
 * disk-full and I/O errors map like every other writer's and a failure leaves no file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openexr.h>

#include "core/status.h"
#include "media/atomic_file.h"
#include "media/image.h"

typedef struct exr_sink {
    fathom_atomic_file *file;
    fathom_status status; /* first write failure (its message is already recorded) */
} exr_sink;

static _Thread_local char exr_message[256]; /* last OpenEXR error text on this thread */

static void on_exr_error(exr_const_context_t ctxt, exr_result_t code, const char *msg) {
    (void)ctxt;
    snprintf(exr_message, sizeof exr_message, "%s (%s)", msg ? msg : "",
             exr_get_error_code_as_string(code));
}

static int64_t on_exr_write(exr_const_context_t ctxt, void *user, const void *buf, uint64_t sz,
                            uint64_t offset, exr_stream_error_func_ptr_t error_cb) {
    exr_sink *sink = user;
    fathom_status s = fathom_atomic_pwrite(sink->file, buf, (size_t)sz, offset);
    if (s != FATHOM_OK) {
        if (sink->status == FATHOM_OK) sink->status = s;
        error_cb(ctxt, EXR_ERR_WRITE_IO, "write failed");
        return -1;
    }
    return (int64_t)sz;
}

fathom_status fathom_write_exr(const char *path, const float *depth, int h, int w,
                               const fathom_write_opts *opts) {
    fathom_atomic_file file;
    FATHOM_TRY(fathom_atomic_open(&file, path));
    exr_sink sink = {&file, FATHOM_OK};
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    init.error_handler_fn = on_exr_error;
    init.write_fn = on_exr_write;
    init.user_data = &sink;
    exr_context_t f = NULL; /* owned */
    exr_encode_pipeline_t enc;
    int have_enc = 0, part = 0;
    exr_message[0] = '\0';

    exr_result_t r = exr_start_write(&f, path, EXR_WRITE_FILE_DIRECTLY, &init);
    if (r == EXR_ERR_SUCCESS) r = exr_add_part(f, "depth", EXR_STORAGE_SCANLINE, &part);
    if (r == EXR_ERR_SUCCESS) r = exr_initialize_required_attr_simple(f, part, w, h, EXR_COMPRESSION_ZIP);
    /* "depth.Z" is Nuke's depth layer; "Y" (the same values) makes the file a luminance image
     * that FFmpeg and image viewers open too. FFmpeg 5.1 refuses Y next to a bare "Z"
     * ("uncommon channel combination") but skips a layered channel. */
    if (r == EXR_ERR_SUCCESS) r = exr_add_channel(f, part, "Y", EXR_PIXEL_FLOAT, EXR_PERCEPTUALLY_LINEAR, 1, 1);
    if (r == EXR_ERR_SUCCESS) r = exr_add_channel(f, part, "depth.Z", EXR_PIXEL_FLOAT, EXR_PERCEPTUALLY_LINEAR, 1, 1);
    char software[48];
    snprintf(software, sizeof software, "fathom %s", fathom_version());
    if (r == EXR_ERR_SUCCESS)
        r = exr_attr_set_string(f, part, "units", opts->metric ? "meters" : "relative-disparity");
    if (r == EXR_ERR_SUCCESS) r = exr_attr_set_string(f, part, "software", software);
    if (r == EXR_ERR_SUCCESS && opts->has_focal) /* Depth Pro */
        r = exr_attr_set_double(f, part, "focal_px", opts->focal_px);
    if (r == EXR_ERR_SUCCESS && opts->has_focal) r = exr_attr_set_double(f, part, "fov_deg", opts->fov_deg);
    if (r == EXR_ERR_SUCCESS) r = exr_write_header(f);
    int32_t lines = 0;
    if (r == EXR_ERR_SUCCESS) r = exr_get_scanlines_per_chunk(f, part, &lines);
    for (int y = 0; r == EXR_ERR_SUCCESS && y < h; y += lines) {
        exr_chunk_info_t cinfo;
        r = exr_write_scanline_chunk_info(f, part, y, &cinfo);
        if (r != EXR_ERR_SUCCESS) break;
        r = have_enc ? exr_encoding_update(f, part, &cinfo, &enc)
                     : exr_encoding_initialize(f, part, &cinfo, &enc);
        if (r != EXR_ERR_SUCCESS) break;
        for (int c = 0; c < enc.channel_count; c++) { /* Y and Z: the same depth rows */
            exr_coding_channel_info_t *ch = &enc.channels[c];
            ch->encode_from_ptr = (const uint8_t *)(depth + (size_t)y * w);
            ch->user_pixel_stride = (int32_t)sizeof(float);
            ch->user_line_stride = (int32_t)(sizeof(float) * (size_t)w);
            ch->user_bytes_per_element = (int16_t)sizeof(float);
            ch->user_data_type = EXR_PIXEL_FLOAT;
        }
        if (!have_enc) r = exr_encoding_choose_default_routines(f, part, &enc);
        have_enc = 1;
        if (r == EXR_ERR_SUCCESS) r = exr_encoding_run(f, part, &enc);
    }
    if (have_enc) exr_encoding_destroy(f, &enc);
    exr_result_t fr = f ? exr_finish(&f) : EXR_ERR_SUCCESS; /* writes the offset table */
    if (r == EXR_ERR_SUCCESS) r = fr;
    if (r != EXR_ERR_SUCCESS || sink.status != FATHOM_OK) {
        fathom_status s = sink.status;
        if (s == FATHOM_OK)
            s = fathom_fail(r == EXR_ERR_OUT_OF_MEMORY ? FATHOM_ERR_NOMEM : FATHOM_ERR_INTERNAL,
                            "%s: EXR encoding failed: %s", path,
                            exr_message[0] ? exr_message : exr_get_error_code_as_string(r));
        fathom_atomic_abort(&file);
        return s;
    }
    return fathom_atomic_commit(&file);
}
