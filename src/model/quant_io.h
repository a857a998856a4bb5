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

/* A device engine's int8 / q4 weights (quant_io_device.c): with ep->weights int8 / q4, or
 * weights from a quantized file, the model's packed set (made on the host in the CPU formats,
 * or the file's) goes to dev's load_packed for every encoder linear; a file's packed tensors
 * are also dequantized into their fp32 slots of dev_arena (w's arena uploaded to dev).
 * Nothing to do (FATHOM_OK) for fp32 weights. */
struct fathom_backend;
fathom_status fathom_quant_device_prepare(struct fathom_backend *dev, const fathom_weights *w, void *dev_arena,
                                          const fathom_engine_params *ep);

#endif
