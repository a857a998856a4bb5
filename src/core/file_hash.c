/* file_hash.c - the sha256 of a file (OpenSSL EVP): downloads (hub.c) and weight files. */
#include "core/file_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SHA-256 of a file as 64 lowercase hex digits. */
fathom_status fathom_sha256_file(const char *path, char hex[65]) {
    fathom_status st = FATHOM_OK;
    enum { BUF = 1 << 20 };
    unsigned char *buf = malloc(BUF); /* owned */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new(); /* owned */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!buf || !ctx) {
        st = fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory for SHA-256", path);
        goto done;
    }
    if (fd < 0) {
        int e = errno;
        st = fathom_fail(fathom_status_from_errno(e), "%s: cannot open: %s", path, strerror(e));
        goto done;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        st = fathom_fail(FATHOM_ERR_INTERNAL, "%s: SHA-256 init failed", path);
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, buf, BUF);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            st = fathom_fail(fathom_status_from_errno(e), "%s: read failed: %s", path, strerror(e));
            goto done;
        }
        if (r == 0) break;
        EVP_DigestUpdate(ctx, buf, (size_t)r);
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
done:
    if (fd >= 0) close(fd);
    EVP_MD_CTX_free(ctx);
    free(buf);
    return st;
}

void fathom_file_sha256(const char *path, char hex[65]) {
    hex[0] = '\0';
    char file[4200];
    struct stat st;
    if (stat(path, &st) != 0) return;
    snprintf(file, sizeof file, S_ISDIR(st.st_mode) ? "%s/model.safetensors" : "%s", path);
    if (fathom_sha256_file(file, hex) != FATHOM_OK) hex[0] = '\0';
}
