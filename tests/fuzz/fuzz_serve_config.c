/* fuzz_serve_config.c - libFuzzer target for the `fathom serve` control parsers: the same
 * bytes as a PATCH /v1/config / WebSocket control body (JSON) and as the YAML config file.
 * Whatever is accepted must round-trip: its YAML rendering loads back to the same settings. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[400];
    sv_config a, b;
    sv_config_defaults(&a);
    if (sv_config_patch_json(&a, (const char *)data, size, err, sizeof err) != 0) sv_config_defaults(&a);
    sv_config_defaults(&b);
    if (sv_config_load_yaml(&b, (const char *)data, size, err, sizeof err) == 0) a = b;
    char *y = sv_config_to_yaml(&a);
    if (y) {
        sv_config c;
        sv_config_defaults(&c);
        if (sv_config_load_yaml(&c, y, strlen(y), err, sizeof err) != 0) abort();
        char *ja = sv_config_to_json(&a), *jc = sv_config_to_json(&c);
        if (ja && jc && strcmp(ja, jc) != 0) abort();
        free(ja);
        free(jc);
    }
    free(y);
    char *j = sv_config_to_json(&a);
    free(j);
    return 0;
}
