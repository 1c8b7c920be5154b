#ifndef SLIM_CPU_U4_LAYOUT_H
#define SLIM_CPU_U4_LAYOUT_H
// Where a 4-bit row keeps its runs' levels and scales (QuantFormat in
// SlimCore documents the layouts), shared by the x86 kernels (cpu_kernels.c)
// and the NEON ones (cpu_neon.c).
#include "cpu_kernels.h"

// The (a, b) of run r of a 4-bit row: w = a * u + b for levels u in 0...15.
// Written once, instantiated with the portable fp16 decoder, F16C's and NEON's.
#define DEFINE_U4_PARAMS(NAME, ATTR, HALF)                                                              \
    ATTR static inline void NAME(const uint8_t *row, int r, int kind, int group_shift, const float *scales, \
                                 const uint8_t *zeros, float *a, float *b) {                          \
        switch (kind) {                                                                                \
        case SLIM_U4_INT4_SYM: *a = scales[r >> group_shift]; *b = -8 * *a; break;                     \
        case SLIM_U4_INT4_ASYM: *a = scales[r >> group_shift]; *b = -*a * zeros[r >> group_shift]; break; \
        case SLIM_U4_Q4_0: *a = HALF(row + r * 18); *b = -8 * *a; break;                               \
        default: *a = HALF(row + r * 20); *b = HALF(row + r * 20 + 2); break;                          \
        }                                                                                              \
    }

// Where run r's 16 bytes of nibbles start.
static inline const uint8_t *u4_nibbles(const uint8_t *row, int r, int kind) {
    return kind == SLIM_U4_Q4_0 ? row + r * 18 + 2 : kind == SLIM_U4_Q4_1 ? row + r * 20 + 4 : row + r * 16;
}

#endif
