/* sink_file.c - the per-item file sink: OUTDIR/<rel_out>.<suffix> for each format.
 *
 * DESIGN: unordered (write() runs concurrently in the write pool; it keeps no shared mutable
 * state). check() applies the existing-output policy before any decoding, so a resumed run
 * costs one stat() per output of a finished item. Each file is written by
 * fathom_depth_write through a temporary name and renamed, so a final name always holds a
 * complete file (Ctrl-C, crash, disk full). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "media/atomic_file.h"
#include "pipeline/input_guard.h"
#include "pipeline/manifest.h"
#include "pipeline/naming.h"
#include "pipeline/sink.h"

typedef struct file_sink {
    char *outdir;           /* owned */
    unsigned formats;
    fathom_write_opts write;
    fathom_exist exist;
    fathom_manifest *manifest;        /* borrowed (the pipeline owns it), may be NULL */
    const fathom_input_ids *inputs;   /* borrowed, may be NULL */
} file_sink;

static const fathom_output_format k_order[] = {FATHOM_OUT_NPY, FATHOM_OUT_NPZ, FATHOM_OUT_PNG16,
                                               FATHOM_OUT_PNG8, FATHOM_OUT_COLOR, FATHOM_OUT_EXR};
#define N_FORMATS (sizeof k_order / sizeof k_order[0])

/* Append "path\n"-separated to it->outputs. */
static fathom_status add_output(fathom_item *it, const char *path) {
    size_t have = it->outputs.s ? strlen(it->outputs.s) : 0, n = strlen(path);
    if (have + n + 2 > it->outputs.cap) {
        size_t cap = (have + n + 2) * 2;
        char *p = realloc(it->outputs.s, cap);
        if (!p) return fathom_fail(FATHOM_ERR_NOMEM, "%s: out of memory", it->source.s);
        it->outputs.s = p;
        it->outputs.cap = cap;
    }
    if (have) it->outputs.s[have++] = '\n';
    memcpy(it->outputs.s + have, path, n + 1);
    return FATHOM_OK;
}

/* Output i of the item: full path and the name relative to OUTDIR (for the manifest). */
static fathom_status out_path(const file_sink *s, const fathom_item *it, fathom_output_format f,
                              char *path, size_t cap, const char **rel) {
    FATHOM_TRY(fathom_naming_path(s->outdir, it->rel_out.s, s->formats, f, path, cap));
    *rel = path + strlen(s->outdir) + 1;
    return FATHOM_OK;
}

static fathom_status file_check(void *self, fathom_item *it, int *skip) {
    file_sink *s = self;
    *skip = 0;
    char path[4096];
    const char *rel;
    const char *ident = it->ident.s && it->ident.s[0] ? it->ident.s : it->source.s;
    struct stat src_st;
    int have_src = it->kind == FATHOM_ITEM_FILE && stat(it->source.s, &src_st) == 0;
    int present = 0, wanted = 0, foreign = 0;
    char first[4096], first_foreign[4096];
    first[0] = first_foreign[0] = '\0';
    for (size_t i = 0; i < N_FORMATS; i++) {
        if (!(s->formats & k_order[i])) continue;
        FATHOM_TRY(out_path(s, it, k_order[i], path, sizeof path, &rel));
        wanted++;
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if ((have_src && st.st_dev == src_st.st_dev && st.st_ino == src_st.st_ino) ||
            fathom_input_ids_has(s->inputs, &st))
            return fathom_fail(FATHOM_ERR_INVALID_ARG,
                               "%s: output %s is an input of this run (the same file); it is "
                               "never written over: choose another -o",
                               it->source.s, path);
        if (!present++) snprintf(first, sizeof first, "%s", path);
        if (fathom_manifest_owner(s->manifest, rel, ident) != FATHOM_OWNER_SELF && !foreign++)
            snprintf(first_foreign, sizeof first_foreign, "%s", path);
    }
    if (!present) return FATHOM_OK;
    if (foreign)
        return fathom_fail(FATHOM_ERR_IO,
                           "%s: output %s exists and was not written by fathom for this input "
                           "(no record in %s/" FATHOM_MANIFEST_NAME "); it is never replaced: "
                           "move it away or choose another -o",
                           it->source.s, first_foreign, s->outdir);
    if (s->exist == FATHOM_EXISTING_OVERWRITE) return FATHOM_OK;
    if (s->exist == FATHOM_EXISTING_RESUME) {
        if (present < wanted) return FATHOM_OK; /* partly done: redo the item, overwriting */
        for (size_t i = 0; i < N_FORMATS; i++) {
            if (!(s->formats & k_order[i])) continue;
            FATHOM_TRY(out_path(s, it, k_order[i], path, sizeof path, &rel));
            FATHOM_TRY(add_output(it, path));
        }
        *skip = 1;
        return FATHOM_OK;
    }
    return fathom_fail(FATHOM_ERR_IO, "%s: output %s exists (existing: overwrite or resume)",
                       it->source.s, first);
}

static fathom_status file_write(void *self, fathom_item *it) {
    file_sink *s = self;
    if (it->state != FATHOM_ITEM_PENDING) return FATHOM_OK;
    char path[4096];
    const char *rel;
    const char *ident = it->ident.s && it->ident.s[0] ? it->ident.s : it->source.s;
    int made_dir = 0;
    for (size_t i = 0; i < N_FORMATS; i++) {
        if (!(s->formats & k_order[i])) continue;
        FATHOM_TRY(out_path(s, it, k_order[i], path, sizeof path, &rel));
        if (!made_dir) {
            FATHOM_TRY(fathom_mkdir_parents(path));
            made_dir = 1;
        }
        fathom_write_opts wo = s->write;
        if (it->focal_px != 0) /* Depth Pro: per-item focal length */
            wo.has_focal = 1, wo.focal_px = it->focal_px, wo.fov_deg = it->fov_deg;
        /* recorded before the rename: a crash in between leaves a record of a missing file */
        FATHOM_TRY(fathom_manifest_record(s->manifest, rel, ident));
        FATHOM_TRY(fathom_depth_write(path, k_order[i], it->depth, it->height, it->width, &wo));
        FATHOM_TRY(add_output(it, path));
    }
    it->state = FATHOM_ITEM_DONE;
    return FATHOM_OK;
}

static void file_free(void *self) {
    file_sink *s = self;
    if (!s) return;
    free(s->outdir);
    free(s);
}

static const fathom_sink_ops k_file_ops = {"files", 0, file_check, file_write, NULL, file_free};

fathom_status fathom_file_sink_create(const fathom_file_sink_opts *opts, fathom_sink *out) {
    memset(out, 0, sizeof *out);
    if (!opts->outdir || !*opts->outdir)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "no output folder given");
    FATHOM_TRY(fathom_mkdir_p(opts->outdir));
    if (access(opts->outdir, W_OK | X_OK) != 0)
        return fathom_fail(FATHOM_ERR_IO, "%s: output folder is not writable", opts->outdir);
    file_sink *s = calloc(1, sizeof *s);
    if (!s || !(s->outdir = strdup(opts->outdir))) {
        free(s);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the file sink");
    }
    size_t n = strlen(s->outdir);
    while (n > 1 && s->outdir[n - 1] == '/') s->outdir[--n] = '\0';
    s->formats = opts->formats ? opts->formats : FATHOM_OUT_NPY;
    s->write = opts->write;
    s->exist = opts->exist;
    s->manifest = opts->manifest;
    s->inputs = opts->inputs;
    out->ops = &k_file_ops;
    out->self = s;
    return FATHOM_OK;
}

void fathom_sink_free(fathom_sink *sink) {
    if (!sink) return;
    if (sink->ops && sink->ops->free) sink->ops->free(sink->self);
    memset(sink, 0, sizeof *sink);
}
