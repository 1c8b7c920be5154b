#include "slim_memory.h"
#include <stdlib.h>  // <features.h>, which defines __GLIBC__ on glibc
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int slim_map_blocks_from(size_t bytes) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, (int)bytes);
#else
    (void)bytes;
    return 0;
#endif
}
