/* test_serve_switch_tsan.c - live changes racing the stages, for TSan: while the worker analyses
 * a looping source, one thread switches the model back and forth (engine swapped between
 * frames) and turns the recording on and off (outputs thread), while status requests read the
 * counters. Checks that every switch succeeds, frames keep coming, and each recording is
 * finalized under its own name. Two WebSocket clients read the stream meanwhile (each
 * result's message is made once and written to both from the same bytes) and a third never
 * reads. Public API only. */
#include <pthread.h>
#include <setjmp.h>
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

#define SWITCHES 4

typedef struct job {
    fathom_server *s;
    char source[4096], metric[4096], dir[4096];
    int failures;
} job;

static fathom_serve_config *settings(const job *j, const char *model, const char *record) {
    fathom_serve_config *c = NULL;
    if (fathom_serve_config_new(&c) != FATHOM_OK ||
        fathom_serve_config_set(c, "source", j->source) != FATHOM_OK ||
        fathom_serve_config_set(c, "loop", "true") != FATHOM_OK ||
        fathom_serve_config_set(c, "input_size", "56") != FATHOM_OK ||
        fathom_serve_config_set(c, "model", model) != FATHOM_OK ||
        fathom_serve_config_set(c, "record", record) != FATHOM_OK)
        fail_msg("settings: %s", fathom_last_error());
    return c;
}

static void *switcher(void *arg) {
    job *j = arg;
    for (int i = 0; i < SWITCHES; i++) {
        char rec[4200];
        snprintf(rec, sizeof rec, "%s/rec%d.mkv", j->dir, i);
        fathom_serve_config *c = settings(j, i % 2 ? "" : j->metric, rec);
        if (fathom_serve_set_config(j->s, c) != FATHOM_OK) j->failures++;
        fathom_serve_config_free(&c);
        usleep(300 * 1000);
    }
    fathom_serve_config *c = settings(j, "", ""); /* recording off: the last file finalized */
    if (fathom_serve_set_config(j->s, c) != FATHOM_OK) j->failures++;
    fathom_serve_config_free(&c);
    return NULL;
}

/* A WebSocket client reading until the server closes: the bytes it got, and the first one. */
typedef struct reader {
    int fd;
    size_t bytes;
    unsigned char first;
} reader;

static void *read_ws(void *arg) {
    reader *r = arg;
    static _Thread_local unsigned char buf[1 << 16];
    ssize_t k;
    while ((k = read(r->fd, buf, sizeof buf)) > 0) {
        if (!r->bytes) r->first = buf[0];
        r->bytes += (size_t)k;
    }
    return NULL;
}

static void test_switch(void **state) {
    (void)state;
    static job j;
    const char *f;
    if (!(f = tu_golden_file("tiny-hf/input.png"))) skip();
    snprintf(j.source, sizeof j.source, "%s", f);
    if (!(f = tu_golden_file("tiny-hf-metric/model"))) skip();
    snprintf(j.metric, sizeof j.metric, "%s", f);
    if (!(f = tu_golden_file("tiny-hf/model"))) skip();
    fathom_model *m = NULL;
    if (fathom_model_load(f, NULL, &m) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    char *dir = tu_mkdtemp();
    snprintf(j.dir, sizeof j.dir, "%s", dir);
    fathom_serve_config *c = settings(&j, "", "");
    fathom_serve_params p = serve_test_params(m, c);
    if (fathom_serve_start(&p, &j.s) != FATHOM_OK) fail_msg("%s", fathom_last_error());
    int port = fathom_serve_port(j.s);
    reader rd[2];
    pthread_t th_rd[2];
    int idle = serve_ws_open(port); /* never reads */
    assert_true(idle >= 0);
    for (int i = 0; i < 2; i++) {
        rd[i] = (reader){serve_ws_open(port), 0, 0};
        assert_true(rd[i].fd >= 0);
        assert_int_equal(pthread_create(&th_rd[i], NULL, read_ws, &rd[i]), 0);
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, switcher, &j), 0);
    long long first = serve_analysed(port), last = first;
    for (int i = 0; i < 40; i++, usleep(50 * 1000)) last = serve_analysed(port);
    pthread_join(th, NULL);
    for (int t = 0; t < 600 && serve_analysed(port) <= last; t++) usleep(50 * 1000);
    assert_true(serve_analysed(port) > last);
    fathom_serve_stop(&j.s); /* close frames: the readers see the end of their streams */
    for (int i = 0; i < 2; i++) {
        pthread_join(th_rd[i], NULL);
        close(rd[i].fd);
        printf("WebSocket reader %d: %zu bytes\n", i, rd[i].bytes);
        assert_true(rd[i].bytes > 1000);
        assert_int_equal(rd[i].first, 0x82); /* FIN + binary: a result came first */
    }
    close(idle);
    assert_int_equal(j.failures, 0);
    int finalized = 0;
    for (int i = 0; i < SWITCHES; i++) { /* each recording that got a frame is finalized */
        char rec[4200];
        snprintf(rec, sizeof rec, "%s/rec%d.mkv", j.dir, i);
        finalized += access(rec, R_OK) == 0;
        printf("%s: %s\n", rec, access(rec, R_OK) == 0 ? "finalized" : "no frame reached it");
    }
    assert_true(finalized >= 1);
    assert_int_equal(tu_sh("ls %s | grep -c partial | grep -qx 0", j.dir), 0);
    tu_rmtree(dir);
    free(dir);
    fathom_serve_config_free(&c);
    fathom_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_switch)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
