#include "cpu_isa.h"

// One table per architecture: the levels' numbers are shared (see cpu_isa.h).
const char *slim_isa_name(int level) {
#if defined(__aarch64__)
    static const char *const names[] = {"portable", "neon", "neon-dotprod"};
#else
    static const char *const names[] = {"portable", "avx2", "avx512-vnni"};
#endif
    return level >= 0 && level <= 2 ? names[level] : "unknown";
}
