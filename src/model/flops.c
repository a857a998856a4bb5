/* flops.c - floating-point operations (2 x multiply-adds) of one forward pass, counting the
 * GEMM/conv/attention work only (norms, activations and resizes are a few percent). */
#include "fathom.h"
#include "model/depthpro_engine.h"
#include "model/model.h"

static double conv(double ho, double wo, double ci, double co, double k) {
    return 2.0 * ho * wo * ci * co * k * k;
}

double fathom_model_flops(const fathom_model *m, int net_h, int net_w) {
    if (m && m->dp) return fathom_dp_flops(m->dp); /* fixed 1536^2 input */
    if (!m || !m->w || net_h <= 0 || net_w <= 0) return 0.0;
    const fathom_arch *a = &m->w->arch;
    if (a->patch <= 0) return 0.0;
    const double gh = net_h / a->patch, gw = net_w / a->patch, N = gh * gw, L = N + 1;
    const double D = a->embed_dim, Hm = a->mlp_hidden, F = a->features, P = a->patch;
    double f = 2.0 * N * D * 3 * P * P; /* patch embedding */
    double mlp = a->swiglu ? 2.0 * L * D * 2 * Hm + 2.0 * L * Hm * D : 4.0 * L * D * Hm;
    double block = 2.0 * L * D * 3 * D   /* qkv */
                   + 4.0 * L * L * D     /* q k^T and p v over all heads */
                   + 2.0 * L * D * D     /* proj */
                   + mlp;
    f += a->depth * block;

    double hk[4] = {4 * gh, 2 * gh, gh, (double)(((int)gh - 1) / 2 + 1)};
    double wk[4] = {4 * gw, 2 * gw, gw, (double)(((int)gw - 1) / 2 + 1)};
    for (int k = 0; k < 4; k++) {
        double O = a->out_ch[k];
        f += conv(gh, gw, D, O, 1);                       /* projects[k] */
        if (k == 0) f += conv(gh, gw, O, O, 4);           /* ConvTranspose 4x4 / 4 */
        if (k == 1) f += conv(gh, gw, O, O, 2);           /* ConvTranspose 2x2 / 2 */
        if (k == 3) f += conv(hk[3], wk[3], O, O, 3);     /* Conv 3x3 / 2 */
        f += conv(hk[k], wk[k], O, F, 3);                 /* layer_rn */
    }
    for (int k = 0; k < 4; k++) {
        double rcu_convs = k == 3 ? 2 : 4; /* refinenet4 has no RCU1 input */
        f += rcu_convs * conv(hk[k], wk[k], F, F, 3);
        double oh = k > 0 ? hk[k - 1] : 2 * hk[0], ow = k > 0 ? wk[k - 1] : 2 * wk[0];
        f += conv(oh, ow, F, F, 1); /* out_conv */
    }
    f += conv(8 * gh, 8 * gw, F, F / 2, 3);                 /* output_conv1 */
    f += conv(net_h, net_w, F / 2, a->head_hidden, 3);      /* output_conv2[0] */
    f += conv(net_h, net_w, a->head_hidden, 1, 1);          /* output_conv2[2] */
    return f;
}
