/* manifest.h - OUTDIR/.fathom-manifest: which input produced which output.
 *
 * DESIGN
 *   One line per output file, appended before the file is renamed into place (an intent
 *   record: a crash between the line and the rename leaves a line for a missing file, which
 *   --resume simply redoes):
 *       <source id> TAB <output path relative to OUTDIR> LF
 *   The source id is the input's canonical path (fathom_manifest_source_id) or its URL. Bytes '\\', TAB, LF and
 *   CR are written as "\\\\", "\\t", "\\n", "\\r". Later lines win (an output re-recorded for
 *   another input changes owner). Appends are single write() calls on an O_APPEND descriptor,
 *   so concurrent runs in one OUTDIR interleave whole lines.
 *   In memory: output-path hash -> source hash (24 bytes per output), behind a mutex (the
 *   source thread asks while naming, decode workers while checking, write workers record).
 *   Uses: --resume skips an input only when its outputs are recorded for it; the clash rule
 *   treats a name recorded for another input as taken (a growing folder keeps its names);
 *   --overwrite and --resume replace only files recorded here (never a user's file). */
#ifndef FATHOM_PIPELINE_MANIFEST_H
#define FATHOM_PIPELINE_MANIFEST_H

#include <stddef.h>

#include "fathom.h"

#define FATHOM_MANIFEST_NAME ".fathom-manifest"

typedef struct fathom_manifest fathom_manifest;

typedef enum fathom_owner {
    FATHOM_OWNER_NONE = 0, /* no record for this output */
    FATHOM_OWNER_SELF,     /* recorded for this source */
    FATHOM_OWNER_OTHER     /* recorded for another source */
} fathom_owner;

/* Load OUTDIR/.fathom-manifest (when present) and open it for appending (created on the
 * first record). Errors name the file. *out owned by the caller (fathom_manifest_free). */
fathom_status fathom_manifest_open(const char *outdir, fathom_manifest **out);
void fathom_manifest_free(fathom_manifest **m); /* accepts NULL */

/* Owner of output `out_rel` (relative to OUTDIR) with respect to `source_id`. Thread-safe. */
fathom_owner fathom_manifest_owner(fathom_manifest *m, const char *out_rel, const char *source_id);
/* Record that `source_id` produces `out_rel` (no write when already so recorded).
 * Thread-safe. Disk full and I/O errors name the manifest. */
fathom_status fathom_manifest_record(fathom_manifest *m, const char *out_rel, const char *source_id);

/* Canonical id of an input: for local files its folder's realpath + its name (a symlink keeps
 * its own name: a folder of symlinks to one image is that many inputs), else the string. */
void fathom_manifest_source_id(const char *source, char *out, size_t cap);

#endif
