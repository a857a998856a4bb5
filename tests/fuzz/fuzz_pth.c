/* fuzz_pth.c - libFuzzer target for PyTorch checkpoints.
 *
 * Input starting with "PK": a whole .pth through libzip's buffer source, the pickle, the
 * storage checks, mapping and conversion. Anything else: the bytes as data.pkl, straight into
 * the pickle interpreter (mutating inside a zip rarely survives its CRCs). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/config.h"
#include "model/pickle.h"
#include "model/pth.h"
#include "model/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fathom_status s;
    if (fathom_pth_sniff(data, size)) {
        fathom_config cfg = {.has_heads = 1, .heads = 2, .has_out_indices = 1, .out_indices = {0, 1, 2, 3}};
        fathom_tensor_set set;
        fathom_weights *w = NULL;
        s = fathom_pth_open_memory(data, size, "fuzz.pth", &set);
        if (s == FATHOM_OK) {
            s = fathom_weights_map(&set, &cfg, NULL, &w);
            fathom_tensor_set_close(&set);
        }
        fathom_weights_free(&w);
    } else {
        fathom_pkl_tensor *t = NULL;
        size_t n = 0;
        s = fathom_pkl_state_dict(data, size, "fuzz.pkl", &t, &n);
        fathom_pkl_free(t, n);
    }
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "%s: %s\n", fathom_strerror(s), s ? fathom_last_error() : "");
    return 0;
}
