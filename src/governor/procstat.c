/* procstat.c - machine CPU load (/proc/stat), own CPU time (/proc/self/stat) and RSS
 * (/proc/self/statm). Files are read whole into a stack buffer; parsers reject anything
 * malformed instead of guessing. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "governor/sensor.h"

/* Reads up to cap-1 bytes, NUL-terminated. Returns bytes read or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Parse an unsigned decimal at *p (after spaces); advances *p. */
static int next_u64(const char **p, uint64_t *v) {
    const char *s = *p;
    while (*s == ' ' || *s == '\t') s++;
    if (!isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno == ERANGE) return -1;
    *v = x;
    *p = end;
    return 0;
}

int gov_parse_proc_stat(const char *text, uint64_t *busy, uint64_t *total) {
    if (strncmp(text, "cpu ", 4) != 0) return -1;
    const char *p = text + 4;
    uint64_t f[8] = {0}; /* user nice system idle iowait irq softirq steal */
    int n = 0;
    while (n < 8 && next_u64(&p, &f[n]) == 0) n++;
    if (n < 4) return -1; /* very old kernels give 4 fields */
    uint64_t t = 0;
    for (int i = 0; i < n; i++) {
        if (t + f[i] < t) return -1;
        t += f[i];
    }
    uint64_t idle = f[3] + f[4];
    *busy = t - idle;
    *total = t;
    return 0;
}

int gov_parse_self_stat(const char *text, double ticks_per_s, double *cpu_s) {
    /* "pid (comm) state ppid ..." - comm may hold spaces and ')': skip to the last ')' */
    const char *p = strrchr(text, ')');
    if (!p || ticks_per_s <= 0) return -1;
    p++;
    /* fields after comm: 3 state, 4..13, 14 utime, 15 stime */
    while (*p == ' ') p++;
    if (!*p || isspace((unsigned char)*p)) return -1;
    p++; /* state char */
    uint64_t v = 0, ut = 0, st = 0;
    for (int field = 4; field <= 15; field++) {
        while (*p == ' ') p++;
        if (field <= 13 && *p == '-') p++; /* tpgid is -1 without a controlling terminal */
        if (next_u64(&p, &v) != 0) return -1;
        if (field == 14) ut = v;
        if (field == 15) st = v;
    }
    *cpu_s = (double)(ut + st) / ticks_per_s;
    return 0;
}

int gov_parse_statm(const char *text, long page_bytes, size_t *rss) {
    const char *p = text;
    uint64_t size, res;
    if (page_bytes <= 0 || next_u64(&p, &size) != 0 || next_u64(&p, &res) != 0) return -1;
    if (res > SIZE_MAX / (uint64_t)page_bytes) return -1;
    *rss = (size_t)(res * (uint64_t)page_bytes);
    return 0;
}

int gov_proc_read(gov_proc_reading *out) {
    char buf[4096];
    int ok = 0;
    if (read_small("/proc/stat", buf, sizeof buf) > 0 &&
        gov_parse_proc_stat(buf, &out->cpu_busy, &out->cpu_total) == 0)
        ok++;
    else
        out->cpu_busy = out->cpu_total = 0;
    if (read_small("/proc/self/stat", buf, sizeof buf) > 0 &&
        gov_parse_self_stat(buf, (double)sysconf(_SC_CLK_TCK), &out->self_cpu_s) == 0)
        ok++;
    else
        out->self_cpu_s = 0;
    if (read_small("/proc/self/statm", buf, sizeof buf) > 0 &&
        gov_parse_statm(buf, sysconf(_SC_PAGESIZE), &out->rss_bytes) == 0)
        ok++;
    else
        out->rss_bytes = 0;
    return ok > 0 ? 0 : -1;
}
