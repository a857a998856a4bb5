/* test_util.c - see test_util.h */
#define _GNU_SOURCE
#include "test_util.h"

#include <ftw.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tu_golden_dir(void) {
    const char *g = getenv("FATHOM_GOLDEN");
    if (!g || access(g, R_OK) != 0) {
        printf("SKIP: golden data not found (FATHOM_GOLDEN=%s): ../shared/golden beside the "
               "checkout, or tests/data/golden in it, holds it\n", g ? g : "(unset)");
        exit(77);
    }
    return g;
}

const char *tu_golden_file(const char *rel) {
    const char *p = tu_path(tu_golden_dir(), rel);
    if (access(p, R_OK) == 0) return p;
    printf("SKIP: %s not in this copy of the golden data (%s; the full set is ../shared/golden)\n",
           rel, tu_golden_dir());
    return NULL;
}

const char *tu_path(const char *a, const char *b) {
    static char buf[8][4096];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 4096, "%s/%s", a, b);
    return p;
}

char *tu_mkdtemp(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/fathom-test-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpl)) return NULL;
    return strdup(tmpl);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

void tu_rmtree(const char *dir) {
    if (dir) nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

float *tu_load_npy(const char *path, int64_t shape[8], int *ndim, size_t *count) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return NULL; }
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) { fclose(f); return NULL; }
    size_t hlen = pre[8] | (pre[9] << 8);
    if (pre[6] >= 2) { /* v2/v3: 4-byte header length */
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2) { fclose(f); return NULL; }
        hlen = hlen | ((size_t)more[0] << 16) | ((size_t)more[1] << 24);
    }
    char *hdr = calloc(1, hlen + 1);
    if (fread(hdr, 1, hlen, f) != hlen || !strstr(hdr, "'<f4'") || strstr(hdr, "'fortran_order': True")) {
        fprintf(stderr, "%s: not a little-endian float32 C-order npy\n", path);
        free(hdr); fclose(f); return NULL;
    }
    char *s = strstr(hdr, "'shape': (");
    int nd = 0; size_t n = 1;
    if (s) {
        s += 10;
        while (*s && *s != ')') {
            while (*s == ' ' || *s == ',') s++;
            if (*s == ')') break;
            long long v = strtoll(s, &s, 10);
            if (nd < 8) shape[nd++] = v;
            n *= (size_t)v;
        }
    }
    free(hdr);
    float *data = malloc(n * sizeof(float) + 1);
    if (fread(data, sizeof(float), n, f) != n) { free(data); fclose(f); return NULL; }
    fclose(f);
    *ndim = nd;
    if (count) *count = n;
    return data;
}

int tu_save_npy(const char *path, const float *data, const int64_t *shape, int ndim) {
    char hdr[256], sh[128] = "";
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        char t[32];
        snprintf(t, sizeof t, "%lld%s", (long long)shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        strcat(sh, t);
        n *= (size_t)shape[i];
    }
    int len = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", sh);
    int total = ((10 + len + 1 + 63) / 64) * 64;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    int hl = total - 10;
    pre[8] = hl & 0xff; pre[9] = hl >> 8;
    fwrite(pre, 1, 10, f);
    fwrite(hdr, 1, len, f);
    for (int i = 10 + len; i < total - 1; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, sizeof(float), n, f);
    return fclose(f);
}

tu_diff tu_compare(const float *out, const float *ref, size_t n) {
    tu_diff d = {0};
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) { d.nonfinite++; continue; }
        double e = fabs((double)out[i] - (double)ref[i]);
        if (e > d.max_abs) { d.max_abs = e; d.worst = i; }
        if (fabs(ref[i]) > d.max_ref) d.max_ref = fabs(ref[i]);
        ss += e * e;
    }
    double denom = d.max_ref > 0 ? d.max_ref : 1.0;
    d.rms = n ? sqrt(ss / n) / denom : 0;
    d.max_rel = d.max_abs / denom;
    return d;
}

int tu_check(const char *name, const float *out, const float *ref, size_t n, double max_rel_tol,
             double rms_rel_tol) {
    tu_diff d = tu_compare(out, ref, n);
    int ok = d.nonfinite == 0 && d.max_rel <= max_rel_tol && (rms_rel_tol < 0 || d.rms <= rms_rel_tol);
    printf("%-24s n=%-9zu max|d|=%.3e max|ref|=%.3e rel=%.3e (tol %.1e) rms=%.3e (tol %.1e)%s  %s\n",
           name, n, d.max_abs, d.max_ref, d.max_rel, max_rel_tol, d.rms, rms_rel_tol,
           d.nonfinite ? "  NON-FINITE" : "", ok ? "OK" : "FAIL");
    if (!ok) printf("  worst at index %zu: out %.7g ref %.7g\n", d.worst, out[d.worst], ref[d.worst]);
    return ok;
}

void tu_fill_random(float *x, size_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        x[i] = scale * (float)((double)(s >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
    }
}

void tu_skip(const char *why) {
    printf("SKIP: %s\n", why);
    fflush(stdout);
    exit(77);
}

float *tu_random_alloc(size_t n, uint64_t seed, float scale) {
    float *x = malloc(n * sizeof *x + 1);
    if (x) tu_fill_random(x, n, seed, scale);
    return x;
}

int tu_sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}
