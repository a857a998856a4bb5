/* fuzz_safetensors.c - libFuzzer target: bytes -> safetensors reader -> name mapping -> arena.
 *
 * The architecture the seeds need beyond their shapes (2 heads, out_indices 1..4) is passed
 * as a config.json would; every other field is inferred, so mutated shapes reach every check. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/config.h"
#include "model/safetensors.h"
#include "model/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fathom_config cfg = {.has_heads = 1, .heads = 2, .has_out_indices = 1, .out_indices = {0, 1, 2, 3}};
    fathom_tensor_set set;
    fathom_weights *w = NULL;
    fathom_status s = fathom_st_open_memory(data, size, "fuzz.safetensors", &set);
    if (s == FATHOM_OK) {
        s = fathom_weights_map(&set, &cfg, NULL, &w);
        fathom_tensor_set_close(&set);
    }
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "%s: %s\n", fathom_strerror(s), s ? fathom_last_error() : "");
    fathom_weights_free(&w);
    return 0;
}
