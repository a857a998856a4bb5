/* fuzz_image_decode.c - libFuzzer target: every image decoder (JPEG+EXIF, PNG, WebP, FFmpeg
 * stills) on arbitrary bytes. A small max_pixels keeps each input's work bounded. */
#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fathom_image img = {0};
    if (fathom_image_decode(data, size, "fuzz", 1u << 22, &img) == FATHOM_OK) {
        /* touch every row so an undersized buffer is caught by ASan */
        volatile uint8_t acc = 0;
        for (int y = 0; y < img.height; y++) acc ^= img.rgb[(size_t)y * img.stride + 3 * (size_t)img.width - 1];
        (void)acc;
    }
    fathom_image_free(&img);
    return 0;
}
