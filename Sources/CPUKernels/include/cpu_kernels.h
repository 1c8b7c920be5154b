#ifndef SLIM_CPU_KERNELS_H
#define SLIM_CPU_KERNELS_H
// Row kernels of the CPU backend's quantized GEMM: each computes the dot
// products of one compressed weight row with `tokens` (1...4) rows of the
// activations, so the row is decoded once for all of them. AVX2/FMA versions
// are chosen at run time; a portable version runs everywhere else. Every
// function with an `isa` argument runs at most that level (a SLIM_ISA_ value,
// see cpu_isa.h) and notes the level it ran there. The weight layouts are
// those documented on QuantFormat (SlimCore).
#include <stdint.h>
#include "cpu_activations.h"
#include "cpu_w8a8.h"
#include "cpu_attention.h"
#include "cpu_gemm.h"
#include "cpu_flash_attention.h"
#include "cpu_isa.h"
#include "cpu_pool.h"
#include "cpu_i22.h"
#include "cpu_kquants.h"

/// out[t * out_stride] = scale * sum_i x[t * x_stride + i] * w[i]   (int8 weights, fp32 math)
void slim_qrow_int8(const float *x, long x_stride, int tokens, const int8_t *w, int k, float scale,
                    float *out, long out_stride, int isa);

/// The 4-bit layouts slim_qrow_u4 reads.
enum { SLIM_U4_INT4_SYM = 0, SLIM_U4_INT4_ASYM = 1, SLIM_U4_Q4_0 = 2, SLIM_U4_Q4_1 = 3 };

/// 4-bit rows, decoded per 32-weight run to levels u in 0...15 with w = a * u + b:
/// out = sum over runs of a * dot(x_run, u) + b * xsum[t][run]. `row` is the
/// row's data; int4 rows take their group scales (and zero points, asymmetric)
/// from `scales`/`zeros`, one per 2^`group_shift` runs; Q4_0/Q4_1 read theirs from
/// the blocks. `xsum` holds the per-token run sums of x (`runs` values per token).
void slim_qrow_u4(const float *x, long x_stride, int tokens, const uint8_t *row, int runs, int kind, int group_shift,
                  const float *scales, const uint8_t *zeros, const float *xsum, float *out, long out_stride, int isa);

/// Q8_0: blocks of an fp16 scale and 32 int8, `runs` blocks.
void slim_qrow_q8_0(const float *x, long x_stride, int tokens, const uint8_t *blocks, int runs,
                    float *out, long out_stride, int isa);

/// W8A8: out[t] = sum_i qx[t * x_stride + i] * w[i] in int32; w takes any int8, qx
/// the symmetric −127...127 that slim_quantize_row_i8 gives.
void slim_qrow_i8i8(const int8_t *qx, long x_stride, int tokens, const int8_t *w, int k,
                    int32_t *out, long out_stride, int isa);

/// Decodes one weight row of K values to fp32 (a tile for the large-M path, which
/// multiplies cache-sized tiles with the platform sgemm). `kind` is SLIM_ROW_INT8,
/// SLIM_ROW_Q8_0 or one of the SLIM_U4_ kinds; `scale` is the int8 row scale.
enum { SLIM_ROW_INT8 = 16, SLIM_ROW_Q8_0 = 17 };
void slim_dequant_row(const uint8_t *row, int k, int kind, int group_shift, float scale, const float *scales,
                      const uint8_t *zeros, float *out, int isa);

/// Per-run sums of x (runs of 32) for `slim_qrow_u4`.
void slim_run_sums(const float *x, int runs, float *sums);

/// Row drivers: the row kernels above over rows [first, first + count) of a
/// weight (`row_bytes` apart; int4 scales/zeros `groups` per row), tiles of
/// 16 rows against groups of 4 tokens, so one call does a core's share with
/// no per-row call from Swift. Runs-layout kinds (Q8_0 and the 4-bit kinds).
/// f32 activations: `xsum` as for slim_qrow_u4 (unused for Q8_0). `isa` limits
/// the instruction set (a SLIM_ISA_ level, see cpu_isa.h): the AVX-512 level
/// has its own 4-bit kernel (AVX-512 F/BW/VL, no VNNI instruction needed).
void slim_rows_runs(const float *x, long xs, int tokens, const float *xsum, const uint8_t *data, long row_bytes,
                    int first, int count, int runs, int kind, int group_shift, const float *scales,
                    const uint8_t *zeros, int groups, float *out, long os, int isa);
/// int8 rows (one scale per row) with fp32 activations, in fp32 (AVX2/FMA or
/// portable); CPUs with AVX-512 VNNI take slim_rows_int8_i22 (cpu_i22.h) instead.
void slim_rows_int8(const float *x, long xs, int tokens, const int8_t *w, int k, const float *scales,
                    int first, int count, float *out, long os, int isa);
/// int8 activations with per-run scales `xd` and scaled run sums `xsum`
/// (`runs` of each per token, see slim_quantize_runs_i8):
/// out[t] = Σ_runs a · xd[t][run] · dot(qx_run, q) + b · xsum[t][run], the
/// integer dot products exact and (a, b) the run's scale and offset as in
/// slim_qrow_u4; int8 rows (SLIM_ROW_INT8) take their row scale from `scales`.
/// `isa` limits the instruction set (a SLIM_ISA_ level, see cpu_isa.h).
void slim_rows_runs_i8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum,
                       const uint8_t *data, long row_bytes, int first, int count, int runs, int kind, int group_shift,
                       const float *scales, const uint8_t *zeros, int groups, float *out, long os, int isa);

/// fp16 bits to float.
float slim_half_to_float(uint16_t h);

#endif
