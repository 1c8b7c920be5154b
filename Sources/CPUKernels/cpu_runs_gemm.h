#ifndef SLIM_CPU_RUNS_GEMM_H
#define SLIM_CPU_RUNS_GEMM_H
// The tiled 4-bit × int8-activation GEMM for prompts (internal: slim_rows_runs_i8
// in cpu_kernels.c takes it from RUNS_GEMM_MIN_TOKENS tokens on AVX-512 VNNI).
#include "cpu_kernels.h"

/// From this many tokens, 16-row panels decoded once beat the row kernels,
/// which decode each run again per pair of tokens.
enum { RUNS_GEMM_MIN_TOKENS = 16 };

/// slim_rows_runs_i8 for the 4-bit kinds (SLIM_U4_*), same arguments and
/// results, on AVX-512 VNNI (the caller checks the CPU). Returns 0, having
/// written nothing, where its panel buffers cannot be allocated or off x86-64.
int slim_runs_gemm_i8_vnni(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *data,
                           long row_bytes, int first, int count, int runs, int kind, int group_shift, const float *scales,
                           const uint8_t *zeros, int groups, float *out, long os);

#endif
