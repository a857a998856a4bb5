/* atomic_file.h - write a file so that readers see either the old file or the complete new one.
 *
 *   fathom_atomic_file f;
 *   FATHOM_TRY(fathom_atomic_open(&f, "out/frame.png"));   // .frame.png.fathom-tmp-<pid>-<n>
 *   if ((s = fathom_atomic_write(&f, buf, n)) != FATHOM_OK) { fathom_atomic_abort(&f); return s; }
 *   return fathom_atomic_commit(&f);                        // fsync, rename; aborts on failure
 *
 * Every failure unlinks the temporary file and names the final path; ENOSPC/EDQUOT give
 * FATHOM_ERR_DISK_FULL, other errors FATHOM_ERR_IO (or NOT_FOUND for a missing directory). */
#ifndef FATHOM_MEDIA_ATOMIC_FILE_H
#define FATHOM_MEDIA_ATOMIC_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fathom.h"

typedef struct fathom_atomic_file {
    int fd;           /* -1 when closed */
    char *path;       /* owned: final name */
    char *tmp_path;   /* owned: temporary name in the same directory */
} fathom_atomic_file;

fathom_status fathom_atomic_open(fathom_atomic_file *f, const char *path);
/* Append n bytes (retries short writes and EINTR). */
fathom_status fathom_atomic_write(fathom_atomic_file *f, const void *data, size_t n);
/* Write n bytes at offset (for writers that seek back, e.g. OpenEXR offset tables). */
fathom_status fathom_atomic_pwrite(fathom_atomic_file *f, const void *data, size_t n, uint64_t off);
/* fsync, close, rename over the final name. On failure the temp file is removed. Always
 * releases f. */
fathom_status fathom_atomic_commit(fathom_atomic_file *f);
/* Close and unlink the temp file; accepts a released or zeroed file. */
void fathom_atomic_abort(fathom_atomic_file *f);

/* Remove temporaries ".<name>.fathom-tmp-<pid>-<tag>" left by processes that are gone (killed
 * with -9, power loss) in dir and its sub-folders down to `depth` levels (symlinks not
 * followed). The pid is checked with kill(pid, 0) on this machine: an OUTDIR shared by
 * several machines must not be cleaned this way. Returns the number removed. */
size_t fathom_atomic_clean_stale(const char *dir, int depth);

/* Whole buffer to path, atomically. */
fathom_status fathom_atomic_write_file(const char *path, const void *data, size_t n);

/* mkdir -p dir (mode 0777 & ~umask). Existing directories are fine; a file in the way is an
 * error naming it. */
fathom_status fathom_mkdir_p(const char *dir);
/* mkdir -p of the directory part of a file path (nothing when it has none). */
fathom_status fathom_mkdir_parents(const char *file_path);

#endif
