/* file_hash.c - the sha256 of a weight file (OpenSSL EVP). */
#include "core/file_hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>

void fathom_file_sha256(const char *path, char hex[65]) {
    hex[0] = '\0';
    char file[4200];
    struct stat st;
    if (stat(path, &st) != 0) return;
    snprintf(file, sizeof file, S_ISDIR(st.st_mode) ? "%s/model.safetensors" : "%s", path);
    FILE *f = fopen(file, "rb");
    if (!f) return;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], md[32];
    unsigned mdlen = 0;
    size_t n;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    if (ok)
        for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    fclose(f);
}
