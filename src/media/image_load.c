/* image_load.c - fathom_image_load: read a file into memory (bounded) and decode it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "media/image.h"

fathom_status fathom_image_load(const char *path, uint64_t max_pixels, fathom_image *out) {
    if (!out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_image_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path || !*path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_image_load: no path");
    fathom_status s = FATHOM_OK;
    uint8_t *buf = NULL; /* owned: the whole file */
    /* O_NONBLOCK: opening a FIFO (or a device) never waits for a writer; it is refused below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        s = fathom_fail(FATHOM_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        s = fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: is a directory, not an image", path);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        s = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: not a regular file (%s)", path,
                        S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket"
                        : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "special");
        goto done;
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK); /* a regular file: plain reads */
    if (st.st_size == 0) {
        s = fathom_fail(FATHOM_ERR_FORMAT, "%s: empty file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > FATHOM_IMAGE_MAX_FILE_BYTES) {
        s = fathom_fail(FATHOM_ERR_TOO_LARGE, "%s: file is %lld bytes, over the %llu-byte limit",
                        path, (long long)st.st_size,
                        (unsigned long long)FATHOM_IMAGE_MAX_FILE_BYTES);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size);
    if (!buf) {
        s = fathom_fail(FATHOM_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
        goto done;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            s = fathom_fail(FATHOM_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0) break; /* shrank while reading: decode what is there */
        got += (size_t)n;
    }
    s = fathom_image_decode(buf, got, path, max_pixels, out);
done:
    free(buf);
    close(fd);
    return s;
}
