/* cuda_ops.h - the CUDA kernels behind the op table (arguments as in backend/backend.h; all
 * tensors are device memory; every op is asynchronous on the backend's compute stream). */
#ifndef FATHOM_BACKEND_CUDA_CUDA_OPS_H
#define FATHOM_BACKEND_CUDA_CUDA_OPS_H

#include "backend/backend.h"

/* fathom_cuda_linear, fathom_cuda_conv2d, ... (ops.def) */
#define FATHOM_OP(name, params) void fathom_cuda_##name FATHOM_OP_PARAMS params;
#include "backend/ops.def"
#undef FATHOM_OP

#endif
