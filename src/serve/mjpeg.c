/* mjpeg.c - MJPEG sink GET /v1/mjpeg (?view=depth|camera): multipart/x-mixed-replace of JPEGs
 * for any player or <img> tag. Runs on a libmicrohttpd polling thread, which serves other
 * connections too, so it never waits there: with no new result its connection is suspended
 * and put on a wait list, and the post stage resumes the whole list on the next result. It
 * takes the newest result when its client is ready again, so a slow client skips frames
 * (counted) and never delays the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "serve/priv.h"

typedef struct mj_state {
    sv_server *s;
    struct MHD_Connection *conn; /* the stream's connection (set before the first read) */
    struct mj_state *wait_next;  /* on s->mj_wait while suspended */
    int camera;        /* 1: the source image, 0: colorized depth */
    uint64_t seen;
    sv_frame *f;       /* owned reference to the frame being sent */
    const uint8_t *jpeg; /* borrowed from f */
    size_t len;
    char head[128];
    size_t hlen, off;  /* bytes of head + jpeg + "\r\n" sent so far */
} mj_state;

void *sv_mjpeg_new(sv_server *s, int camera) {
    mj_state *m = calloc(1, sizeof *m); /* owned by the MHD response (sv_mjpeg_free) */
    if (!m) return NULL;
    m->s = s;
    m->camera = camera;
    pthread_mutex_lock(&s->out.mu);
    if (s->out.seq > 0) m->seen = s->out.seq - 1; /* start with the current result */
    pthread_mutex_unlock(&s->out.mu);
    return m;
}

void sv_mjpeg_set_conn(void *cls, struct MHD_Connection *conn) { ((mj_state *)cls)->conn = conn; }

/* Every waiting stream back to its polling thread. Caller holds mj_mu. */
static void resume_all(sv_server *s) {
    for (mj_state *m; (m = s->mj_wait);) {
        s->mj_wait = m->wait_next;
        m->wait_next = NULL;
        MHD_resume_connection(m->conn);
    }
}

void sv_mjpeg_notify(sv_server *s) {
    pthread_mutex_lock(&s->mj_mu);
    resume_all(s);
    pthread_mutex_unlock(&s->mj_mu);
}

void sv_mjpeg_close_all(sv_server *s) {
    pthread_mutex_lock(&s->mj_mu);
    s->mj_closed = 1;
    resume_all(s);
    pthread_mutex_unlock(&s->mj_mu);
}

void sv_mjpeg_free(void *cls) {
    mj_state *m = cls;
    atomic_fetch_sub(&m->s->n_mjpeg, 1);
    sv_frame_unref(&m->f);
    free(m);
}

ssize_t sv_mjpeg_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    mj_state *m = cls;
    sv_server *s = m->s;
    while (!m->f) {
        uint64_t before = m->seen;
        /* checked under mj_mu: a result put after this check resumes us (the post stage
         * puts, then takes mj_mu to resume), and no stream is suspended after close_all */
        pthread_mutex_lock(&s->mj_mu);
        if (s->mj_closed || atomic_load(&s->stop)) {
            pthread_mutex_unlock(&s->mj_mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        sv_frame *f = sv_slot_wait(&s->out, &m->seen, 0, NULL);
        if (!f) {
            m->wait_next = s->mj_wait;
            s->mj_wait = m;
            MHD_suspend_connection(m->conn);
            pthread_mutex_unlock(&s->mj_mu);
            return 0; /* nothing yet: called again once resumed */
        }
        pthread_mutex_unlock(&s->mj_mu);
        if (before && m->seen > before + 1) atomic_fetch_add(&s->n_drop_mjpeg, m->seen - before - 1);
        sv_config cfg;
        sv_get_config(s, &cfg);
        const uint8_t *j = cfg.mjpeg ? sv_frame_jpeg(f, m->camera, &m->len) : NULL;
        if (!j) {
            sv_frame_unref(&f);
            continue;
        }
        m->f = f;
        m->jpeg = j;
        m->hlen = (size_t)snprintf(m->head, sizeof m->head,
                                   "--fathomframe\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n"
                                   "X-Frame-Id: %lld\r\n\r\n", m->len, (long long)f->id);
        m->off = 0;
    }
    size_t total = m->hlen + m->len + 2, n = 0;
    while (n < max && m->off < total) {
        size_t k;
        if (m->off < m->hlen) {
            k = m->hlen - m->off < max - n ? m->hlen - m->off : max - n;
            memcpy(buf + n, m->head + m->off, k);
        } else if (m->off < m->hlen + m->len) {
            size_t o = m->off - m->hlen;
            k = m->len - o < max - n ? m->len - o : max - n;
            memcpy(buf + n, m->jpeg + o, k);
        } else {
            size_t o = m->off - m->hlen - m->len;
            k = 2 - o < max - n ? 2 - o : max - n;
            memcpy(buf + n, &"\r\n"[o], k); /* the part boundary's CRLF from byte o */
        }
        n += k;
        m->off += k;
    }
    if (m->off >= total) {
        if (!m->camera) {
            atomic_fetch_add(&s->n_sent_mjpeg, 1);
            sv_record_latency(s, sv_now() - m->f->t_capture);
        }
        sv_frame_unref(&m->f);
    }
    return (ssize_t)n;
}
