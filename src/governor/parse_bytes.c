/* parse_bytes.c - "4G", "512M", "1.5GiB" -> bytes, for --gpu-mem-limit and friends. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"

fathom_status fathom_parse_bytes(const char *text, size_t *out) {
    if (!text || !out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "byte size: no text");
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return fathom_fail(FATHOM_ERR_INVALID_ARG,
                           "byte size '%s': expected a number such as 4G, 512M or 1048576", text);
    char *end = NULL;
    double v = strtod(p, &end);
    /* plain decimal only: strtod would also take hex, exponents, "inf" */
    if (end == p || (size_t)(end - p) != strspn(p, "0123456789.") || !isfinite(v) || v < 0)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "byte size '%s': not a number", text);
    double mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1024.0; end++; break;
    case 'M': mul = 1024.0 * 1024; end++; break;
    case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    /* optional "B" or (after a unit) "iB" */
    if (mul > 1 && (end[0] == 'i' || end[0] == 'I') && toupper((unsigned char)end[1]) == 'B')
        end += 2;
    else if (toupper((unsigned char)*end) == 'B')
        end++;
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0')
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "byte size '%s': unknown unit '%s' (use K, M, G or T)",
                           text, end);
    double bytes = floor(v * mul);
    if (bytes >= 18446744073709551615.0 || bytes >= (double)SIZE_MAX)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "byte size '%s': too large", text);
    *out = (size_t)bytes;
    return FATHOM_OK;
}
