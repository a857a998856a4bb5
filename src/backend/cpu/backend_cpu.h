/* backend_cpu.h - CPU backend entry points used by backend.c (not part of the op table). */
#ifndef FATHOM_BACKEND_CPU_BACKEND_CPU_H
#define FATHOM_BACKEND_CPU_BACKEND_CPU_H

#include "backend/backend.h"

/* Frees a backend made by fathom_backend_cpu_create; accepts NULL. */
void fathom_backend_cpu_destroy(fathom_backend *be);

#endif
