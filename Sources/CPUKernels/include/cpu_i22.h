#ifndef SLIM_CPU_I22_H
#define SLIM_CPU_I22_H
// int8 weight rows (one scale per row) times fp32 activations through integer
// dot products, without giving up the weight-only accuracy: each activation
// row is carried as 22-bit fixed point with one scale per row,
//   s = max|x| / (2²¹ − 1),  q = round(x / s)  (ties to even),
// so |x − s·q| ≤ s/2 ≈ max|x|·2⁻²² per element (2.4e-7 of the row's largest
// value). q is stored as three signed-byte digit planes,
//   q = d2·2¹⁴ + d1·2⁷ + d0,  d0, d1 in 0...127,  d2 in −128...127,
// and each plane meets the weights through vpdpbusd (AVX-512 VNNI) with the
// weights as the unsigned operand (w + 128: the top bit flipped, once per
// weight vector for every token and plane); Σ (w + 128)·d = Σ w·d + 128·Σ d,
// and the plane sums Σ d, taken once per token, remove the offset. Per row:
//   dot = Σ_p 2^(7p)·(A_p − 128·S_p)  (int64, exact),
//   y   = (float)((double)scale_w · s · (double)dot)  (s in double),
// so the only roundings are the activation's to 22 bits and the final one.
// The error is relative to the row's largest value (see QuantizedMatmulShape
// in SlimCore for what that means for the product's NMSE).
#include <stdint.h>

/// Bytes between digit planes of one token: k rounded up to 64, plus 256
/// where that is a multiple of 4096 (the padding is zero). A token's three
/// planes (d0, d1, d2) take 3 · stride bytes.
int slim_i22_stride(int k);

/// Quantizes a row of `k` floats as above into `planes` (3 · slim_i22_stride(k)
/// bytes: d0, d1, d2, each zero-padded) and `plane_sums` (Σ d0, Σ d1, Σ d2).
/// Returns s, in double so that it is never subnormal (0 for an all-zero row,
/// whose digits are all 0; NaN if the row holds a NaN or an infinity, so that
/// every output of that token is NaN). `isa` limits the instruction set (a
/// SLIM_ISA_ level, see cpu_isa.h): the VNNI level's vector loop or a portable one.
double slim_quantize_row_i22(const float *x, int k, int8_t *planes, int32_t *plane_sums, int isa);

/// out[t · os + r] = scales[r] · sx[t] · Σ_i q[t][i] · w[r · k + i] for the
/// rows r in [first, first + count) and tokens t < `tokens`, the activations
/// as slim_quantize_row_i22 left them (token t's planes at t · 3 · stride,
/// its sums at 3 · t, its scale sx[t]). The integer dot products are exact
/// for any k: the int32 accumulators are emptied into int64 every 65,536
/// columns, before 255·128·k could reach 2³¹. AVX-512 VNNI kernel: eight rows
/// per step for one token, four rows against pairs of tokens for more, each
/// weight load serving all planes and tokens of the step; with `isa` below
/// SLIM_ISA_AVX512_VNNI (or on a CPU without it) a portable loop computes the
/// same integers, so the same outputs bit for bit.
void slim_rows_int8_i22(const int8_t *planes, const double *sx, const int32_t *plane_sums, int tokens, int k,
                        const int8_t *w, const float *scales, int first, int count, float *out, long os, int isa);

#endif
