/* test_serve_http_tsan.c - the HTTP front's threads, for TSan: while the worker analyses a
 * looping source, POST /v1/depth and PATCH /v1/config (run as jobs off libmicrohttpd's polling
 * threads, their connections suspended meanwhile), MJPEG streams (suspended between results,
 * resumed by the post stage) and bursts of WebSocket clients (closed from the WebSocket loop)
 * all run at once. Then the worker stops with an MJPEG stream and a POST in flight: it must
 * stop (libmicrohttpd aborts on a suspended connection left at stop), and the stream ends.
 * Public API and plain sockets only. */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "fathom.h"
#include "serve_status.h"
#include "test_util.h"

static int port;
static char *image; /* owned: the PNG POSTed */
static size_t image_len;
static atomic_int failures;

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int send_all(int fd, const void *p, size_t n) {
    for (size_t o = 0; o < n;) {
        ssize_t k = send(fd, (const char *)p + o, n - o, MSG_NOSIGNAL); /* the server may be gone */
        if (k <= 0) return -1;
        o += (size_t)k;
    }
    return 0;
}

/* One request with Connection: close; the status code (-1: no answer) and the body's first
 * bytes in head (NUL-terminated). */
static int request(const char *method, const char *path, const void *body, size_t n, char *head,
                   size_t cap) {
    int fd = dial();
    if (fd < 0) return -1;
    char h[256];
    int hl = snprintf(h, sizeof h, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "Content-Length: %zu\r\n\r\n", method, path, n);
    char *buf = malloc(1 << 20); /* owned here */
    size_t got = 0;
    if (buf && send_all(fd, h, (size_t)hl) == 0 && send_all(fd, body, n) == 0) {
        ssize_t k;
        while (got + 1 < (1 << 20) && (k = read(fd, buf + got, (1 << 20) - 1 - got)) > 0) got += (size_t)k;
    }
    close(fd);
    int code = -1;
    if (buf) {
        buf[got] = '\0';
        if (got > 12 && !strncmp(buf, "HTTP/1.1 ", 9)) code = atoi(buf + 9);
        const char *b = strstr(buf, "\r\n\r\n");
        size_t bl = b ? got - (size_t)(b + 4 - buf) : 0;
        if (head && cap) {
            size_t k = bl < cap - 1 ? bl : cap - 1;
            if (b) memcpy(head, b + 4, k);
            head[k] = '\0';
        }
    }
    free(buf);
    return code;
}

static void *poster(void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++) {
        char head[16];
        int code = request("POST", "/v1/depth?format=npy", image, image_len, head, sizeof head);
        if (code != 200 || memcmp(head, "\x93NUMPY", 6)) {
            printf("POST /v1/depth: %d\n", code);
            atomic_fetch_add(&failures, 1);
        }
    }
    return NULL;
}

static void *patcher(void *arg) {
    (void)arg;
    for (int i = 0; i < 4; i++) {
        const char *j = i % 2 ? "{\"invert\": false}" : "{\"invert\": true}";
        char head[256];
        int code = request("PATCH", "/v1/config", j, strlen(j), head, sizeof head);
        if (code != 200 || !strstr(head, "\"invert\"")) {
            printf("PATCH /v1/config: %d %s\n", code, head);
            atomic_fetch_add(&failures, 1);
        }
    }
    return NULL;
}

/* An MJPEG client: reads until `parts` JPEG parts came (0: until the server ends the stream);
 * the parts seen. */
typedef struct mjpeg_client {
    int parts;
    atomic_int seen; /* read by the main thread while the client runs */
    int fd;
} mjpeg_client;

static void *mjpeg_reader(void *arg) {
    mjpeg_client *m = arg;
    const char req[] = "GET /v1/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n";
    const char mark[] = "Content-Type: image/jpeg";
    char buf[1 << 15];
    size_t keep = 0;
    if (m->fd < 0 || send_all(m->fd, req, sizeof req - 1) != 0) return NULL;
    ssize_t k;
    while ((m->parts == 0 || atomic_load(&m->seen) < m->parts) &&
           (k = read(m->fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
        size_t n = keep + (size_t)k;
        buf[n] = '\0';
        for (char *p = buf; (p = memmem(p, n - (size_t)(p - buf), mark, sizeof mark - 1)); p += sizeof mark - 1)
            atomic_fetch_add(&m->seen, 1);
        keep = n < sizeof mark ? n : sizeof mark - 1; /* a marker cut by the read */
        memmove(buf, buf + n - keep, keep);
    }
    return NULL;
}

static void *ws_bursts(void *arg) {
    (void)arg;
    for (int r = 0; r < 4; r++) {
        int fd[6];
        for (int i = 0; i < 6; i++) fd[i] = serve_ws_open(port);
        for (int i = 0; i < 6; i++) {
            unsigned char b[64];
            if (fd[i] < 0 || read(fd[i], b, sizeof b) <= 0) atomic_fetch_add(&failures, 1);
            if (fd[i] >= 0) close(fd[i]); /* mid-message: the loop sees the reset */
        }
    }
    return NULL;
}

static void test_http(void **state) {
    (void)state;
    const char *src = tu_golden_file("tiny-hf/input.png"), *mp = tu_golden_file("tiny-hf/model");
    if (!src || !mp) skip();
    FILE *fp = fopen(src, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    image_len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    image = malloc(image_len);
    assert_int_equal(fread(image, 1, image_len, fp), image_len);
    fclose(fp);
    fathom_model *m = NULL;
    if (fathom_model_load(mp, NULL, &m) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    fathom_serve_config *c = NULL;
    assert_int_equal(fathom_serve_config_new(&c), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "source", src), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "loop", "true"), FATHOM_OK);
    assert_int_equal(fathom_serve_config_set(c, "input_size", "56"), FATHOM_OK);
    fathom_serve_params p = serve_test_params(m, c);
    fathom_server *s = NULL;
    if (fathom_serve_start(&p, &s) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    port = fathom_serve_port(s);
    for (int t = 0; t < 600 && serve_analysed(port) < 1; t++) usleep(50 * 1000);
    assert_true(serve_analysed(port) >= 1);

    pthread_t th[6];
    mjpeg_client mj[2] = {{3, 0, dial()}, {3, 0, dial()}};
    assert_int_equal(pthread_create(&th[0], NULL, poster, NULL), 0);
    assert_int_equal(pthread_create(&th[1], NULL, poster, NULL), 0);
    assert_int_equal(pthread_create(&th[2], NULL, patcher, NULL), 0);
    assert_int_equal(pthread_create(&th[3], NULL, ws_bursts, NULL), 0);
    assert_int_equal(pthread_create(&th[4], NULL, mjpeg_reader, &mj[0]), 0);
    assert_int_equal(pthread_create(&th[5], NULL, mjpeg_reader, &mj[1]), 0);
    for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        printf("MJPEG client %d: %d parts\n", i, atomic_load(&mj[i].seen));
        assert_true(atomic_load(&mj[i].seen) >= 3);
        close(mj[i].fd);
    }
    assert_int_equal(atomic_load(&failures), 0);

    /* stop with a stream waiting for its next result and a POST in flight */
    mjpeg_client last = {0, 0, dial()};
    pthread_t th_last, th_post;
    assert_int_equal(pthread_create(&th_last, NULL, mjpeg_reader, &last), 0);
    for (int t = 0; t < 600 && atomic_load(&last.seen) < 1; t++) usleep(10 * 1000);
    assert_int_equal(pthread_create(&th_post, NULL, poster, NULL), 0);
    usleep(20 * 1000);
    fathom_serve_stop(&s);
    assert_null(s);
    pthread_join(th_last, NULL); /* the stream ended with the server */
    pthread_join(th_post, NULL); /* its answers: 200, 503, or none (any is fine at stop) */
    printf("last MJPEG client: %d parts, then the end of the stream\n", atomic_load(&last.seen));
    assert_true(atomic_load(&last.seen) >= 1);
    close(last.fd);
    fathom_serve_config_free(&c);
    fathom_model_free(&m);
    free(image);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* writes to a server that stopped fail, and do not kill the test */
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_http)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
