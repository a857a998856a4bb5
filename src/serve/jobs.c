/* jobs.c - work that may block (POST /v1/depth inference, PATCH /v1/config's model load) run
 * off libmicrohttpd's polling threads: the request's connection is suspended, a job thread
 * runs the work, then resumes the connection, whose handler sends the answer the job left.
 * A polling thread serves many connections, so one blocked there would stall all of them.
 *
 * Stopping (sv_jobs_stop, before MHD_stop_daemon, which refuses suspended connections): jobs
 * not yet started run with cancel set (they answer 503 at once), the running ones finish,
 * every connection is resumed, and the threads are joined. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdlib.h>

#include <microhttpd.h>

#include "serve/priv.h"

typedef struct sv_job {
    struct MHD_Connection *conn; /* suspended until the job is done */
    sv_job_fn fn;
    void *arg;
    struct sv_job *next;
} sv_job;

static void *jobs_main(void *arg) {
    sv_server *s = arg;
    pthread_mutex_lock(&s->job_mu);
    for (;;) {
        sv_job *j = s->job_head;
        if (!j) {
            if (s->jobs_closed) break;
            pthread_cond_wait(&s->job_cv, &s->job_mu);
            continue;
        }
        s->job_head = j->next;
        int cancel = s->jobs_closed;
        pthread_mutex_unlock(&s->job_mu);
        j->fn(s, j->arg, cancel);
        MHD_resume_connection(j->conn);
        free(j);
        pthread_mutex_lock(&s->job_mu);
    }
    pthread_mutex_unlock(&s->job_mu);
    return NULL;
}

int sv_jobs_start(sv_server *s) {
    for (int i = 0; i < SV_JOB_THREADS; i++) {
        if (pthread_create(&s->th_jobs[i], NULL, jobs_main, s) != 0) return -1;
        s->n_job_threads = i + 1;
        pthread_setname_np(s->th_jobs[i], "sv-job");
    }
    return 0;
}

int sv_job_submit(sv_server *s, struct MHD_Connection *conn, sv_job_fn fn, void *arg) {
    sv_job *j = calloc(1, sizeof *j); /* owned by the queue, then the job thread */
    if (!j) return -1;
    j->conn = conn;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&s->job_mu);
    if (s->jobs_closed || s->n_job_threads == 0) {
        pthread_mutex_unlock(&s->job_mu);
        free(j);
        return -1;
    }
    /* suspended before any job thread can see it, so the resume always comes after */
    MHD_suspend_connection(conn);
    sv_job **pp = &s->job_head;
    while (*pp) pp = &(*pp)->next;
    *pp = j;
    pthread_cond_signal(&s->job_cv);
    pthread_mutex_unlock(&s->job_mu);
    return 0;
}

void sv_jobs_stop(sv_server *s) {
    pthread_mutex_lock(&s->job_mu);
    s->jobs_closed = 1;
    pthread_cond_broadcast(&s->job_cv);
    pthread_mutex_unlock(&s->job_mu);
    for (int i = 0; i < s->n_job_threads; i++) pthread_join(s->th_jobs[i], NULL);
    s->n_job_threads = 0;
}
