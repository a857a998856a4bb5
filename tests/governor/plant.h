/* plant.h - the simulated device the governor tests drive (header-only, test side).
 *
 * A first-order lag: utilization u moves toward gain * (our activity) + other (another
 * process's load) with time constant tau; readings add Gaussian noise. Activity is either a
 * duty command (controller-only tests) or the 0/1 "engine busy" of a simulated inference
 * stage (whole-governor tests). Also a simulated power actuator and memory. */
#ifndef FATHOM_TEST_GOV_PLANT_H
#define FATHOM_TEST_GOV_PLANT_H

#include <math.h>
#include <stdint.h>

typedef struct plant {
    double t;        /* simulated clock, seconds */
    double u;        /* true utilization, fraction */
    double tau;      /* lag, seconds */
    double gain;     /* our activity -> utilization */
    double other;    /* load from another process, fraction */
    double noise;    /* reading noise, standard deviation (fraction) */
    uint64_t rng;
    /* memory */
    uint64_t mem_used, mem_total;
    /* power actuator */
    double power_cur, power_min, power_max;
    int power_allowed;   /* 0: "needs root" */
    int power_sets;      /* set calls seen */
} plant;

static inline double plant_rand(plant *p) { /* xorshift64*, uniform (0, 1) */
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return ((p->rng * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-12;
}

static inline double plant_gauss(plant *p) {
    double a = plant_rand(p), b = plant_rand(p);
    return sqrt(-2 * log(a)) * cos(6.283185307179586 * b);
}

/* Advance by dt with our activity in [0, 1]. */
static inline void plant_step(plant *p, double activity, double dt) {
    double goal = p->gain * activity + p->other;
    if (goal > 1) goal = 1;
    p->u += (goal - p->u) * (1 - exp(-dt / p->tau));
    p->t += dt;
}

/* A noisy reading, clamped to [0, 1] like a real counter. */
static inline double plant_read(plant *p) {
    double m = p->u + p->noise * plant_gauss(p);
    return m < 0 ? 0 : m > 1 ? 1 : m;
}

#endif
