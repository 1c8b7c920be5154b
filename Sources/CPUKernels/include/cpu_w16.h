#ifndef SLIM_CPU_W16_H
#define SLIM_CPU_W16_H
// 16-bit float weights (bf16, fp16) multiplied as they are stored, never
// copied to fp32: the weight-only product of the bf16 and f16 formats
// (QuantFormat in SlimCore). Two ways to reach the same fp32 result:
//
// - Widening in registers (every level): a bf16 weight is its fp32 bits'
//   upper half (a 16-bit shift), an fp16 weight widens through vcvtph2ps
//   (F16C, AVX-512) or fcvtl (NEON). Both widenings are exact, so each
//   product is the fp32 product of x and the stored weight, accumulated in
//   fp32 as the fp32 GEMM does.
// - vdpbf16ps (AVX-512 BF16, bf16 weights): the activations are carried as
//   two bf16 planes, hi = bf16(x) (nearest, ties to even) and lo = bf16(x − hi),
//   so x = hi + lo within 2⁻¹⁶·|x| (bf16 keeps 8 significant bits: hi is within
//   2⁻⁸·|x|, lo within 2⁻⁸ of the rest); each bf16 × bf16 product is exact in fp32 and accumulated in
//   fp32, two vdpbf16ps per 32 weights. The error is that of 16-bit
//   activations, NMSE ≈ 1e-10 against the float64 product (the fp32 GEMM's
//   NMSE bound is 1e-7). vdpbf16ps treats subnormal inputs as zero, so
//   activations below ~1e-36 (whose lo plane is subnormal) lose their lo
//   part, and subnormal bf16 weights (|w| < 1.2e-38) count as zero.
#include <stdint.h>

/// The stored kinds: bf16 (fp32's upper half) and IEEE fp16.
enum { SLIM_W16_BF16 = 0, SLIM_W16_F16 = 1 };

/// Elements between a token's hi and lo planes (k rounded up to 32, so every
/// 32-weight step reads whole vectors; the padding is zero).
int slim_w16_plane_stride(int k);

/// Whether slim_rows_w16 takes the vdpbf16ps kernel for `kind` at the limit
/// `isa` (a SLIM_ISA_ level, cpu_isa.h): bf16 weights, the AVX-512 level allowed,
/// and a CPU with AVX-512 BF16. Then the caller passes planes made by slim_w16_split.
int slim_w16_bf16_dot(int kind, int isa);

/// Splits a row of `k` activations into planes[0 ..< stride] = hi and
/// planes[stride ..< 2·stride] = lo (stride = slim_w16_plane_stride(k), tails
/// zero). Non-finite hi (x is ±∞ or NaN): lo = 0, so ∞ stays ∞ and NaN NaN;
/// a finite x beyond bf16's range takes hi truncated toward zero (finite).
void slim_w16_split(const float *x, int k, uint16_t *planes);

/// y[t · ldy + r] = Σ_i x[t · xs + i] · w[r · k + i] for the rows r in
/// [first, first + count) and tokens t < `tokens` (any number: blocks of up to
/// four rows by four tokens keep their sums in registers). With `planes`
/// (token t's at t · 2 · stride) where slim_w16_bf16_dot says so, the
/// vdpbf16ps kernel; with `planes` NULL, widening in registers at the best
/// level within `isa` (AVX-512 F, AVX2 + F16C, NEON or portable C).
void slim_rows_w16(const float *x, long xs, const uint16_t *planes, int tokens, const uint16_t *w, int k, int kind,
                   int first, int count, float *y, long ldy, int isa);

/// Widens `n` stored weights to fp32 (exact): the tiles of the many-token path.
void slim_w16_widen(const uint16_t *w, long n, int kind, float *out, int isa);

#endif
