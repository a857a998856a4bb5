/* cuda_backend.h - the CUDA backend module's own entry points (C API, callable from C).
 *
 * Inside libfathom-cuda.so (src/backend/cuda/module_cuda.c exports them to the loader as a
 * fathom_backend_module); libfathom itself reaches the backend only through the loader and the
 * op table. GPU tests that need the device pre/post-processing link these objects directly.
 * Everything takes a backend made by fathom_cuda_backend_create. Device pointers are marked
 * `_dev`; host pointers given to the *_async calls must come from fathom_cuda_host_alloc
 * (pinned), so copies really overlap compute. Defined only in builds with FATHOM_HAVE_CUDA. */
#ifndef FATHOM_BACKEND_CUDA_CUDA_BACKEND_H
#define FATHOM_BACKEND_CUDA_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 when there is no driver or no device. */
int fathom_cuda_devices(void);

/* The backend (arguments as fathom_backend_cuda_create in backend/backend.h). */
fathom_status fathom_cuda_backend_create(int device, fathom_precision precision,
                                         size_t mem_limit, fathom_backend **out);
/* Frees a CUDA backend (its ops->destroy, called by fathom_backend_free). */
void fathom_cuda_backend_destroy(fathom_backend *be);

/* The precision the backend resolved (FP32, FP16 or BF16; never DEFAULT). */
fathom_precision fathom_cuda_precision(fathom_backend *be);

/* ---- the optional op-table entries (backend/backend.h describes them) ---- */
fathom_status fathom_cuda_host_alloc(fathom_backend *be, void **p, size_t bytes);
void fathom_cuda_host_free(fathom_backend *be, void *p); /* accepts NULL */
fathom_status fathom_cuda_upload_async(fathom_backend *be, void *dst_dev, const void *src_pinned,
                                       size_t bytes);
fathom_status fathom_cuda_download_async(fathom_backend *be, void *dst_pinned,
                                         const void *src_dev, size_t bytes);
fathom_status fathom_cuda_copy_wait(fathom_backend *be);
/* CUDA graphs, one per key: reserve_scratch drops them itself when it moves its scratch. */
fathom_status fathom_cuda_graph_begin(fathom_backend *be);
fathom_status fathom_cuda_graph_end(fathom_backend *be, long long key);
fathom_status fathom_cuda_graph_launch(fathom_backend *be, long long key);
void fathom_cuda_graph_reset(fathom_backend *be);

/* ---- pre/post-processing on the device ---- */
/* rgb_dev: B images of h0 x w0 RGB8 with `stride` bytes per row, image i at rgb_dev + i *
 * h0 * stride -> out_dev (B, 3, net_h, net_w): /255, cv2 INTER_CUBIC (A = -0.75), ImageNet
 * normalization, in fp32 (twin: fathom_preprocess, float64). */
void fathom_cuda_preprocess(fathom_backend *be, float *out_dev, const uint8_t *rgb_dev, int B,
                            int h0, int w0, size_t stride, int net_h, int net_w);
/* Depth (B, h, w) -> (B, h0, w0), bilinear align_corners (twin: fathom_resize_depth). */
void fathom_cuda_resize_depth(fathom_backend *be, float *out_dev, const float *in_dev, int B,
                              int h, int w, int h0, int w0);
/* Per-image finite min and max of depth (B, n) into range_dev (B, 2) = {lo, hi}; both 0 when
 * an image has no finite value (twin: fathom_norm_range without fixed bounds). */
void fathom_cuda_minmax(fathom_backend *be, float *range_dev, const float *depth_dev, int B,
                        size_t n);
/* Codes (B, n) from depth and range_dev (B, 2) (twins: fathom_normalize_u8 / _u16). */
void fathom_cuda_quantize_u8(fathom_backend *be, uint8_t *out_dev, const float *depth_dev,
                             const float *range_dev, int B, size_t n, int invert);
void fathom_cuda_quantize_u16(fathom_backend *be, uint16_t *out_dev, const float *depth_dev,
                              const float *range_dev, int B, size_t n, int invert);
/* rgb_dev (n, 3) = lut_dev[q_dev[i]]; lut_dev is 256 x 3 bytes in device memory. */
void fathom_cuda_colormap(fathom_backend *be, uint8_t *rgb_dev, const uint8_t *q_dev,
                          const uint8_t *lut_dev, size_t n);

#ifdef __cplusplus
}
#endif

#endif
