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
// - vdpbf16ps (AVX-512 BF16, bf16 weights): each activation is carried as
//   `parts` bf16 values whose sum is x, x = p₀ + p₁ (+ p₂): p₀ = bf16(x)
//   (nearest, ties to even), each next part the nearest bf16 of what is left
//   (every residual is exact in fp32). bf16 keeps 8 significant bits, so two
//   parts hold x within 2⁻¹⁶·|x| and three hold every fp32 x exactly (24
//   bits); each bf16 × bf16 product is exact in fp32 and accumulated in fp32,
//   one vdpbf16ps per part and 32 weights. Three parts: the products of fp32
//   activations, as the widening kernels compute them (only the order of the
//   fp32 additions differs). Two: activations of 16 bits (NMSE ≈ 1e-10
//   against the float64 product), a third fewer instructions. vdpbf16ps
//   treats subnormal inputs as zero: parts below 2⁻¹²⁶ are lost (the last
//   part of activations under 2⁻¹¹⁰ ≈ 8e-34), and subnormal bf16 weights (|w| < 1.2e-38) count
//   as zero.
//
// The CPU backend widens: on Zen 4 vdpbf16ps with three parts (or two) was
// never faster than widening and up to 3x slower with several tokens
// (CPUFloat16Weights.swift has the figures; scripts/w16_kernels_bench.c
// measures both). The vdpbf16ps kernel stays, tested by the C harness, for
// CPUs where the measurement may come out the other way.
#include <stdint.h>

/// The stored kinds: bf16 (fp32's upper half) and IEEE fp16.
enum { SLIM_W16_BF16 = 0, SLIM_W16_F16 = 1 };

/// Elements between a token's parts (k rounded up to 32, so every 32-weight
/// step reads whole vectors; the padding is zero).
int slim_w16_plane_stride(int k);

/// Whether slim_rows_w16 takes the vdpbf16ps kernel for `kind` at the limit
/// `isa` (a SLIM_ISA_ level, cpu_isa.h): bf16 weights, the AVX-512 level allowed,
/// and a CPU with AVX-512 BF16. Then the caller passes parts made by slim_w16_split.
int slim_w16_bf16_dot(int kind, int isa);

/// Splits a row of `k` activations into `count` (2 or 3) bf16 parts, part p at
/// planes[p · stride ..< p · stride + k] (stride = slim_w16_plane_stride(k),
/// tails zero). A non-finite x (±∞, NaN) is all in the first part, the others
/// 0, so ∞ stays ∞ and NaN NaN; a finite x past bf16's range takes its first
/// part truncated toward zero (finite).
void slim_w16_split(const float *x, int k, int count, uint16_t *planes);

/// y[t · ldy + r] = Σ_i x[t · xs + i] · w[r · k + i] for the rows r in
/// [first, first + count) and tokens t < `tokens` (any number: blocks of up to
/// four rows by four tokens keep their sums in registers). With `planes`
/// (`parts` per token, token t's at t · parts · stride) where
/// slim_w16_bf16_dot says so, the vdpbf16ps kernel; with `planes` NULL,
/// widening in registers at the best level within `isa` (AVX-512 F, AVX2 +
/// F16C, NEON or portable C).
void slim_rows_w16(const float *x, long xs, const uint16_t *planes, int parts, int tokens, const uint16_t *w, int k,
                   int kind, int first, int count, float *y, long ldy, int isa);

/// Widens `n` stored weights to fp32 (exact): the tiles of the many-token path.
void slim_w16_widen(const uint16_t *w, long n, int kind, float *out, int isa);

#endif
