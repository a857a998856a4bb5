/* quant_io_device.c - int8 / q4 weights on a device engine (`--weights int8|q4 --device
 * cuda`, and quantized files on a device).
 *
 * The formats are the CPU's: a CPU backend packs the model's linear weights (or borrows a
 * quantized file's arrays, through the model's packed share) and each int8 / q4 matrix of an
 * encoder linear goes to the device backend's load_packed under its fp32 weight's device
 * address, so the device GEMMs compute in the same format as the CPU. A quantized file has
 * no fp32 tensors for what it packed: every packed matrix is also dequantized into its fp32
 * slot on the device (the values the CPU computes with), so the ops left in fp32 there (the
 * DPT head's convs) read the file's weights. */
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

static fathom_status hand_over(fathom_backend *dev, const fathom_weights *w, void *dev_arena,
                               const fathom_packed_blob *bl, size_t n, int from_file) {
    size_t most = 0;
    for (size_t i = 0; i < n; i++)
        if ((size_t)bl[i].N * bl[i].K > most) most = (size_t)bl[i].N * bl[i].K;
    float *tmp = from_file ? fathom_alloc(2 * most * sizeof *tmp) : NULL; /* owned here */
    if (from_file && !tmp) return fathom_fail(FATHOM_ERR_NOMEM, "engine: dequantizing buffer");
    fathom_status s = FATHOM_OK;
    for (size_t i = 0; i < n && s == FATHOM_OK; i++) {
        const fathom_packed_blob *b = &bl[i];
        size_t off = (size_t)((const char *)b->src - (const char *)w->arena);
        if ((const char *)b->src < (const char *)w->arena || off + (size_t)b->N * b->K * sizeof(float) > w->arena_bytes) {
            s = fathom_fail(FATHOM_ERR_INTERNAL, "engine: a packed weight outside the model's arena");
            break;
        }
        float *dst = (float *)((char *)dev_arena + off);
        fathom_packed_mat pm = {(int)b->kind, b->N, b->K, b->Np, b->Kp, b->a, b->b, b->na, b->nb};
        if (from_file) {
            dequant_tensor(tmp, tmp + most, w, b, &pm);
            s = dev->ops->upload(dev, dst, tmp, (size_t)b->N * b->K * sizeof(float));
        }
        if (s == FATHOM_OK && b->kind != FATHOM_PACKED_BF16 && is_linear(w, b->src))
            s = dev->ops->load_packed(dev, dst, &pm);
    }
    fathom_free_sized(tmp, tmp ? 2 * most * sizeof *tmp : 0);
    return s;
}

fathom_status fathom_quant_device_prepare(fathom_backend *dev, const fathom_weights *w, void *dev_arena,
                                          const fathom_engine_params *ep) {
    const int file_kind = w->share ? fathom_packed_share_loaded(w->share) : -1;
    if (ep->weights == FATHOM_WEIGHTS_DEFAULT && file_kind < 0) return FATHOM_OK; /* fp32 as given */
    if (!dev->ops->load_packed)
        return fathom_fail(FATHOM_ERR_UNSUPPORTED, "engine: the %s backend has no %s weights", dev->ops->name,
                           ep->weights == FATHOM_WEIGHTS_INT8 ? "int8" : ep->weights == FATHOM_WEIGHTS_Q4 ? "q4" : "packed");
    fathom_backend *cpu = NULL; /* owned here: packs (or borrows the file's arrays) on the host */
    fathom_status s = fathom_backend_cpu_create(ep->threads, &cpu);
    if (s == FATHOM_OK)
        s = fathom_cpu_prepare_weights(cpu, w, file_kind == FATHOM_PACKED_BF16 ? FATHOM_PRECISION_BF16
                                                                                : FATHOM_PRECISION_DEFAULT,
                                       ep->weights);
    size_t n = s == FATHOM_OK ? fathom_cpu_packed_blobs(cpu, NULL, 0) : 0;
    fathom_packed_blob *bl = n ? fathom_alloc(n * sizeof *bl) : NULL; /* owned here: views */
    if (n && !bl) s = fathom_fail(FATHOM_ERR_NOMEM, "engine: packed weight list");
    if (bl) {
        fathom_cpu_packed_blobs(cpu, bl, n);
        s = hand_over(dev, w, dev_arena, bl, n, file_kind >= 0);
    }
    fathom_free_sized(bl, bl ? n * sizeof *bl : 0);
    fathom_backend_free(&cpu);
    return s;
}
