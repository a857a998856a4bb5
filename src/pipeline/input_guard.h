/* input_guard.h - an output must never land on an input (docs/pipeline.md, "Data safety").
 *
 * DESIGN
 *   Files are compared by identity (st_dev, st_ino after following symlinks), so symlinks,
 *   "..", "./", hard links and different spellings of one path all count as the same file.
 *   Up front: the output folder may not be an input folder (outputs would mix with inputs and
 *   be read back on the next run); an output folder INSIDE an input folder is fine, the walk
 *   skips it. Per output file: the sink refuses a path that is the item's own input or any
 *   input named on the command line (files, lists), and replaces an existing file only when
 *   OUTDIR's manifest records it as this input's output, so a user's file is never
 *   overwritten whatever the flags. */
#ifndef FATHOM_PIPELINE_INPUT_GUARD_H
#define FATHOM_PIPELINE_INPUT_GUARD_H

#include <sys/stat.h>

#include "fathom.h"

typedef struct fathom_input_ids fathom_input_ids;

/* Identities of the local inputs named (files, lists, folders; URLs and "-" have none).
 * Inputs that do not exist are left out. *out owned by the caller. */
fathom_status fathom_input_ids_collect(const char *const *inputs, int n, fathom_input_ids **out);
/* 1 when st is one of the collected files or folders. ids may be NULL. */
int fathom_input_ids_has(const fathom_input_ids *ids, const struct stat *st);
void fathom_input_ids_free(fathom_input_ids **ids); /* accepts NULL */

/* 1 when `path` exists and is the same file as one of `inputs` (any spelling, symlink or
 * hard link), else 0. For outputs named by the user (e.g. `--video FILE`): call it before
 * creating the output and refuse with a message naming both. */
int fathom_path_is_input(const char *path, const char *const *inputs, int n);

/* Setup check: FATHOM_ERR_INVALID_ARG (message naming both) when `outdir` (existing) is one
 * of the input folders, or when `path` (e.g. the report, may be NULL) is an input. */
fathom_status fathom_outdir_check(const char *outdir, const char *report_path,
                                  const char *const *inputs, int n);

#endif
