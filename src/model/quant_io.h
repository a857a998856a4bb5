/* quant_io.h - quantized weights in a safetensors file (`fathom quantize`, docs/models.md).
 *
 * A file holds every tensor of a Depth Anything V2 model under its official name: fp32
 * (F32) where the CPU engine computes in fp32, and, for each matrix the engine packs, the
 * packed arrays in the CPU backend's own layout instead of the fp32 tensor:
 *   NAME:q4 (U8, [Np, Kp/2]) and NAME:q4_scale (BF16, [Np, Kp/32])          --weights q4
 *   NAME:int8 (I8, [Np, Kp]), NAME:int8_scale (F32, [Np]), NAME:int8_colsum (I32, [Np])
 *   NAME:bf16 (BF16, [Np, Kp])         --precision bf16, and an int8 file's DPT convs
 * __metadata__ (all strings): format "fathom-quant", fathom_quant_version "1", layout
 * "fathom-cpu-1" (the packed layouts of cpu_bf16.h / cpu_q8.h / cpu_q4.h), architecture,
 * weights ("q4", "int8", "bf16"), config (the architecture as a Hugging Face config.json),
 * source (file name), source_sha256, and
 * packed: a JSON array of {"name", "kind", "N", "K", "Np", "Kp", "shape"} (the GEMM matrix,
 * padded, and the fp32 tensor's shape). Loading copies the packed arrays once and never
 * makes the fp32 tensors they stand for: no quantization, no fp32 copy. */
#ifndef FATHOM_MODEL_QUANT_IO_H
#define FATHOM_MODEL_QUANT_IO_H

#include "fathom.h"
#include "model/weights.h"

#define FATHOM_QUANT_FORMAT "fathom-quant"
#define FATHOM_QUANT_VERSION "1"
#define FATHOM_QUANT_LAYOUT "fathom-cpu-1"

/* 1 when path is a safetensors file whose metadata says format "fathom-quant" */
int fathom_quant_sniff(const char *path);
/* The weights of a quantized file; the share of *out holds its packed arrays. Errors name the
 * file and the first bad tensor or metadata key. */
fathom_status fathom_quant_load(const char *path, const fathom_model_params *params, fathom_weights **out);

/* A device engine's weights (quant_io_device.c): w's arena uploaded to dev as *dev_arena
 * (owned by the caller, *dev_bytes bytes) and *dw / dev_blocks (depth entries) pointing into
 * it. With ep->weights int8 / q4, or weights from a quantized file, the model's packed set
 * (made on the host in the CPU formats, or the file's) goes to dev's load_packed for every
 * encoder linear, whose fp32 weight is then not uploaded (its field is a key, never read);
 * a file's other packed tensors are dequantized into their slots. */
struct fathom_backend;
fathom_status fathom_quant_device_upload(struct fathom_backend *dev, const fathom_weights *w,
                                         const fathom_engine_params *ep, void **dev_arena, size_t *dev_bytes,
                                         fathom_weights *dw, fathom_block_weights *dev_blocks);

#endif
