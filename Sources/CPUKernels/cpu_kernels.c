#include "cpu_kernels.h"
#include "cpu_paths.h"
#include "cpu_neon.h"
#include "cpu_runs_gemm.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

float slim_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) { mant <<= 1; exp--; }
            bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7F800000 | (mant << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float half_at(const uint8_t *p) { return slim_half_to_float((uint16_t)(p[0] | (p[1] << 8))); }

void slim_run_sums(const float *x, int runs, float *sums) {
    for (int r = 0; r < runs; r++) {
        float s = 0;
        for (int i = 0; i < 32; i++) s += x[r * 32 + i];
        sums[r] = s;
    }
}

// ---------------------------------------------------------------- portable
// Sums of 32 products, then the sum of those: the rounding error grows like
// 32 + k/32 terms rather than k, as with the vector kernels' per-lane
// accumulators (one running sum missed the weight-only NMSE bound, 1e-7, at
// K = 70,001 with constant rows).
static void int8_portable(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os) {
    for (int t = 0; t < tokens; t++) {
        float total = 0;
        for (int i0 = 0; i0 < k; i0 += 32) {
            const int end = i0 + 32 < k ? i0 + 32 : k;
            float s = 0;
            for (int i = i0; i < end; i++) s += x[t * xs + i] * w[i];
            total += s;
        }
        out[t * os] = scale * total;
    }
}

#include "cpu_u4_layout.h"
DEFINE_U4_PARAMS(u4_params, , half_at)

static void u4_portable(const float *x, long xs, int tokens, const uint8_t *row, int runs, int kind, int group_shift,
                        const float *scales, const uint8_t *zeros, const float *xsum, float *out, long os) {
    for (int t = 0; t < tokens; t++) {
        float total = 0;
        for (int r = 0; r < runs; r++) {
            const float *xr = x + t * xs + r * 32;
            const uint8_t *qr = u4_nibbles(row, r, kind);
            float a, b, s = 0;
            u4_params(row, r, kind, group_shift, scales, zeros, &a, &b);
            for (int j = 0; j < 16; j++) s += xr[j] * (qr[j] & 0xF) + xr[j + 16] * (qr[j] >> 4);
            total += a * s + b * xsum[t * runs + r];
        }
        out[t * os] = total;
    }
}

static void q8_0_portable(const float *x, long xs, int tokens, const uint8_t *blocks, int runs, float *out, long os) {
    for (int t = 0; t < tokens; t++) {
        float total = 0;
        for (int r = 0; r < runs; r++) {
            const uint8_t *blk = blocks + r * 34;
            const int8_t *q = (const int8_t *)(blk + 2);
            float s = 0;
            for (int j = 0; j < 32; j++) s += x[t * xs + r * 32 + j] * q[j];
            total += half_at(blk) * s;
        }
        out[t * os] = total;
    }
}

static void runs_i8_portable(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *row,
                             int runs, int kind, int group_shift, const float *scales, const uint8_t *zeros, float *out,
                             long os) {
    for (int t = 0; t < tokens; t++) {
        float total = 0;
        for (int r = 0; r < runs; r++) {
            const int8_t *x = qx + t * xs + r * 32;
            int32_t dot = 0;
            float a, b = 0;
            if (kind == SLIM_ROW_Q8_0 || kind == SLIM_ROW_INT8) {
                const int8_t *q = (const int8_t *)(kind == SLIM_ROW_INT8 ? row + r * 32 : row + r * 34 + 2);
                for (int j = 0; j < 32; j++) dot += x[j] * q[j];
                a = kind == SLIM_ROW_INT8 ? 1.0f : half_at(row + r * 34);
            } else {
                const uint8_t *q = u4_nibbles(row, r, kind);
                for (int j = 0; j < 16; j++) dot += x[j] * (q[j] & 0xF) + x[j + 16] * (q[j] >> 4);
                u4_params(row, r, kind, group_shift, scales, zeros, &a, &b);
            }
            total += a * xd[t * runs + r] * dot + b * xsum[t * runs + r];
        }
        out[t * os] = total;
    }
}

static void i8i8_portable(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os) {
    for (int t = 0; t < tokens; t++) {
        int32_t s = 0;
        for (int i = 0; i < k; i++) s += (int32_t)qx[t * xs + i] * w[i];
        out[t * os] = s;
    }
}

// ---------------------------------------------------------------- AVX2
#if HAVE_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline float half_f16c(const uint8_t *p) { return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8))); }
DEFINE_U4_PARAMS(u4_params_avx2, AVX2, half_f16c)

AVX2 static inline __m256 i8x8_to_float(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

// Each kernel is written once for a compile-time token count T (1...4) and
// instantiated four times by the dispatchers below: with T constant, the
// accumulators are registers, not a stack array. Several independent
// accumulators per token hide the FMA latency (4 cycles, 2 pipes).
#define INLINE __attribute__((always_inline)) inline

AVX2 static INLINE void int8_t_avx2(const float *x, long xs, const int T, const int8_t *w, int k, float scale,
                                    float *out, long os) {
    __m256 acc[4][4];
    for (int t = 0; t < T; t++)
        for (int j = 0; j < 4; j++) acc[t][j] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        __m256 wv[4];
        for (int j = 0; j < 4; j++) wv[j] = i8x8_to_float(w + i + 8 * j);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < 4; j++) acc[t][j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + t * xs + i + 8 * j), wv[j], acc[t][j]);
    }
    for (; i + 8 <= k; i += 8) {
        const __m256 wv = i8x8_to_float(w + i);
        for (int t = 0; t < T; t++) acc[t][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + t * xs + i), wv, acc[t][0]);
    }
    for (int t = 0; t < T; t++) {
        float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]), _mm256_add_ps(acc[t][2], acc[t][3])));
        for (int j = i; j < k; j++) s += x[t * xs + j] * w[j];
        out[t * os] = scale * s;
    }
}

// Decodes 16 bytes of nibbles (32 weights) into four vectors of floats 0...15.
AVX2 static INLINE void u4_decode(const uint8_t *q, __m256 u[4]) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)q);
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    u[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    u[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    u[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    u[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

// acc[t][j] += a * dot(x, w) over one run: the run's dot product is a short
// chain of its own (independent of other runs), and callers rotate j through
// four accumulators with the run index unrolled by four, so j is a constant
// (a variable index would put the accumulators on the stack) and consecutive
// runs' FMAs do not wait on each other.
AVX2 static INLINE void scaled_run(const float *x, long xs, const int T, const __m256 w[4], float a, const int j, __m256 acc[4][4]) {
    const __m256 av = _mm256_set1_ps(a);
    for (int t = 0; t < T; t++) {
        const float *xt = x + t * xs;
        __m256 p = _mm256_mul_ps(_mm256_loadu_ps(xt), w[0]);
        __m256 q = _mm256_mul_ps(_mm256_loadu_ps(xt + 8), w[1]);
        p = _mm256_fmadd_ps(_mm256_loadu_ps(xt + 16), w[2], p);
        q = _mm256_fmadd_ps(_mm256_loadu_ps(xt + 24), w[3], q);
        acc[t][j] = _mm256_fmadd_ps(av, _mm256_add_ps(p, q), acc[t][j]);
    }
}

AVX2 static INLINE float sum4(__m256 acc[4]) {
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

// The run loops below visit r = 0 ... runs-1 in groups of four with j = r % 4,
// so that after unrolling j is a constant accumulator index (see scaled_run).
#define FOR_RUNS(runs)                                  \
    for (int r0_ = 0; r0_ < (runs); r0_ += 4)           \
        for (int j = 0; j < 4; j++)                     \
            for (int r = r0_ + j, once_ = r < (runs); once_; once_ = 0)

AVX2 static INLINE void zero_acc(__m256 acc[4][4], const int T) {
    for (int t = 0; t < T; t++)
        for (int j = 0; j < 4; j++) acc[t][j] = _mm256_setzero_ps();
}

// Rows stored as runs of 32 weights with a scale each: the 4-bit kinds
// (w = a * u + b, the b part through the per-run sums of x) and Q8_0 (w = d * q).
AVX2 static INLINE void runs_t_avx2(const float *x, long xs, const int T, const uint8_t *row, int runs, const int kind,
                                    int group_shift, const float *scales, const uint8_t *zeros, const float *xsum,
                                    float *out, long os) {
    __m256 acc[4][4];
    float offset[4][4] = {{0}};  // rotated like acc: a single running sum would be a latency chain
    zero_acc(acc, T);
    FOR_RUNS(runs) {
        __m256 w[4];
        float a, b = 0;
        if (kind == SLIM_ROW_Q8_0) {
            const int8_t *q = (const int8_t *)(row + r * 34 + 2);
            for (int v = 0; v < 4; v++) w[v] = i8x8_to_float(q + 8 * v);
            a = half_f16c(row + r * 34);
        } else {
            u4_params_avx2(row, r, kind, group_shift, scales, zeros, &a, &b);
            u4_decode(u4_nibbles(row, r, kind), w);
        }
        scaled_run(x + r * 32, xs, T, w, a, j, acc);
        if (kind != SLIM_ROW_Q8_0)
            for (int t = 0; t < T; t++) offset[t][j] += b * xsum[t * runs + r];
    }
    for (int t = 0; t < T; t++) out[t * os] = sum4(acc[t]) + (offset[t][0] + offset[t][1]) + (offset[t][2] + offset[t][3]);
}

// Runs of 32 weights times int8 activations: the 4-bit levels are unsigned,
// so maddubs takes them directly (pair sums ≤ 2·15·127, no overflow); int8
// and Q8_0 weights give |q| (once per run for all tokens, and right even for
// q = −128, read as 128) and x takes q's sign, as the W8A8 kernel does (pair
// sums ≤ 2·128·127 < 32768; |x| ≤ 127, so negating never wraps). Each run's
// exact int32 dot becomes a float once, scaled by the run's a.
// Run r's 32 levels as bytes, with (a, b) as slim_qrow_u4 defines them: int8
// rows and Q8_0 give signed levels (a = 1 or the block's d), the 4-bit kinds
// unsigned 0...15 in run order (low nibbles, then high).
AVX2 static INLINE __m256i load_run_i8(const uint8_t *row, int r, const int kind, int group_shift, const float *scales,
                                        const uint8_t *zeros, float *a, float *b) {
    *b = 0;
    if (kind == SLIM_ROW_INT8) {
        *a = 1.0f;
        return _mm256_loadu_si256((const __m256i *)(row + r * 32));
    }
    if (kind == SLIM_ROW_Q8_0) {
        *a = half_f16c(row + r * 34);
        return _mm256_loadu_si256((const __m256i *)(row + r * 34 + 2));
    }
    const __m128i bytes = _mm_loadu_si128((const __m128i *)u4_nibbles(row, r, kind));
    const __m128i mask = _mm_set1_epi8(0x0F);
    u4_params_avx2(row, r, kind, group_shift, scales, zeros, a, b);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
}

AVX2 static INLINE void runs_i8_t_avx2(const int8_t *qx, long xs, const int T, const float *xd, const float *xsum,
                                       const uint8_t *row, int runs, const int kind, int group_shift, const float *scales,
                                       const uint8_t *zeros, float *out, long os) {
    __m256 acc[4][4];
    float offset[4][4] = {{0}};
    const __m256i ones = _mm256_set1_epi16(1);
    zero_acc(acc, T);
    FOR_RUNS(runs) {
        float a, b;
        const __m256i q = load_run_i8(row, r, kind, group_shift, scales, zeros, &a, &b);
        const int signed_w = kind == SLIM_ROW_Q8_0 || kind == SLIM_ROW_INT8;
        const __m256i uq = signed_w ? _mm256_abs_epi8(q) : q;
        for (int t = 0; t < T; t++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(qx + t * xs + r * 32));
            const __m256i pairs = _mm256_maddubs_epi16(uq, signed_w ? _mm256_sign_epi8(x, q) : x);
            const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
            acc[t][j] = _mm256_fmadd_ps(_mm256_set1_ps(a * xd[t * runs + r]), dot, acc[t][j]);
            if (!signed_w) offset[t][j] += b * xsum[t * runs + r];
        }
    }
    for (int t = 0; t < T; t++) out[t * os] = sum4(acc[t]) + (offset[t][0] + offset[t][1]) + (offset[t][2] + offset[t][3]);
}


// ---------------------------------------------------------------- AVX-512 VNNI
// vpdpbusd multiplies unsigned by signed bytes and adds groups of four
// products straight into int32 lanes: no int16 pair sums, so no saturation
// and no madd step. One run of 32 weights fills one 256-bit register (VL).
#define VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

// Eight runs' int32 dots (one per vector) summed to one lane each, run i in lane i.
VNNI static INLINE __m256i sum8x8(const __m256i v[8]) {
    const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i g0 = _mm256_hadd_epi32(h01, h23), g1 = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

// `nr` (1...8) int8 or Q8_0 runs from r0 times T tokens (the 4-bit kinds
// take four runs per step, below). As in runs_i8_t_avx2, the unsigned operand
// is |q| (once per run for all tokens) and x takes q's sign (|x| ≤ 127, so
// negating never wraps), which leaves every product, and so each run's int32
// dot, exact. The float work is then done for eight runs at once: the eight
// dots side by side in one vector, times the eight runs' a · xd.
VNNI static INLINE void runs8_vnni(const int8_t *qx, long xs, const int T, const float *xd, const uint8_t *row, int runs,
                                   int r0, const int kind, __m256 acc[4]) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    // The eight runs' a: 1, or the fp16 scales fetched with one gather from the blocks.
    __m256 a8 = _mm256_set1_ps(1.0f);
    if (kind == SLIM_ROW_Q8_0) {
        const __m256i g = _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), 0xFF, _mm256_mullo_epi32(lane, _mm256_set1_epi32(34)),
                                                       row + (long)r0 * 34, 1);
        a8 = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(g));
    }
    __m256i u[8];
    const int8_t *q[8];
    for (int i = 0; i < 8; i++) {
        const int r = r0 + i;
        q[i] = (const int8_t *)(kind == SLIM_ROW_INT8 ? row + r * 32 : row + r * 34 + 2);
        u[i] = _mm256_abs_epi8(_mm256_loadu_si256((const __m256i *)q[i]));
    }
    for (int t = 0; t < T; t++) {
        const int8_t *x = qx + t * xs + r0 * 32;
        __m256i d[8];
        for (int i = 0; i < 8; i++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(x + 32 * i));
            d[i] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u[i], _mm256_sign_epi8(xv, _mm256_loadu_si256((const __m256i *)q[i])));
        }
        const __m256 dot = _mm256_cvtepi32_ps(sum8x8(d));
        acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(a8, _mm256_loadu_ps(xd + t * runs + r0)), dot, acc[t]);
    }
}

// ---- 4-bit rows, four runs per 512-bit step (int8 activations)
// 64 bytes of nibbles hold four runs (128 weights). Their low nibbles
// (weights 0...15 of each run) and high nibbles (16...31) are two vectors of
// unsigned bytes as they are; the activations are laid out to match once per
// call (prep_runs4: each block of four runs as its 64 low-half bytes, its 64
// high-half bytes, −8 times the sum of the eight x each int32 lane meets (for
// Q4_1 that sum times xd, as a float), and each run's scale xd spread over
// its four lanes). Lane l then holds run l/4:
//   d = −8·Σx + vpdpbusd(lo, x_lo) + vpdpbusd(hi, x_hi)
// is Σ (u − 8)·x over the lane, exact, the symmetric kinds' and Q4_0's
// level; an asymmetric zero point z adds (8 − z)·Σx (vpdpwssd: Σx fits
// int16). One convert and one FMA with a·xd per four runs take it to float.
// Q4_1 (w = d·u + m) has no integer zero point: its m·xd·Σx (one FMA) goes
// into a second float accumulator. Horizontal sums happen once per row.
enum { PREP_BLOCK = 256 };  // bytes of prep per block of four runs and token

VNNI static void prep_runs4(const int8_t *qx, long xs, int tokens, const float *xd, int runs, int kind, uint8_t *prep) {
    const int blocks = runs / 4;
    const __m512i lo_idx = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13), hi_idx = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
    const __m512i ones = _mm512_set1_epi8(1), spread = _mm512_srli_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2);
    for (int t = 0; t < tokens; t++)
        for (int b = 0; b < blocks; b++) {
            const int8_t *x = qx + t * xs + b * 128;
            uint8_t *p = prep + ((long)t * blocks + b) * PREP_BLOCK;
            const __m512i x01 = _mm512_loadu_si512((const void *)x), x23 = _mm512_loadu_si512((const void *)(x + 64));
            const __m512i lo = _mm512_permutex2var_epi64(x01, lo_idx, x23), hi = _mm512_permutex2var_epi64(x01, hi_idx, x23);
            const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, lo), ones, hi);
            _mm512_storeu_si512((void *)p, lo);
            _mm512_storeu_si512((void *)(p + 64), hi);
            const __m512 xd4 = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_loadu_ps(xd + t * runs + b * 4)));
            if (kind == SLIM_U4_Q4_1) _mm512_storeu_ps(p + 128, _mm512_mul_ps(xd4, _mm512_cvtepi32_ps(sum)));
            else _mm512_storeu_si512((void *)(p + 128), _mm512_mullo_epi32(sum, _mm512_set1_epi32(-8)));
            _mm512_storeu_ps(p + 192, xd4);
        }
}

// Block r/4 of a row (r a multiple of 4): its 64 nibble bytes, each run's a
// spread over its four lanes, and for asymmetric int4 z (int32), for Q4_1 m.
VNNI static INLINE __m512i load_runs4(const uint8_t *row, int r, const int kind, int group_shift, const float *scales,
                                      const uint8_t *zeros, __m512 *a, __m512i *z, __m512 *m) {
    const __m512i lane4 = _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2);
    if (kind == SLIM_U4_INT4_SYM || kind == SLIM_U4_INT4_ASYM) {
        // Four runs span 4 >> group_shift groups (at least one; r is a multiple of 4).
        const __m512i spread = _mm512_srli_epi32(lane4, (unsigned)group_shift);
        const __mmask8 need = (__mmask8)((1u << (group_shift >= 2 ? 1 : 4 >> group_shift)) - 1);
        const int g = r >> group_shift;
        *a = group_shift >= 2 ? _mm512_set1_ps(scales[g])
                              : _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_maskz_loadu_ps(need, scales + g)));
        if (kind == SLIM_U4_INT4_ASYM) {
            const __m512i zg = group_shift >= 2 ? _mm512_set1_epi32(zeros[g])
                                                : _mm512_permutexvar_epi32(spread, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(need, zeros + g)));
            *z = zg;
        }
        return _mm512_loadu_si512((const void *)(row + r * 16));
    }
    // Q4_0 / Q4_1: four blocks, 18 or 20 bytes apart, fp16 d (and m) first.
    const int bytes = kind == SLIM_U4_Q4_0 ? 18 : 20;
    const uint8_t *blk = row + (long)r * bytes;
    const __m128i heads = _mm_i32gather_epi32((const int *)blk, _mm_setr_epi32(0, bytes, 2 * bytes, 3 * bytes), 1);
    *a = _mm512_permutexvar_ps(lane4, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtepi32_epi16(heads))));
    if (kind == SLIM_U4_Q4_1) *m = _mm512_permutexvar_ps(lane4, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtepi32_epi16(_mm_srli_epi32(heads, 16)))));
    const int at = bytes - 16;
    __m512i q = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(blk + at)));
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)(blk + bytes + at)), 1);
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)(blk + 2 * bytes + at)), 2);
    return _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)(blk + 3 * bytes + at)), 3);
}

// A 4-bit weight row as the VNNI kernel reads it: data, and int4 scales and zero points.
typedef struct { const uint8_t *row; const float *scales; const uint8_t *zeros; } u4_row;

// Block b of four runs of R rows times T tokens into chain j of acc and off
// ([row][token][chain]): each token's activations are loaded once for the R
// rows, so at one token the loads per weight block fall from five to about two.
VNNI static INLINE void block4_vnni(const uint8_t *prep, int blocks, int b, const int j, const int R, const int T,
                                    const u4_row *w, const int kind, int group_shift, __m512 acc[4][4][2],
                                    __m512 off[4][4][2]) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    __m512 a[4], m[4];
    __m512i z[4], lo[4], hi[4];
    for (int r = 0; r < R; r++) {
        m[r] = _mm512_setzero_ps();
        z[r] = _mm512_setzero_si512();
        const __m512i q = load_runs4(w[r].row, 4 * b, kind, group_shift, w[r].scales, w[r].zeros, &a[r], &z[r], &m[r]);
        // z − 8 as the int16 pair (z − 8, 0) that vpdpwssd reads.
        if (kind == SLIM_U4_INT4_ASYM) z[r] = _mm512_and_si512(_mm512_sub_epi32(z[r], _mm512_set1_epi32(8)), _mm512_set1_epi32(0xFFFF));
        lo[r] = _mm512_and_si512(q, low4);
        hi[r] = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
    }
    for (int t = 0; t < T; t++) {
        const uint8_t *p = prep + ((long)t * blocks + b) * PREP_BLOCK;
        const __m512i xlo = _mm512_loadu_si512((const void *)p), xhi = _mm512_loadu_si512((const void *)(p + 64));
        const __m512i nsum8 = _mm512_loadu_si512((const void *)(p + 128));  // −8·Σx, or for Q4_1 xd·Σx
        const __m512 xd4 = _mm512_loadu_ps(p + 192);
        const __m512i nsum1 = kind == SLIM_U4_INT4_ASYM ? _mm512_srai_epi32(nsum8, 3) : nsum8;
        for (int r = 0; r < R; r++) {
            __m512i d = kind == SLIM_U4_Q4_1 ? _mm512_setzero_si512() : nsum8;
            if (kind == SLIM_U4_INT4_ASYM) d = _mm512_dpwssd_epi32(d, z[r], nsum1);
            d = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(d, lo[r], xlo), hi[r], xhi);
            acc[r][t][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(a[r], xd4), acc[r][t][j]);
            if (kind == SLIM_U4_Q4_1) off[r][t][j] = _mm512_fmadd_ps(m[r], _mm512_castsi512_ps(nsum8), off[r][t][j]);
        }
    }
}

// Blocks of four runs [0, blocks) of R rows times T tokens' prep: the row
// totals so far in head[row][token]. One row and one token alternate two
// chains (two blocks per step, constant indices keep them in registers).
VNNI static INLINE void runs4_vnni(const uint8_t *prep, int blocks, const int R, const int T, const u4_row *w,
                                   const int kind, int group_shift, float head[4][4]) {
    __m512 acc[4][4][2], off[4][4][2];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t][0] = acc[r][t][1] = off[r][t][0] = off[r][t][1] = _mm512_setzero_ps();
    int b = 0;
    if (R * T == 1)
        for (; b + 2 <= blocks; b += 2) {
            block4_vnni(prep, blocks, b, 0, R, T, w, kind, group_shift, acc, off);
            block4_vnni(prep, blocks, b + 1, 1, R, T, w, kind, group_shift, acc, off);
        }
    for (; b < blocks; b++) block4_vnni(prep, blocks, b, 0, R, T, w, kind, group_shift, acc, off);
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++)
            head[r][t] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(off[r][t][0], off[r][t][1]),
                                                            _mm512_add_ps(acc[r][t][0], acc[r][t][1])));
}

// Runs [r0, runs) of a row one at a time (the few left after the steps of
// four or eight: a part-empty step would pay the gather and the reduction for
// the missing runs too), added to tail[t].
VNNI static INLINE void tail_runs_vnni(const int8_t *qx, long xs, const int T, const float *xd, const float *xsum,
                                       const uint8_t *row, int r0, int runs, const int kind, int group_shift,
                                       const float *scales, const uint8_t *zeros, float tail[4]) {
    const int signed_w = kind == SLIM_ROW_Q8_0 || kind == SLIM_ROW_INT8;
    for (int r = r0; r < runs; r++) {
        float a, b;
        const __m256i q = load_run_i8(row, r, kind, group_shift, scales, zeros, &a, &b);
        const __m256i uq = signed_w ? _mm256_abs_epi8(q) : q;
        for (int t = 0; t < T; t++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(qx + t * xs + r * 32));
            const __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), uq, signed_w ? _mm256_sign_epi8(x, q) : x);
            const __m128i d4 = _mm_add_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
            const __m128i d2 = _mm_add_epi32(d4, _mm_shuffle_epi32(d4, 0x4E));
            const int32_t dot = _mm_cvtsi128_si32(_mm_add_epi32(d2, _mm_shuffle_epi32(d2, 0xB1)));
            tail[t] += a * xd[t * runs + r] * (float)dot + b * xsum[t * runs + r];
        }
    }
}

// A row of runs times T tokens: int8 and Q8_0 eight runs per step, then the
// last few runs (and 4-bit rows outside WIDE_U4: three tokens or more) one at a time.
VNNI static INLINE void runs_i8_t_vnni(const int8_t *qx, long xs, const int T, const float *xd, const float *xsum,
                                       const uint8_t *row, int runs, const int kind, int group_shift,
                                       const float *scales, const uint8_t *zeros, float *out, long os) {
    float head[4] = {0, 0, 0, 0};
    int r0 = 0;
    if (kind == SLIM_ROW_INT8 || kind == SLIM_ROW_Q8_0) {
        __m256 acc[4];
        for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
        for (; r0 + 8 <= runs; r0 += 8) runs8_vnni(qx, xs, T, xd, row, runs, r0, kind, acc);
        for (int t = 0; t < T; t++) head[t] = hsum(acc[t]);
    }
    float tail[4] = {0, 0, 0, 0};
    tail_runs_vnni(qx, xs, T, xd, xsum, row, r0, runs, kind, group_shift, scales, zeros, tail);
    for (int t = 0; t < T; t++) out[t * os] = head[t] + tail[t];
}

// int8 x int8 in 32-lane steps: maddubs wants unsigned x signed, so the sign
// of w moves onto x (|w| * sign(w)·x), as slim_gemm_w8a8 does: |w| is right
// even for w = −128 (read unsigned, 128), and x (symmetric, −127...127) never
// wraps when negated. Pairs then sum to int16 without overflow
// (2 * 128 * 127 < 32767) and madd widens them to int32.
AVX2 static INLINE void i8i8_t_avx2(const int8_t *qx, long xs, const int T, const int8_t *w, int k, int32_t *out, long os) {
    __m256i acc[4];
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + i)), aw = _mm256_abs_epi8(wv);
        for (int t = 0; t < T; t++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(qx + t * xs + i));
            const __m256i prod = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, wv));
            acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(prod, ones));
        }
    }
    for (int t = 0; t < T; t++) {
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc[t]), _mm256_extracti128_si256(acc[t], 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        int32_t total = _mm_cvtsi128_si32(s);
        for (int j = i; j < k; j++) total += (int32_t)qx[t * xs + j] * w[j];
        out[t * os] = total;
    }
}

// One instantiation per token count.
#define FOR_TOKENS(call)                          \
    switch (tokens) {                             \
    case 1: { const int T = 1; call; } break;     \
    case 2: { const int T = 2; call; } break;     \
    case 3: { const int T = 3; call; } break;     \
    default: { const int T = 4; call; } break;    \
    }

AVX2 static void int8_avx2(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os) {
    FOR_TOKENS(int8_t_avx2(x, xs, T, w, k, scale, out, os))
}
// Instantiated per token count and per kind, so the decoding is specialised too.
#define FOR_KINDS(call)                                             \
    switch (kind) {                                                 \
    case SLIM_U4_INT4_SYM: { const int K4 = SLIM_U4_INT4_SYM; call; } break;   \
    case SLIM_U4_INT4_ASYM: { const int K4 = SLIM_U4_INT4_ASYM; call; } break; \
    case SLIM_U4_Q4_0: { const int K4 = SLIM_U4_Q4_0; call; } break;           \
    case SLIM_U4_Q4_1: { const int K4 = SLIM_U4_Q4_1; call; } break;           \
    default: { const int K4 = SLIM_ROW_Q8_0; call; } break;                    \
    }

AVX2 static void u4_avx2(const float *x, long xs, int tokens, const uint8_t *row, int runs, int kind, int group_shift,
                         const float *scales, const uint8_t *zeros, const float *xsum, float *out, long os) {
    FOR_KINDS(FOR_TOKENS(runs_t_avx2(x, xs, T, row, runs, K4, group_shift, scales, zeros, xsum, out, os)))
}

AVX2 static void runs_i8_avx2(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *row,
                              int runs, int kind, int group_shift, const float *scales, const uint8_t *zeros, float *out,
                              long os) {
    if (kind == SLIM_ROW_INT8) {
        const int K4 = SLIM_ROW_INT8;
        FOR_TOKENS(runs_i8_t_avx2(qx, xs, T, xd, xsum, row, runs, K4, group_shift, scales, zeros, out, os))
        return;
    }
    FOR_KINDS(FOR_TOKENS(runs_i8_t_avx2(qx, xs, T, xd, xsum, row, runs, K4, group_shift, scales, zeros, out, os)))
}
VNNI static void runs_i8_vnni(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum,
                              const uint8_t *row, int runs, int kind, int group_shift, const float *scales,
                              const uint8_t *zeros, float *out, long os) {
    if (kind == SLIM_ROW_INT8) {
        const int K4 = SLIM_ROW_INT8;
        FOR_TOKENS(runs_i8_t_vnni(qx, xs, T, xd, xsum, row, runs, K4, group_shift, scales, zeros, out, os))
        return;
    }
    FOR_KINDS(FOR_TOKENS(runs_i8_t_vnni(qx, xs, T, xd, xsum, row, runs, K4, group_shift, scales, zeros, out, os)))
}

// Rows [first, first + count) in groups of R = 4 / tokens rows (tokens 1 or
// 2, see WIDE_U4), CALL(K4, T, R) for each group from row r: the rows share
// each activation load, the tokens each weight decode.
#define FOR_ROW_GROUPS(tokens, first, count, CALL)                                \
    for (int r = (first), end_ = (first) + (count); r < end_;) {                  \
        const int left_ = end_ - r;                                               \
        if ((tokens) == 1) {                                                      \
            if (left_ >= 4) { CALL(K4, 1, 4); r += 4; }                           \
            else { CALL(K4, 1, 1); r += 1; }                                      \
        } else {                                                                  \
            if (left_ >= 2) { CALL(K4, 2, 2); r += 2; }                           \
            else { CALL(K4, 2, 1); r += 1; }                                      \
        }                                                                         \
    }
#define FOR_U4_KINDS(call)                                                                 \
    switch (kind) {                                                                        \
    case SLIM_U4_INT4_SYM: { const int K4 = SLIM_U4_INT4_SYM; call; } break;               \
    case SLIM_U4_INT4_ASYM: { const int K4 = SLIM_U4_INT4_ASYM; call; } break;             \
    case SLIM_U4_Q4_0: { const int K4 = SLIM_U4_Q4_0; call; } break;                       \
    default: { const int K4 = SLIM_U4_Q4_1; call; } break;                                 \
    }

// R (1...4) consecutive 4-bit rows from `first` times T tokens with their prep.
VNNI static INLINE void u4_rows_t_vnni(const int8_t *qx, long xs, const int T, const float *xd, const float *xsum,
                                       const uint8_t *prep, const uint8_t *data, long row_bytes, int first, const int R,
                                       int runs, const int kind, int group_shift, const float *scales,
                                       const uint8_t *zeros, int groups, float *out, long os) {
    u4_row w[4];
    for (int r = 0; r < R; r++)
        w[r] = (u4_row){data + (long)(first + r) * row_bytes, scales ? scales + (long)(first + r) * groups : 0,
                        zeros ? zeros + (long)(first + r) * groups : 0};
    float head[4][4];
    runs4_vnni(prep, runs / 4, R, T, w, kind, group_shift, head);
    for (int r = 0; r < R; r++) {
        float tail[4] = {0, 0, 0, 0};
        tail_runs_vnni(qx, xs, T, xd, xsum, w[r].row, runs / 4 * 4, runs, kind, group_shift, w[r].scales, w[r].zeros, tail);
        for (int t = 0; t < T; t++) out[t * os + first + r] = head[r][t] + tail[t];
    }
}

// Rows [first, first + count) of 4-bit rows with int8 activations.
VNNI static void u4_rows_vnni(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum,
                              const uint8_t *prep, const uint8_t *data, long row_bytes, int first, int count, int runs,
                              int kind, int group_shift, const float *scales, const uint8_t *zeros, int groups, float *out,
                              long os) {
#define U4_ROWS(K4, T, R) u4_rows_t_vnni(qx, xs, T, xd, xsum, prep, data, row_bytes, r, R, runs, K4, group_shift, scales, zeros, groups, out, os)
    FOR_U4_KINDS(FOR_ROW_GROUPS(tokens, first, count, U4_ROWS))
#undef U4_ROWS
}
// ---- 4-bit rows times fp32 activations, four runs per 512-bit step
// A block of four runs is 16 dwords of nibbles; shifting them right by 4·s
// (s = 0...7) puts one nibble of each dword in its low four bits, and vpermps
// (which reads only those four bits) turns it into the float level from a
// 16-entry table: shift, permute and FMA per 16 weights, no convert and no
// horizontal sum until the row's end. The activations are laid out to match
// once per call (prep_runs4_f32): for each s, lane l (run l/4, dword l % 4)
// meets x[32·(l/4) + 16·(s odd) + 4·(l % 4) + s/2], and a ninth vector holds
// each lane's sum of those eight x for the offsets. The table is u − 8 for the
// symmetric kinds and Q4_0 (no offset), u for asymmetric int4 (offset −a·z·Σx)
// and Q4_1 (offset m·Σx); each block's four run sums are scaled by a once.
enum { PREP_F32_BLOCK = 9 * 16 };  // floats of prep per block of four runs and token

VNNI static void prep_runs4_f32(const float *x, long xs, int tokens, int runs, float *prep) {
    const int blocks = runs / 4;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // Lanes 0-7 from runs 0 and 1 (one table pair), 8-15 from runs 2 and 3 (the other).
    const __m512i base = _mm512_add_epi32(_mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(lane, 2), _mm512_set1_epi32(1)), 4),
                                          _mm512_slli_epi32(_mm512_and_si512(lane, _mm512_set1_epi32(3)), 2));
    for (int t = 0; t < tokens; t++)
        for (int b = 0; b < blocks; b++) {
            const float *xb = x + t * xs + b * 128;
            float *p = prep + ((long)t * blocks + b) * PREP_F32_BLOCK;
            __m512 sum = _mm512_setzero_ps();
            for (int s = 0; s < 8; s++) {
                const int h = s & 1;
                const __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(s >> 1));
                const __m512 lo = _mm512_permutex2var_ps(_mm512_loadu_ps(xb + 16 * h), idx, _mm512_loadu_ps(xb + 32 + 16 * h));
                const __m512 hi = _mm512_permutex2var_ps(_mm512_loadu_ps(xb + 64 + 16 * h), idx, _mm512_loadu_ps(xb + 96 + 16 * h));
                const __m512 v = _mm512_mask_blend_ps(0xFF00, lo, hi);
                _mm512_storeu_ps(p + 16 * s, v);
                sum = _mm512_add_ps(sum, v);
            }
            _mm512_storeu_ps(p + 128, sum);
        }
}

// Block b of R rows times T tokens into acc and off ([row][token]).
VNNI static INLINE void block4_f32(const float *prep, int blocks, int b, const int R, const int T, const u4_row *w,
                                   const int kind, int group_shift, __m512 acc[4][4], __m512 off[4][4]) {
    const int offset = kind == SLIM_U4_INT4_ASYM || kind == SLIM_U4_Q4_1;
    const __m512 lut = _mm512_sub_ps(_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_ps(offset ? 0.0f : 8.0f));
    __m512i q[4];
    __m512 a[4], bo[4];
    for (int r = 0; r < R; r++) {
        __m512i z = _mm512_setzero_si512();
        __m512 m = _mm512_setzero_ps();
        q[r] = load_runs4(w[r].row, 4 * b, kind, group_shift, w[r].scales, w[r].zeros, &a[r], &z, &m);
        bo[r] = kind == SLIM_U4_Q4_1 ? m : _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a[r]), _mm512_cvtepi32_ps(z));
    }
    // Two partial sums per row and token (even and odd s) halve the FMA chain.
    __m512 pe[4][4], po[4][4];
    for (int s = 0; s < 8; s++)
        for (int r = 0; r < R; r++) {
            const __m512 u = _mm512_permutexvar_ps(s ? _mm512_srli_epi32(q[r], 4 * s) : q[r], lut);
            for (int t = 0; t < T; t++) {
                const __m512 xv = _mm512_loadu_ps(prep + ((long)t * blocks + b) * PREP_F32_BLOCK + 16 * s);
                if (s == 0) pe[r][t] = _mm512_mul_ps(xv, u);
                else if (s == 1) po[r][t] = _mm512_mul_ps(xv, u);
                else if (s & 1) po[r][t] = _mm512_fmadd_ps(xv, u, po[r][t]);
                else pe[r][t] = _mm512_fmadd_ps(xv, u, pe[r][t]);
            }
        }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            acc[r][t] = _mm512_fmadd_ps(_mm512_add_ps(pe[r][t], po[r][t]), a[r], acc[r][t]);
            if (offset) {
                const __m512 xl = _mm512_loadu_ps(prep + ((long)t * blocks + b) * PREP_F32_BLOCK + 128);
                off[r][t] = _mm512_fmadd_ps(bo[r], xl, off[r][t]);
            }
        }
}

// R (1...4) consecutive 4-bit rows from `first` times T tokens: blocks of four
// runs from the prep, the last runs % 4 runs one at a time.
VNNI static INLINE void u4_rows_t_f32(const float *x, long xs, const int T, const float *xsum, const float *prep,
                                      const uint8_t *data, long row_bytes, int first, const int R, int runs, const int kind,
                                      int group_shift, const float *scales, const uint8_t *zeros, int groups, float *out,
                                      long os) {
    u4_row w[4];
    for (int r = 0; r < R; r++)
        w[r] = (u4_row){data + (long)(first + r) * row_bytes, scales ? scales + (long)(first + r) * groups : 0,
                        zeros ? zeros + (long)(first + r) * groups : 0};
    __m512 acc[4][4], off[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = off[r][t] = _mm512_setzero_ps();
    const int blocks = runs / 4;
    for (int b = 0; b < blocks; b++) block4_f32(prep, blocks, b, R, T, w, kind, group_shift, acc, off);
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float total = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][t], off[r][t]));
            for (int run = blocks * 4; run < runs; run++) {
                float a, bb, dot = 0;
                u4_params_avx2(w[r].row, run, kind, group_shift, w[r].scales, w[r].zeros, &a, &bb);
                const uint8_t *nib = u4_nibbles(w[r].row, run, kind);
                const float *xr = x + t * xs + run * 32;
                for (int j = 0; j < 16; j++) dot += xr[j] * (nib[j] & 0xF) + xr[j + 16] * (nib[j] >> 4);
                total += a * dot + bb * xsum[t * runs + run];
            }
            out[t * os + first + r] = total;
        }
}

// Rows [first, first + count) of 4-bit rows with fp32 activations.
VNNI static void u4_rows_f32(const float *x, long xs, int tokens, const float *xsum, const float *prep, const uint8_t *data,
                             long row_bytes, int first, int count, int runs, int kind, int group_shift, const float *scales,
                             const uint8_t *zeros, int groups, float *out, long os) {
#define U4_ROWS(K4, T, R) u4_rows_t_f32(x, xs, T, xsum, prep, data, row_bytes, r, R, runs, K4, group_shift, scales, zeros, groups, out, os)
    FOR_U4_KINDS(FOR_ROW_GROUPS(tokens, first, count, U4_ROWS))
#undef U4_ROWS
}

AVX2 static void i8i8_avx2(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os) {
    FOR_TOKENS(i8i8_t_avx2(qx, xs, T, w, k, out, os))
}

// w = a * u + b per run (4-bit), w = d * q (Q8_0), w = scale * q (int8).
AVX2 static void dequant_row_avx2(const uint8_t *row, int k, int kind, int group_shift, float scale,
                                  const float *scales, const uint8_t *zeros, float *out) {
    if (kind == SLIM_ROW_INT8) {
        const __m256 s = _mm256_set1_ps(scale);
        int i = 0;
        for (; i + 8 <= k; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(s, i8x8_to_float((const int8_t *)row + i)));
        for (; i < k; i++) out[i] = scale * ((const int8_t *)row)[i];
        return;
    }
    for (int r = 0; r < k / 32; r++) {
        __m256 w[4];
        __m256 a, b;
        if (kind == SLIM_ROW_Q8_0) {
            const int8_t *q = (const int8_t *)(row + r * 34 + 2);
            for (int j = 0; j < 4; j++) w[j] = i8x8_to_float(q + 8 * j);
            a = _mm256_set1_ps(half_f16c(row + r * 34));
            b = _mm256_setzero_ps();
        } else {
            float fa, fb;
            u4_params_avx2(row, r, kind, group_shift, scales, zeros, &fa, &fb);
            u4_decode(u4_nibbles(row, r, kind), w);
            a = _mm256_set1_ps(fa);
            b = _mm256_set1_ps(fb);
        }
        for (int j = 0; j < 4; j++) _mm256_storeu_ps(out + r * 32 + 8 * j, _mm256_fmadd_ps(a, w[j], b));
    }
}

int slim_cpu_has_avx2(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    return cached;
}

// __builtin_cpu_supports reports AVX-512 features only where the OS saves the
// zmm state (XCR0), so a yes here means the VNNI kernels may run.
int slim_cpu_isa(void) {
    static int cached = -1;
    if (cached < 0) {
        const int vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
        cached = !slim_cpu_has_avx2() ? SLIM_ISA_PORTABLE : vnni ? SLIM_ISA_AVX512_VNNI : SLIM_ISA_AVX2;
    }
    return cached;
}
#else
int slim_cpu_has_avx2(void) { return 0; }
int slim_cpu_isa(void) { return slim_neon_isa(); }  // portable off ARM64
#endif
int slim_isa_within(int limit) {
    const int have = slim_cpu_isa();
    return limit < have ? limit : have;
}

// The leaf kernels below have an AVX2 and a portable version; each runs the
// AVX2 one when the limit `isa` allows it and the CPU has it.
static inline int avx2_within(int isa) { return slim_isa_within(isa) >= SLIM_ISA_AVX2; }

void slim_qrow_int8(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os,
                    int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON, slim_neon_qrow_int8(x, xs, tokens, w, k, scale, out, os));
#if HAVE_X86
    if (avx2_within(isa)) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX2);
        int8_avx2(x, xs, tokens, w, k, scale, out, os);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    int8_portable(x, xs, tokens, w, k, scale, out, os);
}

void slim_qrow_u4(const float *x, long xs, int tokens, const uint8_t *row, int runs, int kind, int group_shift,
                  const float *scales, const uint8_t *zeros, const float *xsum, float *out, long os, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON, slim_neon_runs_f32(x, xs, tokens, row, runs, kind, group_shift, scales, zeros, xsum, out, os));
#if HAVE_X86
    if (avx2_within(isa)) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX2);
        u4_avx2(x, xs, tokens, row, runs, kind, group_shift, scales, zeros, xsum, out, os);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    u4_portable(x, xs, tokens, row, runs, kind, group_shift, scales, zeros, xsum, out, os);
}

void slim_qrow_q8_0(const float *x, long xs, int tokens, const uint8_t *blocks, int runs, float *out, long os, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON, slim_neon_runs_f32(x, xs, tokens, blocks, runs, SLIM_ROW_Q8_0, 0, 0, 0, 0, out, os));
#if HAVE_X86
    if (avx2_within(isa)) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX2);
        u4_avx2(x, xs, tokens, blocks, runs, SLIM_ROW_Q8_0, 0, 0, 0, 0, out, os);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    q8_0_portable(x, xs, tokens, blocks, runs, out, os);
}

void slim_qrow_i8i8(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON_DOTPROD, slim_neon_i8i8(qx, xs, tokens, w, k, out, os, level == SLIM_ISA_NEON_DOTPROD));
#if HAVE_X86
    if (avx2_within(isa)) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX2);
        i8i8_avx2(qx, xs, tokens, w, k, out, os);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    i8i8_portable(qx, xs, tokens, w, k, out, os);
}

void slim_dequant_row(const uint8_t *row, int k, int kind, int group_shift, float scale, const float *scales,
                      const uint8_t *zeros, float *out, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON, slim_neon_dequant_row(row, k, kind, group_shift, scale, scales, zeros, out));
#if HAVE_X86
    if (avx2_within(isa)) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX2);
        dequant_row_avx2(row, k, kind, group_shift, scale, scales, zeros, out);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    if (kind == SLIM_ROW_INT8) {
        for (int i = 0; i < k; i++) out[i] = scale * ((const int8_t *)row)[i];
        return;
    }
    for (int r = 0; r < k / 32; r++) {
        if (kind == SLIM_ROW_Q8_0) {
            const float d = half_at(row + r * 34);
            for (int j = 0; j < 32; j++) out[r * 32 + j] = d * ((const int8_t *)(row + r * 34 + 2))[j];
            continue;
        }
        float a, b;
        u4_params(row, r, kind, group_shift, scales, zeros, &a, &b);
        const uint8_t *q = u4_nibbles(row, r, kind);
        for (int j = 0; j < 16; j++) {
            out[r * 32 + j] = a * (q[j] & 0xF) + b;
            out[r * 32 + j + 16] = a * (q[j] >> 4) + b;
        }
    }
}

static void qrow_runs_i8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum, const uint8_t *row, int runs, int kind, int group_shift, const float *scales, const uint8_t *zeros,
                         float *out, long os, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON_DOTPROD, slim_neon_runs_i8(qx, xs, tokens, xd, xsum, row, runs, kind, group_shift, scales, zeros, out, os, level == SLIM_ISA_NEON_DOTPROD));
#if HAVE_X86
    switch (slim_ran(SLIM_PATHS_QGEMM, isa)) {
    case SLIM_ISA_AVX512_VNNI:
        runs_i8_vnni(qx, xs, tokens, xd, xsum, row, runs, kind, group_shift, scales, zeros, out, os);
        return;
    case SLIM_ISA_AVX2: runs_i8_avx2(qx, xs, tokens, xd, xsum, row, runs, kind, group_shift, scales, zeros, out, os); return;
    default: break;
    }
#else
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    (void)isa;
#endif
    runs_i8_portable(qx, xs, tokens, xd, xsum, row, runs, kind, group_shift, scales, zeros, out, os);
}

// ---------------------------------------------------------------- row drivers
#define FOR_ROW_TILES(first, count, tokens, body)                                  \
    for (int tile = (first); tile < (first) + (count); tile += 16)               \
        for (int t0 = 0; t0 < (tokens); t0 += 4)                                 \
            for (int r = tile, tc = (tokens) - t0 < 4 ? (tokens) - t0 : 4;       \
                 r < tile + 16 && r < (first) + (count); r++) { body; }

// The AVX-512 4-bit kernels win at one or two tokens (the targets' decode
// shape: rows share the activation loads); from three tokens on, the tokens
// share each weight decode and the AVX2-style kernels do as well or better.
#define WIDE_U4(isa, kind, runs, tokens) \
    ((isa) == SLIM_ISA_AVX512_VNNI && (kind) <= SLIM_U4_Q4_1 && (runs) >= 4 && (tokens) <= 2)

void slim_rows_runs(const float *x, long xs, int tokens, const float *xsum, const uint8_t *data, long row_bytes,
                    int first, int count, int runs, int kind, int group_shift, const float *scales,
                    const uint8_t *zeros, int groups, float *out, long os, int isa) {
    isa = slim_isa_within(isa);
#if HAVE_X86
    if (WIDE_U4(isa, kind, runs, tokens)) {
        float *prep = malloc(sizeof(float) * (size_t)(runs / 4) * PREP_F32_BLOCK * (size_t)tokens);
        if (prep) {
            slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX512_VNNI);
            prep_runs4_f32(x, xs, tokens, runs, prep);
            u4_rows_f32(x, xs, tokens, xsum, prep, data, row_bytes, first, count, runs, kind, group_shift, scales, zeros,
                        groups, out, os);
            free(prep);
            return;
        }
    }
#endif
    FOR_ROW_TILES(first, count, tokens, {
        const uint8_t *row = data + (long)r * row_bytes;
        if (kind == SLIM_ROW_Q8_0)
            slim_qrow_q8_0(x + t0 * xs, xs, tc, row, runs, out + t0 * os + r, os, isa);
        else
            slim_qrow_u4(x + t0 * xs, xs, tc, row, runs, kind, group_shift, scales ? scales + (long)r * groups : 0,
                         zeros ? zeros + (long)r * groups : 0, xsum + (long)t0 * runs, out + t0 * os + r, os, isa);
    })
}

void slim_rows_runs_i8(const int8_t *qx, long xs, int tokens, const float *xd, const float *xsum,
                       const uint8_t *data, long row_bytes, int first, int count, int runs, int kind, int group_shift,
                       const float *scales, const uint8_t *zeros, int groups, float *out, long os, int isa) {
    isa = slim_isa_within(isa);
#if HAVE_X86
    // Prompts: 16-row panels decoded once for all tokens (cpu_runs_gemm.c).
    if (isa == SLIM_ISA_AVX512_VNNI && kind <= SLIM_U4_Q4_1 && tokens >= RUNS_GEMM_MIN_TOKENS &&
        slim_runs_gemm_i8_vnni(qx, xs, tokens, xd, xsum, data, row_bytes, first, count, runs, kind, group_shift, scales,
                               zeros, groups, out, os)) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX512_VNNI);
        return;
    }
    // The 4-bit VNNI kernel takes one or two tokens at a time; more tokens go
    // through it in pairs (each pair's activations laid out once), which
    // keeps its per-run cost: the eight-run kernel no longer takes 4-bit rows.
    if (WIDE_U4(isa, kind, runs, 1)) {
        uint8_t *prep = malloc((size_t)(runs / 4) * PREP_BLOCK * 2);
        if (prep) {
            slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX512_VNNI);
            for (int t0 = 0; t0 < tokens; t0 += 2) {
                const int tc = tokens - t0 < 2 ? tokens - t0 : 2;
                prep_runs4(qx + t0 * xs, xs, tc, xd + (long)t0 * runs, runs, kind, prep);
                u4_rows_vnni(qx + t0 * xs, xs, tc, xd + (long)t0 * runs, xsum + (long)t0 * runs, prep, data, row_bytes,
                             first, count, runs, kind, group_shift, scales, zeros, groups, out + t0 * os, os);
            }
            free(prep);
            return;
        }
    }
#endif
    FOR_ROW_TILES(first, count, tokens, {
        qrow_runs_i8(qx + t0 * xs, xs, tc, xd + (long)t0 * runs, xsum + (long)t0 * runs, data + (long)r * row_bytes, runs,
                     kind, group_shift, scales ? scales + (long)r * groups : 0, zeros ? zeros + (long)r * groups : 0,
                     out + t0 * os + r, os, isa);
        if (kind == SLIM_ROW_INT8)
            for (int t = t0; t < t0 + tc; t++) out[t * os + r] *= scales[r];
    })
}

void slim_rows_int8(const float *x, long xs, int tokens, const int8_t *w, int k, const float *scales,
                    int first, int count, float *out, long os, int isa) {
    FOR_ROW_TILES(first, count, tokens, {
        slim_qrow_int8(x + t0 * xs, xs, tc, w + (long)r * k, k, scales[r], out + t0 * os + r, os, isa);
    })
}
