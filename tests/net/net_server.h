/* net_server.h - start/stop tests/tools/http_server.py for the network tests (header-only:
 * each tests/net/test_*.c is its own program). Loopback only; the server exits by itself after
 * its lifetime, so a crashed test leaves nothing running for long. */
#ifndef FATHOM_TESTS_NET_SERVER_H
#define FATHOM_TESTS_NET_SERVER_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

typedef struct net_server {
    pid_t pid;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
} net_server;

/* Start the server serving root at / and hub_dir as the fake hub (either may be NULL).
 * Skips the test (77) when python3 or the script is missing; returns 0 on success. */
static inline int net_server_start(net_server *s, const char *root, const char *hub_dir) {
    memset(s, 0, sizeof *s);
    const char *src = getenv("FATHOM_SRC");
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/tools/http_server.py", src ? src : ".");
    if (access(script, R_OK) != 0) tu_skip("tests/tools/http_server.py not found (FATHOM_SRC)");
    if (system("python3 -c '' >/dev/null 2>&1") != 0) tu_skip("python3 not available");
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[10];
        int n = 0;
        argv[n++] = "python3";
        argv[n++] = script;
        argv[n++] = "--lifetime";
        argv[n++] = "240";
        if (root) { argv[n++] = "--root"; argv[n++] = root; }
        if (hub_dir) { argv[n++] = "--hub-dir"; argv[n++] = hub_dir; }
        argv[n] = NULL;
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[32] = "";
    size_t len = 0;
    while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 20000) <= 0) break;
        ssize_t r = read(fds[0], line + len, sizeof line - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        line[len] = '\0';
    }
    close(fds[0]);
    s->pid = pid;
    s->port = atoi(line);
    if (s->port <= 0) {
        fprintf(stderr, "http_server.py did not report a port (got '%s')\n", line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        s->pid = 0;
        return -1;
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    return 0;
}

static inline void net_server_stop(net_server *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}

/* Read a whole file (malloc'd, caller frees); NULL on failure. */
static inline unsigned char *net_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static inline int net_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static inline int net_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

#endif
