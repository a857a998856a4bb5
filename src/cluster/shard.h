/* shard.h - `--shard K/N`: a deterministic 1/N of a run's inputs, for job arrays.
 *
 * Inputs are enumerated in the run's own deterministic order (arguments in order, folders
 * sorted, lists by line); shard K of N (1-based K) takes positions p with p % N == K-1. Every
 * shard still names every input (pipeline/naming.h), so output names, duplicate detection and
 * report indexes equal those of a single unsharded run, and the N shards together produce each
 * output exactly once. Round-robin rather than a hash: shard sizes differ by at most one. */
#ifndef FATHOM_CLUSTER_SHARD_H
#define FATHOM_CLUSTER_SHARD_H

#include <stdint.h>

#include "fathom.h"

/* Parse "K/N" (1 <= K <= N <= 1000000) into 0-based *index and *count. Errors say why. */
fathom_status fathom_shard_parse(const char *s, int *index, int *count);
/* Whether position pos belongs to shard index of count (count <= 1: every position). */
int fathom_shard_takes(uint64_t pos, int index, int count);
/* Items of shard index among the first total positions (total < 0: unknown, -1). */
int64_t fathom_shard_total(int64_t total, int index, int count);

#endif
