/* item.c - pooled unit of work (see item.h). */
#include <math.h>
#include "pipeline/item.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

void fathom_item_init(fathom_item *it) {
    memset(it, 0, sizeof *it);
    it->pts = -1;
    it->tb_den = 1;
    it->device_slot = -1;
}

static void str_clear(fathom_str *s) {
    if (s->s) s->s[0] = '\0';
}

void fathom_item_reset(fathom_item *it) {
    fathom_image_free(&it->image);
    str_clear(&it->source);
    str_clear(&it->rel_out);
    str_clear(&it->outputs);
    str_clear(&it->ident);
    it->dup_of = -1;
    it->index = 0;
    it->kind = FATHOM_ITEM_FILE;
    it->width = it->height = 0;
    it->pts = -1;
    it->tb_num = 0;
    it->tb_den = 1;
    it->user = NULL;
    it->net_h = it->net_w = 0;
    it->fov_deg = NAN;
    it->f35_mm = it->focal_px = 0;
    it->focal_source = 0;
    memset(it->t_stage, 0, sizeof it->t_stage);
    it->t_start = it->t_end = 0;
    it->batch_size = 0;
    it->device_slot = -1;
    it->state = FATHOM_ITEM_PENDING;
    it->status = FATHOM_OK;
    it->error[0] = '\0';
}

void fathom_item_destroy(fathom_item *it) {
    if (!it) return;
    fathom_image_free(&it->image);
    free(it->source.s);
    free(it->rel_out.s);
    free(it->outputs.s);
    free(it->ident.s);
    fathom_free_sized(it->x, it->x_cap * sizeof(float));
    fathom_free_sized(it->depth_net, it->depth_net_cap * sizeof(float));
    fathom_free_sized(it->depth, it->depth_cap * sizeof(float));
    fathom_item_init(it);
}

fathom_status fathom_str_set(fathom_str *str, const char *s) {
    size_t n = strlen(s) + 1;
    if (n > str->cap) {
        size_t cap = n < 64 ? 64 : n + n / 2;
        char *p = realloc(str->s, cap);
        if (!p) return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for a %zu-byte name", n);
        str->s = p;
        str->cap = cap;
    }
    memcpy(str->s, s, n);
    return FATHOM_OK;
}

fathom_status fathom_item_reserve(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return FATHOM_OK;
    fathom_free_sized(*buf, *cap * sizeof(float));
    *buf = fathom_alloc(n * sizeof(float));
    if (!*buf) {
        *cap = 0;
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for %zu floats", n);
    }
    *cap = n;
    return FATHOM_OK;
}

void fathom_item_fail(fathom_item *it, fathom_status s, const char *fmt, ...) {
    if (it->state == FATHOM_ITEM_FAILED) return; /* the first cause is the one to report */
    it->state = FATHOM_ITEM_FAILED;
    it->status = s == FATHOM_OK ? FATHOM_ERR_INTERNAL : s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->error, sizeof it->error, fmt, ap);
    va_end(ap);
}

void fathom_item_fail_last(fathom_item *it, fathom_status s) {
    const char *msg = fathom_last_error();
    fathom_item_fail(it, s, "%s", msg && *msg ? msg : fathom_strerror(s));
}
