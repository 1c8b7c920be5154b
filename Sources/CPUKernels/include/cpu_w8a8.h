#ifndef SLIM_CPU_W8A8_H
#define SLIM_CPU_W8A8_H
// W8A8 GEMM of the CPU backend: int8 activations (one scale per token) times
// int8 weights (one scale per output row), exact int32 dot products.
#include <stdint.h>

/// Quantizes a row to int8 with scale max|x|/127, rounding half away from zero
/// (QuantCodec.quantizeActivationRow, bit for bit). Returns the scale. `isa`
/// limits the instruction set (a SLIM_ISA_ level, see cpu_isa.h).
float slim_quantize_row_i8(const float *x, int k, int8_t *q, int isa);

/// Quantizes a row of `k` values for the run kernels (slim_rows_runs_i8):
/// with `per_run`, each run of 32 gets its own scale, max|x|/127 rounded to
/// fp16 as llama.cpp's Q8_0/Q8_1 activation blocks store it (k a multiple of
/// 32); otherwise the whole row shares one. Writes each run's scale `xd` and
/// `xsum` = scale · Σ q over the run.
void slim_quantize_runs_i8(const float *x, int k, int per_run, int8_t *q, float *xd, float *xsum, int isa);

/// y[t * ldy + r] = sx[t] * sw[r] * Σ_i qx[t * k + i] * w[r * k + i] (+ bias[r])
/// for tokens t < m and weight rows r < n. Weight rows are taken two (AVX2)
/// or four (AVX-512 VNNI) at a time against four tokens, so each weight row is
/// read once per four tokens from L1 and each activation once per group of
/// rows. `isa` limits the instruction set (a SLIM_ISA_ level, see cpu_isa.h).
void slim_gemm_w8a8(const int8_t *qx, const float *sx, int m, const int8_t *w, const float *sw, int n, int k,
                    const float *bias, float *y, long ldy, int isa);

#endif
