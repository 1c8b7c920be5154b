#ifndef SLIM_CPU_KQUANTS_H
#define SLIM_CPU_KQUANTS_H
// The CPU backend's quantized GEMM over llama.cpp's k-quant super-blocks
// (Q4_K, Q6_K: 256 weights, layouts documented on QuantFormat). Each weight
// row is decoded one super-block at a time into 256 floats (or levels) on the
// stack, once per group of four tokens, and multiplied there: the weight is
// never expanded in memory. One source (cpu_kquants_body.h) compiled for
// plain C, AVX2/FMA and AVX-512 (F/BW/VL/VNNI), chosen by `isa` (a SLIM_ISA_
// level, see cpu_isa.h) and recorded as the QGEMM family's path.
// llama.cpp's 5-bit blocks of 32 (Q5_0, Q5_1) run through the same kernels,
// one block of 32 at a time: decoding a block to floats, then multiplying,
// is the same loop at any block width.
#include <stdint.h>

enum { SLIM_K_Q4_K = 0, SLIM_K_Q6_K = 1, SLIM_K_Q5_0 = 2, SLIM_K_Q5_1 = 3 };

/// Bytes of one (super-)block of `kind`.
int slim_kquant_block_bytes(int kind);

/// Weights in one (super-)block of `kind`: 256, or 32 for Q5_0/Q5_1.
int slim_kquant_block_weights(int kind);

/// out[t * os + r] = Σ_i x[t * xs + i] · w_r[i] for rows r in [first, first + count),
/// fp32 activations; `k` a multiple of the block's weights, rows `row_bytes` apart in `data`.
void slim_rows_kquant(const float *x, long xs, int tokens, const uint8_t *data, long row_bytes, int first, int count,
                      int k, int kind, float *out, long os, int isa);

/// Int8 activations (per-run scales `xd` and scaled sums `xsum`, k/32 of each per
/// token, see slim_quantize_runs_i8): each run of 32 contributes
/// a · xd · Σ qx·v + b · xsum in exact integer dot products, with Q4_K's v = u,
/// a = d·sc, b = −dmin·m, Q6_K's v = sc·(q − 32), a = d, b = 0, Q5_0's v = q − 16,
/// a = d, b = 0 and Q5_1's v = q, a = d, b = m.
void slim_rows_kquant_i8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *data,
                         long row_bytes, int first, int count, int k, int kind, float *out, long os, int isa);

/// One weight row of `k` values to fp32 (the large-M path's tiles), rounded as QuantCodec decodes.
void slim_kquant_dequant_row(const uint8_t *row, int k, int kind, float *out, int isa);

#endif
