/* weights.c - find the reader for a path or buffer, then map its tensors (weights_map.c). */
#include "model/weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/quant_io.h"
#include "model/config.h"
#include "model/depthpro.h"
#include "model/pth.h"
#include "model/safetensors.h"
#include "model/vda.h"

size_t fathom_dtype_size(fathom_dtype dt) {
    return dt == FATHOM_DT_F32 ? 4 : dt == FATHOM_DT_F16 || dt == FATHOM_DT_BF16 ? 2 : 0;
}

void fathom_tensor_set_close(fathom_tensor_set *s) {
    if (!s) return;
    if (s->close) s->close(s);
    free(s->t);
    s->t = NULL;
    s->n = 0;
    s->impl = NULL;
}

void fathom_weights_free(fathom_weights **w) {
    if (!w || !*w) return;
    fathom_packed_share_free(&(*w)->share); /* before the arena: its sets are keyed by it */
    fathom_free_sized((*w)->arena, (*w)->arena_bytes);
    free((*w)->blocks);
    free((*w)->fields);
    free((*w)->info);
    free(*w);
    *w = NULL;
}

/* 1 when the pointer stored at p (any alignment-sized word) points into [lo, lo + n). */
static int points_into(const void *p, const char *lo, size_t n) {
    const char *v;
    memcpy(&v, p, sizeof v);
    return v >= lo && v < lo + n;
}

fathom_status fathom_slots_rebase(float **const *fields, size_t n_fields, void *const *arena_field, size_t arena_bytes,
                                  void *base, const fathom_slot_region *reg, int nreg) {
    const char *ha = *arena_field;
    for (int i = 0; i < nreg; i++) {
        memcpy(reg[i].dst, reg[i].src, reg[i].bytes);
        const char *lo = reg[i].src, *f = (const char *)arena_field;
        if (f >= lo && f < lo + reg[i].bytes) memcpy((char *)reg[i].dst + (f - lo), &base, sizeof base);
    }
    for (size_t k = 0; k < n_fields; k++) {
        const char *f = (const char *)fields[k];
        char *dst = NULL;
        for (int i = 0; i < nreg && !dst; i++) {
            const char *lo = reg[i].src;
            if (f >= lo && f < lo + reg[i].bytes) dst = (char *)reg[i].dst + (f - lo);
        }
        if (!dst || !points_into(f, ha, arena_bytes))
            return fathom_fail(FATHOM_ERR_INTERNAL, "weights: slot %zu is not a tensor field", k);
        float *hp;
        memcpy(&hp, f, sizeof hp);
        float *np = (float *)((char *)base + ((const char *)hp - ha));
        memcpy(dst, &np, sizeof np);
    }
    /* nothing may still point into the host arena: scan every copy word by word */
    for (int i = 0; i < nreg; i++)
        for (size_t o = 0; o + sizeof(void *) <= reg[i].bytes; o += sizeof(void *))
            if (points_into((const char *)reg[i].dst + o, ha, arena_bytes))
                return fathom_fail(FATHOM_ERR_INTERNAL,
                                   "weights: the field at byte %zu of %s is missing from the slot table", o,
                                   reg[i].what);
    return FATHOM_OK;
}

fathom_status fathom_weights_rebase(const fathom_weights *h, void *base, fathom_weights *out,
                                    fathom_block_weights *blocks_out) {
    const size_t nb = sizeof *blocks_out * (size_t)h->arch.depth;
    fathom_weights tmp;
    const fathom_slot_region reg[2] = {{h, &tmp, sizeof tmp, "fathom_weights"},
                                       {h->blocks, blocks_out, nb, "a block (weights_map.c build_slots)"}};
    FATHOM_TRY(fathom_slots_rebase(h->fields, h->n_fields, &h->arena, h->arena_bytes, base, reg, 2));
    *out = tmp;
    out->blocks = blocks_out;
    return FATHOM_OK;
}

static fathom_status map_and_close(fathom_tensor_set *set, const fathom_config *cfg,
                                   const fathom_model_params *params, const char *format,
                                   fathom_weights **out) {
    fathom_status st;
    if (fathom_vda_set_is_vda(set)) /* issue 10: say what the file is, not its first odd name */
        st = fathom_fail(FATHOM_ERR_UNSUPPORTED,
                         "%s: a Video Depth Anything checkpoint (head.motion_modules.*), not a Depth "
                         "Anything V2 one: load it with fathom_model_load and run it on videos", set->path);
    else
        st = fathom_weights_map(set, cfg, params, out);
    if (st != FATHOM_OK && fathom_dp_is_depthpro_set(set))
        st = fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: this is a Depth Pro checkpoint, not Depth Anything V2", set->path);
    fathom_tensor_set_close(set);
    if (st == FATHOM_OK && format) snprintf((*out)->format, sizeof (*out)->format, "%s", format);
    return st;
}

fathom_status fathom_weights_load_memory(const void *buf, size_t size, const char *name,
                                         const fathom_model_params *params, fathom_weights **out) {
    fathom_tensor_set set;
    *out = NULL;
    if (!buf && size) return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: NULL buffer", name);
    if (fathom_pth_sniff(buf, size)) {
        FATHOM_TRY(fathom_pth_open_memory(buf, size, name, &set));
    } else if (fathom_st_sniff(buf, size)) {
        FATHOM_TRY(fathom_st_open_memory(buf, size, name, &set));
    } else {
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: neither a PyTorch checkpoint (zip) nor a safetensors file", name);
    }
    return map_and_close(&set, NULL, params, NULL, out);
}

static fathom_status load_folder(const char *dir, const fathom_model_params *params, fathom_weights **out) {
    char model[4096], config[4096], index[4096];
    if ((size_t)snprintf(model, sizeof model, "%s/model.safetensors", dir) >= sizeof model ||
        (size_t)snprintf(config, sizeof config, "%s/config.json", dir) >= sizeof config ||
        (size_t)snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir) >= sizeof index)
        return fathom_fail(FATHOM_ERR_INVALID_ARG, "%s: path too long", dir);
    struct stat sb;
    if (stat(model, &sb) != 0) {
        if (stat(index, &sb) == 0)
            return fathom_fail(FATHOM_ERR_UNSUPPORTED, "%s: sharded safetensors (model.safetensors.index.json) are not supported", dir);
        return fathom_fail(FATHOM_ERR_NOT_FOUND, "%s: folder without model.safetensors (expected a Hugging Face model folder)", dir);
    }
    fathom_config cfg; /* absent config.json: everything is inferred from the shapes */
    int have_cfg = stat(config, &sb) == 0;
    if (have_cfg) FATHOM_TRY(fathom_config_load(config, &cfg));
    fathom_tensor_set set;
    FATHOM_TRY(fathom_st_open_file(model, &set));
    return map_and_close(&set, have_cfg ? &cfg : NULL, params, "hf-folder", out);
}

fathom_status fathom_weights_load(const char *path, const fathom_model_params *params, fathom_weights **out) {
    if (!out) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_weights_load: NULL out");
    *out = NULL;
    if (!path || !*path) return fathom_fail(FATHOM_ERR_INVALID_ARG, "fathom_weights_load: empty path");
    struct stat sb;
    if (stat(path, &sb) != 0) return fathom_fail(fathom_status_from_errno(errno), "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return load_folder(path, params, out);
    if (!S_ISREG(sb.st_mode)) return fathom_fail(FATHOM_ERR_FORMAT, "%s: not a regular file or a folder", path);
    if (fathom_quant_sniff(path)) return fathom_quant_load(path, params, out); /* `fathom quantize` */
    uint8_t head[16] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fathom_fail(fathom_status_from_errno(errno), "%s: %s", path, strerror(errno));
    ssize_t got = read(fd, head, sizeof head);
    int err = errno;
    close(fd);
    if (got < 0) return fathom_fail(FATHOM_ERR_IO, "%s: read: %s", path, strerror(err));
    fathom_tensor_set set;
    if (fathom_pth_sniff(head, (size_t)got)) {
        FATHOM_TRY(fathom_pth_open_file(path, &set));
    } else if (fathom_st_sniff(head, (size_t)got)) {
        FATHOM_TRY(fathom_st_open_file(path, &set));
    } else {
        return fathom_fail(FATHOM_ERR_FORMAT, "%s: neither a PyTorch checkpoint (zip) nor a safetensors file (%lld bytes)",
                           path, (long long)sb.st_size);
    }
    return map_and_close(&set, NULL, params, NULL, out);
}
