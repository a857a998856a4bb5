/* serve_status.h - for the serve C tests: their server parameters, frames analysed so far
 * (GET /v1/status on 127.0.0.1:port over a plain socket; -1 when it does not answer) and a raw
 * WebSocket client. Header-only. */
#ifndef FATHOM_TEST_SERVE_STATUS_H
#define FATHOM_TEST_SERVE_STATUS_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fathom.h"

/* Model m with settings c, one engine thread, a free port, nothing downloaded. */
static inline fathom_serve_params serve_test_params(fathom_model *m, fathom_serve_config *c) {
    fathom_serve_params p = fathom_serve_default_params();
    p.model = m;
    p.engine.threads = 1;
    p.port = 0;
    p.config = c;
    p.offline = 1;
    return p;
}

static inline long long serve_analysed(int port) {
    static _Thread_local char buf[1 << 16];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t n = 0;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        const char req[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
            ssize_t r;
            while (n + 1 < sizeof buf && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
        }
    }
    if (fd >= 0) close(fd);
    buf[n] = '\0';
    const char *p = strstr(buf, "\"analyser\":{\"frames\":");
    return p ? atoll(p + strlen("\"analyser\":{\"frames\":")) : -1;
}

/* A WebSocket client of GET /v1/stream on 127.0.0.1:port: the socket after the 101 answer
 * (the bytes that follow are the server's frames), or -1. */
static inline int serve_ws_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char req[] = "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n";
    char head[1024];
    size_t n = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    while (n + 1 < sizeof head && read(fd, head + n, 1) == 1) { /* byte by byte: to the blank line */
        head[++n] = '\0';
        if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)) break;
    }
    head[n] = '\0';
    if (!strstr(head, " 101 ")) {
        close(fd);
        return -1;
    }
    return fd;
}

#endif
