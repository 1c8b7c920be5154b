// int8 weights × fp32 activations carried as 22-bit fixed point (three digit
// planes), exact integer dot products through vpdpbusd. The numerics are in
// cpu_i22.h.
#include "cpu_i22.h"
#include "cpu_isa.h"
#include "cpu_paths.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/// The largest |q|: 2²¹ − 1, so d2 = q >> 14 stays in −128...127.
#define I22_MAX 2097151
/// Columns per int32 accumulation: |Σ (w + 128)·d| ≤ 255·128·65536 < 2³¹.
#define I22_CHUNK 65536

// Planes a multiple of 4 KiB apart fall into the same L1 sets as each other
// (and as the weight rows of such a K): at K = 8192 and 16384 that made the
// kernel 1.4x slower; four lines more keep the planes apart.
int slim_i22_stride(int k) {
    const int s = (k + 63) / 64 * 64;
    return s % 4096 == 0 ? s + 256 : s;
}

// The row's scale s in double (never subnormal, whatever the row's size), or
// NaN where the row holds a NaN or an infinity (then every digit is 0 and
// every output of the token NaN, as an fp32 product would be).
static double i22_scale(float peak, int finite) { return finite && isfinite(peak) ? (double)peak / I22_MAX : NAN; }

// q = round(x / s) (ties to even) through x·(1/s) in double, within 2⁻³¹ of
// x / s: |q| ≤ 2²¹ − 1 already (the peak lands within 2⁻³¹ of it); the clamp
// only makes that visible.
static inline int32_t i22_level(float x, double inv) {
    const double v = rint((double)x * inv);
    return v > I22_MAX ? I22_MAX : v < -I22_MAX ? -I22_MAX : (int32_t)v;
}

// A row with a NaN or an infinity: all digits 0, scale NaN.
static double i22_nonfinite(int8_t *planes, int stride, int32_t *sums) {
    memset(planes, 0, 3 * (size_t)stride);
    sums[0] = sums[1] = sums[2] = 0;
    return NAN;
}

static double quantize_row_i22_portable(const float *x, int k, int8_t *planes, int32_t *sums) {
    const int stride = slim_i22_stride(k);
    float peak = 0.0f;
    int finite = 1;
    for (int i = 0; i < k; i++) {
        finite &= isfinite(x[i]) != 0;
        peak = fmaxf(peak, fabsf(x[i]));
    }
    const double s = i22_scale(peak, finite);
    if (isnan(s)) return i22_nonfinite(planes, stride, sums);
    const double inv = s > 0 ? 1.0 / s : 0.0;  // 0 for an all-zero row
    memset(planes, 0, 3 * (size_t)stride);
    sums[0] = sums[1] = sums[2] = 0;
    for (int i = 0; i < k; i++) {
        const int32_t q = i22_level(x[i], inv);
        const int32_t d0 = q & 127, d1 = (q >> 7) & 127, d2 = (q - (q & 16383)) / 16384;
        planes[i] = (int8_t)d0;
        planes[stride + i] = (int8_t)d1;
        planes[2 * stride + i] = (int8_t)d2;
        sums[0] += d0;
        sums[1] += d1;
        sums[2] += d2;
    }
    return s;
}

// The combination of a row's three plane dots with the token's plane sums and
// the two scales: dot = Σ_p 2^(7p)·(A_p − 128·S_p), exact in int64.
static inline float i22_output(const int64_t a[3], const int32_t *sums, float sw, double sx) {
    const int64_t dot = (a[2] - 128 * (int64_t)sums[2]) * 16384 + (a[1] - 128 * (int64_t)sums[1]) * 128 +
                        (a[0] - 128 * (int64_t)sums[0]);
    return (float)((double)sw * sx * (double)dot);
}

// The portable loop takes the same unsigned (w + 128) operand, so it computes
// exactly the integers the VNNI kernel does.
static void rows_i22_portable(const int8_t *planes, const double *sx, const int32_t *sums, int tokens, int k,
                              const int8_t *w, const float *scales, int first, int count, float *out, long os) {
    const int stride = slim_i22_stride(k);
    for (int r = first; r < first + count; r++)
        for (int t = 0; t < tokens; t++) {
            int64_t a[3];
            for (int p = 0; p < 3; p++) {
                const int8_t *d = planes + ((long)t * 3 + p) * stride;
                int64_t s = 0;
                for (int i = 0; i < k; i++) s += (int64_t)(w[(long)r * k + i] + 128) * d[i];
                a[p] = s;
            }
            out[t * os + r] = i22_output(a, sums + 3 * t, scales[r], sx[t]);
        }
}

#if HAVE_X86
#define VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE __attribute__((always_inline)) inline
#define NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

VNNI static double quantize_row_i22_vnni(const float *x, int k, int8_t *planes, int32_t *sums) {
    const int stride = slim_i22_stride(k);
    __m512 pv = _mm512_setzero_ps();
    __mmask16 bad = 0;
    for (int i = 0; i < k; i += 16) {
        const __mmask16 mask = k - i >= 16 ? 0xFFFF : (__mmask16)((1u << (k - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
        bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        pv = _mm512_max_ps(pv, _mm512_abs_ps(v));
    }
    const double s = i22_scale(_mm512_reduce_max_ps(pv), bad == 0);
    if (isnan(s)) return i22_nonfinite(planes, stride, sums);
    const __m512d inv = _mm512_set1_pd(s > 0 ? 1.0 / s : 0.0);
    const __m512i hi = _mm512_set1_epi32(I22_MAX), lo = _mm512_set1_epi32(-I22_MAX), low7 = _mm512_set1_epi32(127);
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0;
    int i = 0;
    for (; i < k; i += 16) {
        // The tail loads zeros: their digits are 0 and pad the planes.
        const __mmask16 mask = k - i >= 16 ? 0xFFFF : (__mmask16)((1u << (k - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
        const __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        const __m512d b = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvt_roundpd_epi32(_mm512_mul_pd(a, inv), NEAREST)),
                                       _mm512_cvt_roundpd_epi32(_mm512_mul_pd(b, inv), NEAREST), 1);
        q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
        const __m512i d0 = _mm512_and_si512(q, low7), d1 = _mm512_and_si512(_mm512_srai_epi32(q, 7), low7);
        const __m512i d2 = _mm512_srai_epi32(q, 14);
        _mm_storeu_si128((__m128i *)(planes + i), _mm512_cvtepi32_epi8(d0));
        _mm_storeu_si128((__m128i *)(planes + stride + i), _mm512_cvtepi32_epi8(d1));
        _mm_storeu_si128((__m128i *)(planes + 2 * stride + i), _mm512_cvtepi32_epi8(d2));
        s0 = _mm512_add_epi32(s0, d0);
        s1 = _mm512_add_epi32(s1, d1);
        s2 = _mm512_add_epi32(s2, d2);
    }
    for (int p = 0; p < 3; p++) memset(planes + (long)p * stride + i, 0, (size_t)(stride - i));
    sums[0] = _mm512_reduce_add_epi32(s0);
    sums[1] = _mm512_reduce_add_epi32(s1);
    sums[2] = _mm512_reduce_add_epi32(s2);
    return s;
}

// One 64-column step of R rows × T tokens × 3 planes: each weight vector is
// loaded and flipped once for all tokens and planes, each plane vector loaded
// once for all rows. `mask` keeps the weight loads inside the row on the last
// step (the planes are padded, their tail is zero). The order keeps the live
// registers within 32: one token holds its three plane vectors and takes the
// rows one at a time (24 accumulators + 3 + 1), two tokens hold the rows'
// weights and take the planes one at a time (24 + 4 + 1).
VNNI static INLINE __m512i flipped_w(const int8_t *w, int k, int r, int i, __mmask64 mask, const int masked) {
    const __m512i v = masked ? _mm512_maskz_loadu_epi8(mask, w + (long)r * k + i)
                             : _mm512_loadu_si512((const void *)(w + (long)r * k + i));
    return _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
}

VNNI static INLINE void step_i22(const int8_t *x, long xs, const int T, const int8_t *w, int k, const int R, int i,
                                 __mmask64 mask, const int masked, __m512i acc[8][2][3]) {
    const long stride = xs / 3;
    if (T == 1) {
        __m512i d[3];
        for (int p = 0; p < 3; p++) d[p] = _mm512_loadu_si512((const void *)(x + p * stride + i));
        for (int r = 0; r < R; r++) {
            const __m512i wu = flipped_w(w, k, r, i, mask, masked);
            for (int p = 0; p < 3; p++) acc[r][0][p] = _mm512_dpbusd_epi32(acc[r][0][p], wu, d[p]);
        }
        return;
    }
    __m512i wu[8];
    for (int r = 0; r < R; r++) wu[r] = flipped_w(w, k, r, i, mask, masked);
    for (int t = 0; t < T; t++)
        for (int p = 0; p < 3; p++) {
            const __m512i d = _mm512_loadu_si512((const void *)(x + t * xs + p * stride + i));
            for (int r = 0; r < R; r++) acc[r][t][p] = _mm512_dpbusd_epi32(acc[r][t][p], wu[r], d);
        }
}

// R rows (1...8) × T tokens (1 or 2): 3·R·T int32 accumulators in registers
// (24 at most, with the weights and a plane vector beside them).
VNNI static INLINE void block_i22(const int8_t *x, long xs, const double *sx, const int32_t *sums, const int T,
                                  const int8_t *w, int k, const float *sw, const int R, float *y, long ldy) {
    int64_t total[8][2][3];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++)
            for (int p = 0; p < 3; p++) total[r][t][p] = 0;
    for (int c0 = 0; c0 < k; c0 += I22_CHUNK) {
        const int end = k - c0 <= I22_CHUNK ? k : c0 + I22_CHUNK;
        __m512i acc[8][2][3];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++)
                for (int p = 0; p < 3; p++) acc[r][t][p] = _mm512_setzero_si512();
        int i = c0;
        for (; i + 64 <= end; i += 64) step_i22(x, xs, T, w, k, R, i, 0, 0, acc);
        if (i < end) step_i22(x, xs, T, w, k, R, i, (1ULL << (end - i)) - 1, 1, acc);
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++)
                for (int p = 0; p < 3; p++) total[r][t][p] += _mm512_reduce_add_epi32(acc[r][t][p]);
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = i22_output(total[r][t], sums + 3 * t, sw[r], sx[t]);
}

#define FOR_T(call)                                         \
    switch (T_count) {                                      \
    case 1: { const int T = 1; call; } break;               \
    default: { const int T = 2; call; } break;              \
    }

#define PAIRS(R)                                                                                               \
    for (int t = 0; t < tokens; t += 2) {                                                                      \
        const int T_count = tokens - t >= 2 ? 2 : 1;                                                           \
        FOR_T(block_i22(planes + t * xs, xs, sx + t, sums + 3 * t, T, w + (long)r * k, k, scales + r, R,       \
                        out + t * os + r, os))                                                                 \
    }

// One token: eight rows per step (24 accumulators; each plane vector serves
// eight rows). More tokens: pairs of tokens against four rows, so a weight
// vector serves six products and a plane vector four. The last rows of a
// range go four, then one at a time.
VNNI static void rows_i22_vnni(const int8_t *planes, const double *sx, const int32_t *sums, int tokens, int k,
                               const int8_t *w, const float *scales, int first, int count, float *out, long os) {
    const long xs = 3L * slim_i22_stride(k);
    const int end = first + count;
    int r = first;
    if (tokens == 1)
        for (; r + 8 <= end; r += 8) block_i22(planes, xs, sx, sums, 1, w + (long)r * k, k, scales + r, 8, out + r, os);
    for (; r + 4 <= end; r += 4) PAIRS(4)
    for (; r < end; r++) PAIRS(1)
}
#endif

double slim_quantize_row_i22(const float *x, int k, int8_t *planes, int32_t *plane_sums, int isa) {
#if HAVE_X86
    if (slim_isa_within(isa) == SLIM_ISA_AVX512_VNNI) {
        slim_ran(SLIM_PATHS_QUANTIZE_X, SLIM_ISA_AVX512_VNNI);
        return quantize_row_i22_vnni(x, k, planes, plane_sums);
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QUANTIZE_X, SLIM_ISA_PORTABLE);
    return quantize_row_i22_portable(x, k, planes, plane_sums);
}

void slim_rows_int8_i22(const int8_t *planes, const double *sx, const int32_t *plane_sums, int tokens, int k,
                        const int8_t *w, const float *scales, int first, int count, float *out, long os, int isa) {
#if HAVE_X86
    if (slim_isa_within(isa) == SLIM_ISA_AVX512_VNNI) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX512_VNNI);
        rows_i22_vnni(planes, sx, plane_sums, tokens, k, w, scales, first, count, out, os);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    rows_i22_portable(planes, sx, plane_sums, tokens, k, w, scales, first, count, out, os);
}
