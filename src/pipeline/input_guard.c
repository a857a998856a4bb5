/* input_guard.c - outputs never land on inputs (see input_guard.h). */
#include "pipeline/input_guard.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

typedef struct file_id {
    dev_t dev;
    ino_t ino;
    int is_dir;
    const char *name; /* borrowed: the input as given */
} file_id;

struct fathom_input_ids {
    file_id *ids; /* owned: n entries */
    size_t n;
};

static int is_remote(const char *s) { return !strcmp(s, "-") || strstr(s, "://") != NULL; }

fathom_status fathom_input_ids_collect(const char *const *inputs, int n, fathom_input_ids **out) {
    *out = NULL;
    fathom_input_ids *r = calloc(1, sizeof *r);
    if (!r || (n > 0 && !(r->ids = calloc((size_t)n, sizeof *r->ids)))) {
        free(r);
        return fathom_fail(FATHOM_ERR_NOMEM, "out of memory for the input list");
    }
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (is_remote(inputs[i]) || stat(inputs[i], &st) != 0) continue;
        r->ids[r->n++] = (file_id){st.st_dev, st.st_ino, S_ISDIR(st.st_mode), inputs[i]};
    }
    *out = r;
    return FATHOM_OK;
}

static const file_id *find_id(const fathom_input_ids *ids, const struct stat *st) {
    for (size_t i = 0; ids && i < ids->n; i++)
        if (ids->ids[i].dev == st->st_dev && ids->ids[i].ino == st->st_ino) return &ids->ids[i];
    return NULL;
}

int fathom_input_ids_has(const fathom_input_ids *ids, const struct stat *st) {
    return find_id(ids, st) != NULL;
}

void fathom_input_ids_free(fathom_input_ids **ids) {
    if (!ids || !*ids) return;
    free((*ids)->ids);
    free(*ids);
    *ids = NULL;
}

int fathom_path_is_input(const char *path, const char *const *inputs, int n) {
    struct stat ps, is;
    if (!path || stat(path, &ps) != 0) return 0;
    for (int i = 0; i < n; i++)
        if (!is_remote(inputs[i]) && stat(inputs[i], &is) == 0 && is.st_dev == ps.st_dev &&
            is.st_ino == ps.st_ino)
            return 1;
    return 0;
}

fathom_status fathom_outdir_check(const char *outdir, const char *report_path,
                                  const char *const *inputs, int n) {
    fathom_input_ids *ids = NULL;
    FATHOM_TRY(fathom_input_ids_collect(inputs, n, &ids));
    fathom_status s = FATHOM_OK;
    struct stat st;
    const file_id *hit;
    if (outdir && stat(outdir, &st) == 0 && (hit = find_id(ids, &st)) && hit->is_dir)
        s = fathom_fail(FATHOM_ERR_INVALID_ARG,
                        "output folder %s is the input folder %s: outputs would replace or mix "
                        "with the inputs; choose another -o (a sub-folder such as %s/depth is "
                        "fine: the walk skips it)",
                        outdir, hit->name, hit->name);
    else if (report_path && stat(report_path, &st) == 0 && (hit = find_id(ids, &st)))
        s = fathom_fail(FATHOM_ERR_INVALID_ARG, "report %s is the input %s; choose another report_path",
                        report_path, hit->name);
    fathom_input_ids_free(&ids);
    return s;
}
