/* write_readback.h - test-only helpers to read written depth files back with independent
 * readers: libspng (PNG pixels + text chunks), the OpenEXR C API, python3 + numpy. */
#ifndef FATHOM_TEST_WRITE_READBACK_H
#define FATHOM_TEST_WRITE_READBACK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openexr.h>
#include <spng.h>

typedef struct png_back {
    struct spng_ihdr ihdr;
    void *px;          /* owned: samples in host order (uint8 or uint16), channels interleaved */
    size_t px_len;
    char text[8][2][128]; /* keyword, value */
    int n_text;
} png_back;

static inline int png_read_back(const char *path, png_back *b) {
    memset(b, 0, sizeof *b);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    spng_ctx *ctx = spng_ctx_new(0);
    spng_set_png_file(ctx, f);
    int r = spng_get_ihdr(ctx, &b->ihdr);
    if (!r) r = spng_decoded_image_size(ctx, SPNG_FMT_PNG, &b->px_len);
    if (!r) {
        b->px = malloc(b->px_len);
        r = spng_decode_image(ctx, b->px, b->px_len, SPNG_FMT_PNG, 0);
    }
    if (!r) r = spng_decode_chunks(ctx);
    uint32_t n = 0;
    if (!r && spng_get_text(ctx, NULL, &n) == 0 && n > 0 && n <= 8) {
        struct spng_text t[8];
        spng_get_text(ctx, t, &n);
        for (uint32_t i = 0; i < n; i++) {
            snprintf(b->text[i][0], 128, "%.79s", t[i].keyword);
            snprintf(b->text[i][1], 128, "%.*s", (int)t[i].length, t[i].text);
        }
        b->n_text = (int)n;
    }
    spng_ctx_free(ctx);
    fclose(f);
    return r;
}

static inline const char *png_text(const png_back *b, const char *key) {
    for (int i = 0; i < b->n_text; i++)
        if (strcmp(b->text[i][0], key) == 0) return b->text[i][1];
    return NULL;
}

/* Read fathom's float EXR (channels "Y" and "depth.Z", which must hold the same values):
 * returns malloc'd (h, w) floats of the depth channel or NULL; fills the depth channel's
 * name, compression, size and the "units" string attribute ("" when absent). */
static inline float *exr_read_back(const char *path, int *h, int *w, char chan[16], int *compression,
                                   char units[32]) {
    exr_context_t f = NULL;
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    if (exr_start_read(&f, path, &init) != EXR_ERR_SUCCESS) return NULL;
    float *out = NULL;
    const exr_attr_chlist_t *ch = NULL;
    exr_attr_box2i_t dw;
    exr_storage_t st;
    exr_compression_t comp;
    int32_t lines = 0;
    if (exr_get_channels(f, 0, &ch) || ch->num_channels != 2 || strcmp(ch->entries[0].name.str, "Y") ||
        ch->entries[0].pixel_type != EXR_PIXEL_FLOAT || ch->entries[1].pixel_type != EXR_PIXEL_FLOAT ||
        exr_get_data_window(f, 0, &dw) || exr_get_storage(f, 0, &st) || st != EXR_STORAGE_SCANLINE ||
        exr_get_compression(f, 0, &comp) || exr_get_scanlines_per_chunk(f, 0, &lines))
        goto done;
    snprintf(chan, 16, "%s", ch->entries[1].name.str);
    const char *u = NULL;
    int32_t ulen = 0;
    units[0] = '\0';
    if (exr_attr_get_string(f, 0, "units", &ulen, &u) == EXR_ERR_SUCCESS && u) snprintf(units, 32, "%.*s", (int)ulen, u);
    *compression = (int)comp;
    *w = dw.max.x - dw.min.x + 1;
    *h = dw.max.y - dw.min.y + 1;
    out = calloc((size_t)*w * *h, sizeof *out);
    float *luma = calloc((size_t)*w * *h, sizeof *luma); /* the "Y" copy, compared at the end */
    exr_decode_pipeline_t dec = EXR_DECODE_PIPELINE_INITIALIZER;
    int inited = 0;
    if (!out || !luma) goto fail;
    for (int y = dw.min.y; y <= dw.max.y; y += lines) {
        exr_chunk_info_t ci;
        if (exr_read_scanline_chunk_info(f, 0, y, &ci)) goto fail;
        if (inited ? exr_decoding_update(f, 0, &ci, &dec) : exr_decoding_initialize(f, 0, &ci, &dec)) goto fail;
        for (int c = 0; c < 2; c++) {
            dec.channels[c].decode_to_ptr = (uint8_t *)((c ? out : luma) + (size_t)(y - dw.min.y) * *w);
            dec.channels[c].user_pixel_stride = 4;
            dec.channels[c].user_line_stride = 4 * *w;
            dec.channels[c].user_bytes_per_element = 4;
            dec.channels[c].user_data_type = EXR_PIXEL_FLOAT;
        }
        if (!inited && exr_decoding_choose_default_routines(f, 0, &dec)) goto fail;
        inited = 1;
        if (exr_decoding_run(f, 0, &dec)) goto fail;
    }
    if (inited) exr_decoding_destroy(f, &dec);
    if (memcmp(out, luma, (size_t)*w * *h * sizeof *out) != 0) goto fail_nodec;
    free(luma);
    goto done;
fail:
    if (inited) exr_decoding_destroy(f, &dec);
fail_nodec:
    free(out);
    free(luma);
    out = NULL;
done:
    exr_finish(&f);
    return out;
}

/* A python3 that has numpy ("python3" first, then Debian's), or NULL. */
static inline const char *numpy_python(void) {
    static const char *cands[] = {"python3", "/usr/bin/python3"};
    for (int i = 0; i < 2; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

/* Run python code (argv[1..] = args) with numpy; returns the exit status. */
static inline int run_python(const char *py, const char *code, const char *a1, const char *a2) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s -c \"%s\" '%s' '%s'", py, code, a1, a2 ? a2 : "");
    return system(cmd);
}

#endif
