#pragma once
#include <stddef.h>

// Blocks of at least `bytes` are mapped on their own and returned to the system when freed
// (glibc's mallopt(M_MMAP_THRESHOLD), which also stops glibc raising the threshold itself).
// Returns 0 where the C library has no such setting.
int slim_map_blocks_from(size_t bytes);
