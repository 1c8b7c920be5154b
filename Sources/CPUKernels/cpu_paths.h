#ifndef SLIM_CPU_PATHS_H
#define SLIM_CPU_PATHS_H
// The kernel-path record's setter (internal: Swift reads the record through
// slim_paths_take in cpu_isa.h). One OR into a thread-local word per kernel
// call: no lock, no atomic, no branch.
#include "cpu_isa.h"

extern _Thread_local unsigned slim_paths_ran;

/// Notes that a kernel of `family` ran at `level` on this thread; returns `level`.
static inline int slim_ran(int family, int level) {
    slim_paths_ran |= 1u << (SLIM_PATH_BITS * family + level);
    return level;
}

#endif
