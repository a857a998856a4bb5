/* cpu_features.c - which fast kernels this CPU (and OS) can run, and the variant override.
 *
 * Probed with cpuid/xgetbv rather than compiler builtins, which do not know AMX on GCC 12.
 * AMX tile data is off for every Linux process until it asks (arch_prctl), so AMX counts as
 * available only once that request succeeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_bf16.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/cpu_sgemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned probe(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    int zmm_os = (lo & 0xe6u) == 0xe6u; /* XMM, YMM, opmask, ZMM state enabled by the OS */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (zmm_os && (b & (1u << 16))) f |= FATHOM_CPU_F_AVX512F;
    if ((f & FATHOM_CPU_F_AVX512F) && (c & (1u << 11))) f |= FATHOM_CPU_F_AVX512VNNI;
    if ((d & (1u << 24)) && (d & (1u << 22))) f |= FATHOM_CPU_F_AMX_BF16;
    if ((d & (1u << 24)) && (d & (1u << 25))) f |= FATHOM_CPU_F_AMX_INT8;
    unsigned a1, b1, c1, d1;
    if ((f & FATHOM_CPU_F_AVX512F) && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) &&
        (a1 & (1u << 5)))
        f |= FATHOM_CPU_F_AVX512BF16;
    if (!(f & FATHOM_CPU_F_AVX512F)) f &= ~(unsigned)(FATHOM_CPU_F_AMX_BF16 | FATHOM_CPU_F_AMX_INT8);
    return f;
}

/* ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA: per process, idempotent */
static int amx_permit(void) { return syscall(SYS_arch_prctl, 0x1023, 18) == 0; }
#else
static unsigned probe(void) { return 0; }
static int amx_permit(void) { return 0; }
#endif

unsigned fathom_cpu_features(void) {
    static int done;
    static unsigned f;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        unsigned v = probe();
        if ((v & (FATHOM_CPU_F_AMX_BF16 | FATHOM_CPU_F_AMX_INT8)) && !amx_permit())
            v &= ~(unsigned)(FATHOM_CPU_F_AMX_BF16 | FATHOM_CPU_F_AMX_INT8);
        __atomic_store_n(&f, v, __ATOMIC_RELAXED); /* racing threads store the same value */
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&f, __ATOMIC_RELAXED);
}

int fathom_cpu_bf16_kernel_available(fathom_cpu_bf16_kernel k) {
    unsigned f = fathom_cpu_features();
    switch (k) {
    case FATHOM_CPU_BF16_PORTABLE: return 1;
    case FATHOM_CPU_BF16_AVX512: return (f & FATHOM_CPU_F_AVX512BF16) != 0;
    case FATHOM_CPU_BF16_AMX: /* its input rows are converted with AVX512-BF16 */
        return (f & FATHOM_CPU_F_AMX_BF16) && (f & FATHOM_CPU_F_AVX512BF16);
    }
    return 0;
}

const char *fathom_cpu_bf16_kernel_name(fathom_cpu_bf16_kernel k) {
    return k == FATHOM_CPU_BF16_AMX ? "amx" : k == FATHOM_CPU_BF16_AVX512 ? "avx512bf16" : "portable";
}

fathom_cpu_bf16_kernel fathom_cpu_bf16_kernel_pick(void) {
    const char *env = getenv("FATHOM_CPU_KERNEL");
    if (env)
        for (int k = FATHOM_CPU_BF16_PORTABLE; k <= FATHOM_CPU_BF16_AMX; k++)
            if (!strcmp(env, fathom_cpu_bf16_kernel_name(k)) && fathom_cpu_bf16_kernel_available(k))
                return k;
    for (int k = FATHOM_CPU_BF16_AMX; k > FATHOM_CPU_BF16_PORTABLE; k--)
        if (fathom_cpu_bf16_kernel_available(k)) return k;
    return FATHOM_CPU_BF16_PORTABLE;
}

void fathom_cpu_describe(fathom_backend *be, char *buf, size_t n) {
    static const struct { unsigned bit; const char *name; } names[] = {
        {FATHOM_CPU_F_AVX512F, "avx512f"},       {FATHOM_CPU_F_AVX512BF16, "avx512bf16"},
        {FATHOM_CPU_F_AVX512VNNI, "avx512vnni"}, {FATHOM_CPU_F_AMX_BF16, "amx-bf16"},
        {FATHOM_CPU_F_AMX_INT8, "amx-int8"},
    };
    int k = fathom_cpu_bf16_kernel_of(be), q = fathom_cpu_q8_kernel_of(be);
    int q4 = fathom_cpu_q4_kernel_of(be);
    const char *fmt = k >= 0 ? "bf16" : q >= 0 ? "int8 weights" : q4 >= 0 ? "q4 weights" : "fp32";
    const char *kern = k >= 0    ? fathom_cpu_bf16_kernel_name(k)
                       : q >= 0  ? fathom_cpu_q8_kernel_name(q)
                       : q4 >= 0 ? fathom_cpu_bf16_kernel_name(q4)
                       : fathom_cpu_sgemm_bytes(be) ? "avx512 sgemm (fp32 weight panels)"
                                 : "openblas sgemm";
    size_t packed, fp32;
    char mem[96] = "";
    fathom_cpu_packed_bytes(be, &packed, &fp32);
    if (packed)
        snprintf(mem, sizeof mem, " (packed weights %.1f MiB for %.1f MiB of fp32)",
                 packed / 1048576.0, fp32 / 1048576.0);
    size_t used = (size_t)snprintf(buf, n, "cpu %s, gemm %s%s; cpu features", fmt, kern, mem);
    unsigned f = fathom_cpu_features();
    for (size_t i = 0; i < sizeof names / sizeof names[0] && used < n; i++)
        if (f & names[i].bit) used += (size_t)snprintf(buf + used, n - used, " %s", names[i].name);
    if (!f && used < n) snprintf(buf + used, n - used, " (none used)");
}
