#include "cpu_paths.h"

_Thread_local unsigned slim_paths_ran;

unsigned slim_paths_take(void) {
    const unsigned bits = slim_paths_ran;
    slim_paths_ran = 0;
    return bits;
}

void slim_paths_add(unsigned bits) { slim_paths_ran |= bits; }

void slim_paths_merge(unsigned *word, unsigned bits) {
    if (bits) __atomic_fetch_or(word, bits, __ATOMIC_RELAXED);
}
