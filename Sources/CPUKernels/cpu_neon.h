#ifndef SLIM_CPU_NEON_H
#define SLIM_CPU_NEON_H
// The ARM64 NEON kernels (cpu_neon.c), internal to CPUKernels: the public
// entry points of cpu_kernels.c and cpu_w8a8.c call them through
// SLIM_NEON_DISPATCH, one line at the top of each, so the x86 code around
// stays as it was. Arguments and results are those of the entry point each
// serves; `dotprod` picks sdot (the dot-product extension) over smull/sadalp.
#include "cpu_paths.h"
#include <stdint.h>

/// SLIM_ISA_NEON_DOTPROD where the CPU has the dot-product extension
/// (getauxval's HWCAP_ASIMDDP on Linux, hw.optional.arm.FEAT_DotProd on
/// macOS), SLIM_ISA_NEON otherwise; SLIM_ISA_PORTABLE on other architectures.
int slim_neon_isa(void);

#if defined(__aarch64__)
#define SLIM_HAVE_NEON 1
/// At the top of an entry point: when the limit `isa` allows NEON, notes
/// `level` = min(limit, CPU, `top`) (`top`: the best level the kernel has, so
/// a kernel without an sdot form notes NEON), runs `call` (which may read
/// `level` to pick sdot) and returns from the entry point.
#define SLIM_NEON_DISPATCH(family, isa, top, call)                      \
    do {                                                                \
        int level = slim_isa_within(isa);                               \
        level = level < (top) ? level : (top);                          \
        if (level >= SLIM_ISA_NEON) {                                   \
            slim_ran(family, level);                                    \
            call;                                                       \
            return;                                                     \
        }                                                               \
    } while (0)
/// The same for an entry point with a result: returns `expr`'s value.
#define SLIM_NEON_RETURN(family, isa, top, expr)                        \
    do {                                                                \
        int level = slim_isa_within(isa);                               \
        level = level < (top) ? level : (top);                          \
        if (level >= SLIM_ISA_NEON) {                                   \
            slim_ran(family, level);                                    \
            return expr;                                                \
        }                                                               \
    } while (0)

void slim_neon_qrow_int8(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os);
/// The 4-bit kinds and Q8_0 (SLIM_ROW_Q8_0; scales, zeros and xsum unused) with fp32 activations.
void slim_neon_runs_f32(const float *x, long xs, int tokens, const uint8_t *row, int runs, int kind, int group_shift,
                        const float *scales, const uint8_t *zeros, const float *xsum, float *out, long os);
void slim_neon_dequant_row(const uint8_t *row, int k, int kind, int group_shift, float scale, const float *scales,
                           const uint8_t *zeros, float *out);
float slim_neon_quantize_row_i8(const float *x, int k, int8_t *q);
void slim_neon_runs_i8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *row,
                       int runs, int kind, int group_shift, const float *scales, const uint8_t *zeros, float *out, long os,
                       int dotprod);
void slim_neon_i8i8(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os, int dotprod);
void slim_neon_gemm_w8a8(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n, int k,
                         const float *bias, float *y, long ldy, int dotprod);
#else
#define SLIM_HAVE_NEON 0
#define SLIM_NEON_DISPATCH(family, isa, top, call) ((void)0)
#define SLIM_NEON_RETURN(family, isa, top, expr) ((void)0)
#endif

#endif
