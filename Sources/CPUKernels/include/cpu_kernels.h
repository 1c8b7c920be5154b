#ifndef SLIM_CPU_KERNELS_H
#define SLIM_CPU_KERNELS_H
// Row kernels of the CPU backend's quantized GEMM: each computes the dot
// products of one compressed weight row with `tokens` (1...4) rows of the
// activations, so the row is decoded once for all of them. AVX2/FMA versions
// are chosen at run time; a portable version runs everywhere else. The weight
// layouts are those documented on QuantFormat (SlimCore).
#include <stdint.h>

/// out[t * out_stride] = scale * sum_i x[t * x_stride + i] * w[i]   (int8 weights, fp32 math)
void slim_qrow_int8(const float *x, long x_stride, int tokens, const int8_t *w, int k, float scale,
                    float *out, long out_stride);

/// 4-bit rows (int4 groups, Q4_0, Q4_1) decoded per 32-weight run (16 bytes, runs
/// `run_stride` bytes apart) to u in 0...15:
/// out = sum over runs r of a[r] * dot(x_run, u_run) + b[r] * xsum[t][r], where the
/// caller supplies a and b per run (scale and -scale*zero, or d and m) and the
/// per-token run sums of x (xsum, `runs` values per token).
void slim_qrow_u4(const float *x, long x_stride, int tokens, const uint8_t *nibbles, long run_stride, int runs,
                  const float *a, const float *b, const float *xsum, float *out, long out_stride);

/// Q8_0: blocks of an fp16 scale and 32 int8, `runs` blocks.
void slim_qrow_q8_0(const float *x, long x_stride, int tokens, const uint8_t *blocks, int runs,
                    float *out, long out_stride);

/// W8A8: out[t] = sum_i qx[t * x_stride + i] * w[i] in int32.
void slim_qrow_i8i8(const int8_t *qx, long x_stride, int tokens, const int8_t *w, int k,
                    int32_t *out, long out_stride);

/// Per-run sums of x (runs of 32) for `slim_qrow_u4`.
void slim_run_sums(const float *x, int runs, float *sums);

/// fp16 bits to float.
float slim_half_to_float(uint16_t h);

#endif
