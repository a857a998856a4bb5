/* chunk_manifest.c - the chunk manifest (see chunk_manifest.h). */
#include "cluster/chunk_manifest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "media/atomic_file.h"

fathom_status fathom_chunk_input_stamp(const char *input, int64_t *bytes, int64_t *mtime_ns) {
    struct stat st;
    if (stat(input, &st) != 0) {
        int e = errno;
        return fathom_fail(fathom_status_from_errno(e), "%s: %s", input, strerror(e));
    }
    *bytes = (int64_t)st.st_size;
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return FATHOM_OK;
}

fathom_status fathom_chunk_manifest_save(const fathom_chunk_manifest *m, const char *path) {
    cJSON *o = cJSON_CreateObject(); /* owned */
    if (!o) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    cJSON_AddNumberToObject(o, "fathom_chunks", 1);
    cJSON_AddStringToObject(o, "input", m->input);
    cJSON_AddNumberToObject(o, "input_bytes", (double)m->input_bytes);
    char mt[32]; /* a string: nanoseconds since 1970 do not fit a double exactly */
    snprintf(mt, sizeof mt, "%lld", (long long)m->input_mtime_ns);
    cJSON_AddStringToObject(o, "input_mtime_ns", mt);
    cJSON_AddNumberToObject(o, "frames", (double)m->frames);
    cJSON_AddNumberToObject(o, "overlap", m->overlap);
    cJSON_AddNumberToObject(o, "merged", m->merged);
    cJSON *arr = cJSON_AddArrayToObject(o, "chunks");
    for (int i = 0; arr && i < m->n; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c) break;
        const fathom_chunk *k = &m->chunks[i];
        cJSON_AddNumberToObject(c, "first", (double)k->first);
        cJSON_AddNumberToObject(c, "count", (double)k->count);
        cJSON_AddNumberToObject(c, "decode_from", (double)k->decode_from);
        cJSON_AddNumberToObject(c, "start_us", (double)k->start_us);
        cJSON_AddNumberToObject(c, "end_us", (double)k->end_us);
        cJSON_AddBoolToObject(c, "done", m->done[i] != 0);
        cJSON_AddItemToArray(arr, c);
    }
    char *s = cJSON_Print(o); /* owned */
    cJSON_Delete(o);
    if (!s) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    fathom_status st = fathom_atomic_write_file(path, s, strlen(s));
    free(s);
    return st;
}

fathom_status fathom_chunk_manifest_save_unlocked(const fathom_chunk_manifest *m, const char *path,
                                                  pthread_mutex_t *mu, pthread_mutex_t *save_mu) {
    pthread_mutex_lock(save_mu);
    int *done = malloc((size_t)m->n * sizeof *done); /* owned: the flags at this moment */
    fathom_status s = done ? FATHOM_OK : fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", path);
    if (done) {
        pthread_mutex_lock(mu);
        fathom_chunk_manifest snap = *m; /* chunks shared: the plan never changes */
        memcpy(done, m->done, (size_t)m->n * sizeof *done);
        pthread_mutex_unlock(mu);
        snap.done = done;
        s = fathom_chunk_manifest_save(&snap, path);
    }
    free(done);
    pthread_mutex_unlock(save_mu);
    return s;
}

void fathom_chunk_manifest_clear(fathom_chunk_manifest *m) {
    free(m->chunks);
    free(m->done);
    memset(m, 0, sizeof *m);
}

static int get_i64(const cJSON *o, const char *k, int64_t *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x)) return 0;
    *v = (int64_t)x->valuedouble;
    return 1;
}

static int get_str_i64(const cJSON *o, const char *k, int64_t *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    char *end;
    if (!cJSON_IsString(x) || !x->valuestring[0]) return 0;
    *v = strtoll(x->valuestring, &end, 10);
    return *end == '\0';
}

fathom_status fathom_chunk_manifest_load(const char *path, fathom_chunk_manifest *m) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (e == ENOENT) return FATHOM_ERR_NOT_FOUND; /* no message: the caller plans anew */
        return fathom_fail(fathom_status_from_errno(e), "%s: %s", path, strerror(e));
    }
    char *text = NULL; /* owned */
    size_t n = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && len < (64 << 20) && fseek(f, 0, SEEK_SET) == 0 &&
            (text = malloc((size_t)len + 1)))
            n = fread(text, 1, (size_t)len, f);
    }
    fclose(f);
    if (!text) return fathom_fail(FATHOM_ERR_IO, "%s: cannot read the chunk manifest", path);
    text[n] = '\0';
    cJSON *o = cJSON_Parse(text); /* owned */
    free(text);
    const char *why = NULL;
    const cJSON *arr = o ? cJSON_GetObjectItemCaseSensitive(o, "chunks") : NULL;
    const cJSON *in = o ? cJSON_GetObjectItemCaseSensitive(o, "input") : NULL;
    int64_t one = 0, ov = 0;
    if (!o) why = "not complete JSON (truncated or damaged)";
    else if (!get_i64(o, "fathom_chunks", &one) || one != 1 || !cJSON_IsString(in) ||
             !get_i64(o, "input_bytes", &m->input_bytes) ||
             !get_str_i64(o, "input_mtime_ns", &m->input_mtime_ns) ||
             !get_i64(o, "frames", &m->frames) ||
             !get_i64(o, "overlap", &ov) || !cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1)
        why = "not a fathom chunk manifest (fields missing)";
    if (!why) {
        snprintf(m->input, sizeof m->input, "%s", in->valuestring);
        m->overlap = (int)ov;
        int64_t merged = 0; /* absent in older manifests: nothing merged */
        get_i64(o, "merged", &merged);
        m->merged = (int)merged;
        m->n = cJSON_GetArraySize(arr);
        m->chunks = calloc((size_t)m->n, sizeof *m->chunks);
        m->done = calloc((size_t)m->n, sizeof *m->done);
        if (!m->chunks || !m->done) why = "out of memory";
        int64_t next = 0;
        for (int i = 0; !why && i < m->n; i++) {
            const cJSON *c = cJSON_GetArrayItem(arr, i);
            fathom_chunk *k = &m->chunks[i];
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "done");
            if (!get_i64(c, "first", &k->first) || !get_i64(c, "count", &k->count) ||
                !get_i64(c, "decode_from", &k->decode_from) ||
                !get_i64(c, "start_us", &k->start_us) || !get_i64(c, "end_us", &k->end_us) ||
                !cJSON_IsBool(d) || k->first != next || k->count < 1 || k->decode_from > k->first)
                why = "a chunk entry is missing fields or does not follow the previous one";
            else
                m->done[i] = cJSON_IsTrue(d);
            next = k->first + k->count;
        }
        if (!why && next != m->frames) why = "its chunks do not cover its frames";
        if (!why && (m->merged < 0 || m->merged > m->n)) why = "its merged count is out of range";
    }
    cJSON_Delete(o);
    if (why) {
        fathom_chunk_manifest_clear(m);
        return fathom_fail(FATHOM_ERR_FORMAT, "chunk manifest %s: %s; remove it (or its folder) "
                           "to start this video over", path, why);
    }
    return FATHOM_OK;
}
