/* cpu_attention_flash.h - the AVX512-BF16 flash attention kernel (cpu_attention_bf16flash.c),
 * for CPUs with AVX512-BF16 and no AMX (Zen 4), called by cpu_attention_bf16.c. */
#ifndef FATHOM_BACKEND_CPU_ATTENTION_FLASH_H
#define FATHOM_BACKEND_CPU_ATTENTION_FLASH_H

#include "backend/cpu/cpu_bf16.h"

/* out rows r < rows (ld ldo) = softmax(q k^T) v for q (rows x hd bf16, ld hd, scale applied)
 * against km (keys x hd) and vm (v^T: hd x keys) packed as cpu_attention_bf16.c packs them
 * (hd = km->K, a multiple of 32). scratch: FATHOM_BF16_FLASH_BYTES(hd) bytes, 64-byte
 * aligned. Call only where fathom_cpu_attention_bf16flash_built() is 1 and the CPU has
 * AVX512-BF16. */
void fathom_cpu_attention_bf16flash(float *out, size_t ldo, int rows, const uint16_t *q,
                                    const fathom_bf16_mat *km, const fathom_bf16_mat *vm, int L,
                                    void *scratch);
int fathom_cpu_attention_bf16flash_built(void);

#endif
