/* shard.c - `--shard K/N` (see shard.h). */
#include "cluster/shard.h"

#include <errno.h>
#include <stdlib.h>

#include "core/status.h"

fathom_status fathom_shard_parse(const char *s, int *index, int *count) {
    char *end;
    errno = 0;
    long k = strtol(s, &end, 10);
    if (errno || end == s || *end != '/')
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "shard '%s' is not K/N (e.g. 2/8)", s);
    const char *ns = end + 1;
    long n = strtol(ns, &end, 10);
    if (errno || end == ns || *end)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "shard '%s' is not K/N (e.g. 2/8)", s);
    if (n < 1 || n > 1000000 || k < 1 || k > n)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "shard K/N %s: need 1 <= K <= N <= 1000000", s);
    *index = (int)(k - 1);
    *count = (int)n;
    return FATHOM_OK;
}

int fathom_shard_takes(uint64_t pos, int index, int count) {
    return count <= 1 || pos % (uint64_t)count == (uint64_t)index;
}

int64_t fathom_shard_total(int64_t total, int index, int count) {
    if (total < 0 || count <= 1) return total;
    return total > index ? (total - index + count - 1) / count : 0;
}
