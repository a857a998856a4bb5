/* sim_engine.h - the simulated engine of scaling benchmarks (bench/scale_sim.sh), compiled only
 * with CMake -DFATHOM_SIM_ENGINE=ON (a test build; release builds have no trace of it). With
 * FATHOM_SIM_FRAME_MS=<ms> set in such a build, every engine forward sleeps ms per image instead
 * of computing (like an accelerator: no host CPU used), and writes a deterministic depth made
 * from the input pixels, so chunk merges, seams and outputs still work and chunked == single
 * pass holds. Many ranks then fit on a 2-core machine and measure coordination, not compute. */
#ifndef FATHOM_CLUSTER_SIM_ENGINE_H
#define FATHOM_CLUSTER_SIM_ENGINE_H

/* 1 when the simulation is on and did the forward (x: batch x 3 x h x w, depth: batch x h x w);
 * other builds get a constant 0 that the compiler removes, so callers need no #ifdef. */
#ifdef FATHOM_SIM_ENGINE
int fathom_sim_forward(const float *x, int batch, int net_h, int net_w, float *depth);
#else
static inline int fathom_sim_forward(const float *x, int batch, int net_h, int net_w,
                                     float *depth) {
    (void)x, (void)batch, (void)net_h, (void)net_w, (void)depth;
    return 0;
}
#endif

#endif
