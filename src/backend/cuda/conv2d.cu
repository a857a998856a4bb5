/* conv2d.cu - convolution as GEMM on cuBLASLt.
 *
 * 1x1, stride 1, no padding, no input ReLU: the NCHW input of one image already is the
 * column-major (H W x Ci) operand, so it is a single GEMM. Otherwise im2col builds a tile of
 * output pixels in the scratch ((Ci k k) rows x pc pixels, pixel-contiguous so reads of the
 * input and writes of the tile are coalesced) and each tile is one GEMM writing straight into
 * the NCHW output: column-major D (pixels x Co) with ld = Ho Wo. Bias, residual and the output
 * ReLU run in one pass afterwards. */
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_ops.h"

/* col (R = Ci k k, pc) for output pixels p0 .. p0 + pc of one image */
static __global__ void k_im2col(float *col, const float *in, int H, int W, int k, int stride,
                                int pad, int Wo, int p0, int pc, size_t n, int relu_in) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int p = (int)(i % pc), r = (int)(i / pc);
        int kx = r % k, ky = (r / k) % k, ci = r / (k * k);
        int op = p0 + p, oy = op / Wo, ox = op % Wo;
        int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
        float v = 0.0f;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = in[((size_t)ci * H + iy) * W + ix];
        if (relu_in) v = fmaxf(v, 0.0f);
        col[i] = v;
    }
}

/* out (B, Co, HW) = out + b[co] + residual, then ReLU when asked */
static __global__ void k_conv_epilogue(float *out, const float *b, const float *res, int Co,
                                       size_t HW, size_t n, int relu_out) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = out[i];
        if (b) v += b[(i / HW) % (size_t)Co];
        if (res) v += res[i];
        out[i] = relu_out ? fmaxf(v, 0.0f) : v;
    }
}

void fathom_cuda_conv2d(fathom_backend *be, float *out, const float *in, const float *w,
                        const float *b, const float *residual, int B, int Ci, int H, int W,
                        int Co, int k, int stride, int pad, int flags) {
    cuda_ctx *c = cuda_of(be);
    if (B <= 0 || Co <= 0 || k <= 0 || stride <= 0) return;
    const int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    if (Ho <= 0 || Wo <= 0) return;
    const size_t HWo = (size_t)Ho * Wo;
    const int R = Ci * k * k;
    const int relu_in = (flags & FATHOM_CONV_RELU_IN) != 0;
    /* residual == out: let the GEMM add onto it (beta = 1) instead of reading it afterwards */
    const int acc = residual && residual == out;
    const float *res = acc ? NULL : residual;
    if (HWo > 0x7fffffff) {
        cuda_set_error(c, FATHOM_ERR_TOO_LARGE, "cuda conv2d: %dx%d output is too large", Ho, Wo);
        return;
    }
    if (k == 1 && stride == 1 && pad == 0 && !relu_in) {
        for (int bt = 0; bt < B; bt++)
            cuda_gemm(c, 0, 0, (int)HWo, Co, Ci, in + (size_t)bt * Ci * H * W, (int)HWo, w, Ci,
                      out + (size_t)bt * Co * HWo, (int)HWo, NULL, acc);
    } else {
        size_t cap = c->scratch_bytes / sizeof(float) / (size_t)R;
        cap = cap / 64 * 64; /* tiles start at 256-byte offsets of the output row */
        if (cap == 0) {
            cuda_set_error(c, FATHOM_ERR_INTERNAL, "cuda conv2d: %d x %d x %d taps exceed the scratch",
                           Ci, k, k);
            return;
        }
        for (int bt = 0; bt < B; bt++) {
            const float *src = in + (size_t)bt * Ci * H * W;
            float *dst = out + (size_t)bt * Co * HWo;
            for (size_t p0 = 0; p0 < HWo; p0 += cap) {
                int pc = (int)(HWo - p0 < cap ? HWo - p0 : cap);
                size_t n = (size_t)R * pc;
                k_im2col<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(
                    c->scratch, src, H, W, k, stride, pad, Wo, (int)p0, pc, n, relu_in);
                cuda_check_launch(c, "im2col");
                cuda_gemm(c, 0, 0, pc, Co, R, c->scratch, pc, w, R, dst + p0, (int)HWo, NULL, acc);
            }
        }
    }
    const int relu_out = (flags & FATHOM_CONV_RELU_OUT) != 0;
    if (b || res || relu_out) {
        size_t n = (size_t)B * Co * HWo;
        k_conv_epilogue<<<cuda_blocks(n, 256), 256, 0, c->stream>>>(out, b, res, Co, HWo, n, relu_out);
        cuda_check_launch(c, "conv2d epilogue");
    }
}
