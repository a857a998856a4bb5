/* quant_io_device.c - a device engine's weights: the fp32 arena uploaded once, and int8 / q4
 * weights (`--weights int8|q4 --device cuda`, and quantized files on a device).
 *
 * The formats are the CPU's: a CPU backend packs the model's linear weights (or borrows a
 * quantized file's arrays, through the model's packed share) and each int8 / q4 matrix of an
 * encoder linear goes to the device backend's load_packed, so the device GEMMs compute in the
 * same format as the CPU. Those linears never read their fp32 weight on the device (the
 * linear ops look the packed matrix up by the weight's device address and use it instead), so
 * their fp32 copies are not uploaded: the device arena is the host arena with those tensors
 * cut out ("holes"), and each hole's weight field gets a key address past the arena's end
 * (unique, never dereferenced) under which its packed matrix is loaded. A quantized file has
 * no fp32 tensors for what it packed: its other packed matrices (the DPT head's convs, which
 * stay fp32 on the device) are dequantized into their slots (the values the CPU computes with). */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/ref_ops.h"
#include "core/alloc.h"
#include "core/status.h"
#include "model/quant_io.h"

static int is_linear(const fathom_weights *w, const float *p) {
    if (p == w->patch_w) return 1;
    for (int i = 0; i < w->arch.depth; i++) {
        const fathom_block_weights *b = &w->blocks[i];
        if (p == b->qkv_w || p == b->proj_w || p == b->fc1_w || p == b->fc2_w) return 1;
    }
    return 0;
}

/* The device arena's layout: host byte ranges [off, off + bytes) left out, sorted by off */
typedef struct hole {
    size_t off, bytes;
} hole;
typedef struct layout {
    char *base;   /* device arena (backend memory) */
    size_t bytes; /* its size: the host arena less the holes */
    const hole *h;
    size_t nh;
} layout;

static int by_off(const void *a, const void *b) {
    size_t x = ((const hole *)a)->off, y = ((const hole *)b)->off;
    return x < y ? -1 : x > y;
}

/* The device address of host arena offset off: inside a hole, its key past the arena's end */
static char *dev_addr(const layout *l, size_t off) {
    size_t cut = 0;
    for (size_t i = 0; i < l->nh && l->h[i].off <= off; i++) {
        if (off < l->h[i].off + l->h[i].bytes) return l->base + l->bytes + off;
        cut += l->h[i].bytes;
    }
    return l->base + off - cut;
}

/* The fp32 tensor blob b stands for, from its GEMM matrix, into tmp (N K floats): a
 * transposed conv's matrix is (Co k k, Ci) for a (Ci, Co, k, k) weight, the rest as stored */
static void dequant_tensor(float *tmp, float *mat, const fathom_weights *w, const fathom_packed_blob *b,
                           const fathom_packed_mat *pm) {
    if (b->src != w->resize0_w && b->src != w->resize1_w) {
        fathom_ref_packed_dequant(tmp, pm);
        return;
    }
    fathom_ref_packed_dequant(mat, pm);
    for (int n = 0; n < b->N; n++)
        for (int k = 0; k < b->K; k++) tmp[(size_t)k * b->N + n] = mat[(size_t)n * b->K + k];
}

static int is_hole(const fathom_weights *w, const fathom_packed_blob *b) {
    return b->kind != FATHOM_PACKED_BF16 && is_linear(w, b->src);
}

static fathom_status hand_over(fathom_backend *dev, const fathom_weights *w, const layout *l,
                               const fathom_packed_blob *bl, size_t n, int from_file) {
    size_t most = 0;
    for (size_t i = 0; i < n; i++)
        if (from_file && !is_hole(w, &bl[i]) && (size_t)bl[i].N * bl[i].K > most) most = (size_t)bl[i].N * bl[i].K;
    float *tmp = most ? fathom_alloc(2 * most * sizeof *tmp) : NULL; /* owned here */
    if (most && !tmp) return fathom_fail(FATHOM_ERR_NOMEM, "engine: dequantizing buffer");
    fathom_status s = FATHOM_OK;
    for (size_t i = 0; i < n && s == FATHOM_OK; i++) {
        const fathom_packed_blob *b = &bl[i];
        size_t off = (size_t)((const char *)b->src - (const char *)w->arena);
        float *dst = (float *)dev_addr(l, off);
        fathom_packed_mat pm = {(int)b->kind, b->N, b->K, b->Np, b->Kp, b->a, b->b, b->na, b->nb};
        if (is_hole(w, b)) s = dev->ops->load_packed(dev, dst, &pm);
        else if (from_file) { /* a packed conv: its fp32 values, which the device computes with */
            dequant_tensor(tmp, tmp + most, w, b, &pm);
            s = dev->ops->upload(dev, dst, tmp, (size_t)b->N * b->K * sizeof(float));
        }
    }
    fathom_free_sized(tmp, tmp ? 2 * most * sizeof *tmp : 0);
    return s;
}

/* Holes of the packed blobs bl (n) into *out (owned by the caller), sorted; checks that each
 * lies in w's arena */
static fathom_status find_holes(const fathom_weights *w, const fathom_packed_blob *bl, size_t n, hole **out,
                                size_t *nh) {
    *out = n ? fathom_alloc(n * sizeof **out) : NULL;
    if (n && !*out) return fathom_fail(FATHOM_ERR_NOMEM, "engine: packed weight list");
    *nh = 0;
    for (size_t i = 0; i < n; i++) {
        const fathom_packed_blob *b = &bl[i];
        size_t off = (size_t)((const char *)b->src - (const char *)w->arena), bytes = (size_t)b->N * b->K * sizeof(float);
        if ((const char *)b->src < (const char *)w->arena || off + bytes > w->arena_bytes)
            return fathom_fail(FATHOM_ERR_INTERNAL, "engine: a packed weight outside the model's arena");
        if (is_hole(w, b)) (*out)[(*nh)++] = (hole){off, bytes};
    }
    qsort(*out, *nh, sizeof **out, by_off);
    for (size_t i = 1; i < *nh; i++)
        if ((*out)[i].off < (*out)[i - 1].off + (*out)[i - 1].bytes)
            return fathom_fail(FATHOM_ERR_INTERNAL, "engine: packed weights overlap");
    return FATHOM_OK;
}

/* Upload the host arena less the holes to l->base, and point the weight fields of *dw (a
 * rebase onto l->base as if whole) at their layout addresses */
static fathom_status upload_layout(fathom_backend *dev, const fathom_weights *w, const layout *l,
                                   fathom_weights *dw) {
    size_t from = 0;
    fathom_status s = FATHOM_OK;
    for (size_t i = 0; i <= l->nh && s == FATHOM_OK; i++) {
        size_t to = i < l->nh ? l->h[i].off : w->arena_bytes;
        if (to > from) s = dev->ops->upload(dev, dev_addr(l, from), (const char *)w->arena + from, to - from);
        if (i < l->nh) from = l->h[i].off + l->h[i].bytes;
    }
    const char *hs = (const char *)w, *hb = (const char *)w->blocks;
    const size_t nb = sizeof *w->blocks * (size_t)w->arch.depth;
    for (size_t k = 0; k < w->n_fields && s == FATHOM_OK; k++) {
        const char *f = (const char *)w->fields[k];
        char *df = f >= hs && f < hs + sizeof *w ? (char *)dw + (f - hs)
                 : f >= hb && f < hb + nb         ? (char *)dw->blocks + (f - hb)
                                                  : NULL;
        if (!df) return fathom_fail(FATHOM_ERR_INTERNAL, "engine: weight slot %zu outside the tables", k);
        char *p;
        memcpy(&p, df, sizeof p);
        p = dev_addr(l, (size_t)(p - l->base));
        memcpy(df, &p, sizeof p);
    }
    return s;
}

fathom_status fathom_quant_device_upload(fathom_backend *dev, const fathom_weights *w, const fathom_engine_params *ep,
                                         void **dev_arena, size_t *dev_bytes, fathom_weights *dw,
                                         fathom_block_weights *dev_blocks) {
    const int file_kind = w->share ? fathom_packed_share_loaded(w->share) : -1;
    const int packed = ep->weights != FATHOM_WEIGHTS_DEFAULT || file_kind >= 0;
    if (packed && !dev->ops->load_packed)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "engine: the %s backend has no %s weights", dev->ops->name,
                           ep->weights == FATHOM_WEIGHTS_INT8 ? "int8" : ep->weights == FATHOM_WEIGHTS_Q4 ? "q4" : "packed");
    fathom_backend *cpu = NULL;     /* owned here: packs (or borrows the file's arrays) on the host */
    fathom_packed_blob *bl = NULL; /* owned here: views */
    hole *holes = NULL;             /* owned here */
    size_t n = 0, nh = 0;
    fathom_status s = FATHOM_OK;
    if (packed) {
        s = fathom_backend_cpu_create(ep->threads, &cpu);
        if (s == FATHOM_OK)
            s = fathom_cpu_prepare_weights(cpu, w, file_kind == FATHOM_PACKED_BF16 ? FATHOM_PRECISION_BF16
                                                                                    : FATHOM_PRECISION_DEFAULT,
                                           ep->weights);
        n = s == FATHOM_OK ? fathom_cpu_packed_blobs(cpu, NULL, 0) : 0;
        bl = n ? fathom_alloc(n * sizeof *bl) : NULL;
        if (n && !bl) s = fathom_fail(FATHOM_ERR_NOMEM, "engine: packed weight list");
        if (bl) {
            fathom_cpu_packed_blobs(cpu, bl, n);
            s = find_holes(w, bl, n, &holes, &nh);
        }
    }
    layout l = {NULL, w->arena_bytes, holes, nh};
    for (size_t i = 0; i < nh; i++) l.bytes -= holes[i].bytes;
    if (s == FATHOM_OK) s = dev->ops->alloc(dev, dev_arena, l.bytes);
    if (s == FATHOM_OK) {
        *dev_bytes = l.bytes, l.base = *dev_arena;
        s = fathom_weights_rebase(w, l.base, dw, dev_blocks);
    }
    if (s == FATHOM_OK) s = upload_layout(dev, w, &l, dw);
    if (s == FATHOM_OK && n) s = hand_over(dev, w, &l, bl, n, file_kind >= 0);
    fathom_free_sized(holes, holes ? n * sizeof *holes : 0);
    fathom_free_sized(bl, bl ? n * sizeof *bl : 0);
    fathom_backend_free(&cpu);
    return s;
}
