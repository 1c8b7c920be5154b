// bf16 and fp16 weights read as stored (the numerics are in cpu_w16.h): one
// block shape for every level, up to four weight rows by four tokens with
// their sums in registers, each weight vector widened once for all tokens of
// the block and each activation vector loaded once for all its rows.
#include "cpu_w16.h"
#include "cpu_isa.h"
#include "cpu_neon.h"
#include "cpu_paths.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#define INLINE __attribute__((always_inline)) inline

int slim_w16_plane_stride(int k) { return (k + 31) / 32 * 32; }

static INLINE float bits_float(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static INLINE uint32_t float_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/// IEEE fp16 to fp32, exact (subnormals normalised, ±∞ and NaN kept).
static INLINE float f16_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    if (exp == 0) {
        if (mant == 0) return bits_float(sign);
        exp = 127 - 15 + 1;
        while (!(mant & 0x400)) { mant <<= 1; exp--; }
        return bits_float(sign | (exp << 23) | ((mant & 0x3FF) << 13));
    }
    if (exp == 31) return bits_float(sign | 0x7F800000 | (mant << 13));
    return bits_float(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

static INLINE float w16_float(uint16_t v, int kind) {
    return kind == SLIM_W16_BF16 ? bits_float((uint32_t)v << 16) : f16_float(v);
}

/// bf16 nearest (ties to even); NaN stays NaN (quieted). Values past bf16's
/// largest round to ±∞, as the conversion instructions do.
static INLINE uint16_t bf16_nearest(float f) {
    const uint32_t b = float_bits(f);
    if ((b & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((b >> 16) | 0x40);
    return (uint16_t)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
}

void slim_w16_split(const float *x, int k, int count, uint16_t *planes) {
    const int stride = slim_w16_plane_stride(k);
    for (int i = 0; i < k; i++) {
        uint16_t h = bf16_nearest(x[i]);
        float hf = bits_float((uint32_t)h << 16);
        if (isinf(hf) && isfinite(x[i])) {  // past bf16's range: truncate, so the parts stay finite
            h = (uint16_t)(float_bits(x[i]) >> 16);
            hf = bits_float((uint32_t)h << 16);
        }
        planes[i] = h;
        // Each residual is exact in fp32 (it has fewer significant bits than x);
        // a non-finite x keeps its value in the first part alone.
        float rest = isfinite(hf) ? x[i] - hf : 0.0f;
        for (int p = 1; p < count; p++) {
            const uint16_t part = bf16_nearest(rest);
            planes[(long)p * stride + i] = part;
            rest -= bits_float((uint32_t)part << 16);
        }
    }
    for (int p = 0; p < count; p++) memset(planes + (long)p * stride + k, 0, (size_t)(stride - k) * 2);
}

// ---------------------------------------------------------------- portable
// Sums of 32 products, then the sum of those (as int8_portable in
// cpu_kernels.c): the rounding error grows like 32 + k/32 terms, not k.
static void rows_portable(const float *x, long xs, int tokens, const uint16_t *w, int k, int kind, int first, int count,
                          float *y, long ldy) {
    for (int r = first; r < first + count; r++) {
        const uint16_t *row = w + (long)r * k;
        for (int t = 0; t < tokens; t++) {
            float total = 0;
            for (int i0 = 0; i0 < k; i0 += 32) {
                const int end = i0 + 32 < k ? i0 + 32 : k;
                float s = 0;
                for (int i = i0; i < end; i++) s += x[t * xs + i] * w16_float(row[i], kind);
                total += s;
            }
            y[t * ldy + r] = total;
        }
    }
}

static void widen_portable(const uint16_t *w, long n, int kind, float *out) {
    if (kind == SLIM_W16_BF16)
        for (long i = 0; i < n; i++) out[i] = bits_float((uint32_t)w[i] << 16);
    else
        for (long i = 0; i < n; i++) out[i] = f16_float(w[i]);
}

// A driver over rows and tokens for a block kernel `B(R, T, row0, t0)` with at
// most RMAX rows and TMAX tokens: full blocks first, then the leftover rows one
// at a time and the leftover tokens in a smaller block.
#define W16_BLOCKS(RMAX, TMAX, B)                                                  \
    for (int r = first; r < first + count;) {                                      \
        const int R = first + count - r >= (RMAX) ? (RMAX) : 1;                    \
        for (int t = 0; t < tokens; t += (TMAX)) {                                 \
            const int T = tokens - t >= (TMAX) ? (TMAX) : tokens - t;              \
            B;                                                                     \
        }                                                                          \
        r += R;                                                                    \
    }

// Instantiates `BLOCK(R, T)` with compile-time R ∈ {1, RMAX} and T ∈ 1...TMAX
// (TMAX ≤ 4), so each block's loops unroll and its sums stay in registers.
#define W16_DISPATCH(RMAX, BLOCK)                                                  \
    switch (R * 8 + T) {                                                           \
    case (RMAX) * 8 + 1: BLOCK((RMAX), 1); break;                                  \
    case (RMAX) * 8 + 2: BLOCK((RMAX), 2); break;                                  \
    case (RMAX) * 8 + 3: BLOCK((RMAX), 3); break;                                  \
    case (RMAX) * 8 + 4: BLOCK((RMAX), 4); break;                                  \
    case 1 * 8 + 1: BLOCK(1, 1); break;                                            \
    case 1 * 8 + 2: BLOCK(1, 2); break;                                            \
    case 1 * 8 + 3: BLOCK(1, 3); break;                                            \
    default: BLOCK(1, 4); break;                                                   \
    }

#if HAVE_X86
// ---------------------------------------------------------------- AVX2 + F16C
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static INLINE __m256 widen8_avx2(const uint16_t *p, int kind) {
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    return kind == SLIM_W16_BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                                 : _mm256_cvtph_ps(h);
}

AVX2 static INLINE float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// R rows × T tokens, 8 columns a step (R·T ≤ 8 accumulators of 16 registers: T ≤ 2),
// the last k mod 8 columns in scalar code.
AVX2 static INLINE void block_avx2(const float *x, long xs, const int T, const uint16_t *w, int k, int kind, const int R,
                                   float *y, long ldy) {
    __m256 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 wv[4];
        for (int r = 0; r < R; r++) wv[r] = widen8_avx2(w + (long)r * k + i, kind);
        for (int t = 0; t < T; t++) {
            const __m256 xv = _mm256_loadu_ps(x + t * xs + i);
            for (int r = 0; r < R; r++) acc[r][t] = _mm256_fmadd_ps(xv, wv[r], acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = hsum_avx2(acc[r][t]);
            for (int j = i; j < k; j++) s += x[t * xs + j] * w16_float(w[(long)r * k + j], kind);
            y[t * ldy + r] = s;
        }
}

#define AVX2_BLOCK(RR, TT) block_avx2(x + t * xs, xs, TT, w + (long)r * k, k, kind, RR, y + t * ldy + r, ldy)
AVX2 static void rows_avx2(const float *x, long xs, int tokens, const uint16_t *w, int k, int kind, int first, int count,
                           float *y, long ldy) {
    W16_BLOCKS(4, 2, W16_DISPATCH(4, AVX2_BLOCK))
}

AVX2 static void widen_avx2(const uint16_t *w, long n, int kind, float *out) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, widen8_avx2(w + i, kind));
    widen_portable(w + i, n - i, kind, out + i);
}

// ---------------------------------------------------------------- AVX-512 F
#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

AVX512 static INLINE __m512 widen16_avx512(const uint16_t *p, int kind, __mmask16 mask) {
    const __m256i h = _mm256_maskz_loadu_epi16(mask, p);
    return kind == SLIM_W16_BF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                                 : _mm512_cvtph_ps(h);
}

// R rows × T tokens, 16 columns a step (16 accumulators at most); the last
// step loads weights and activations under a mask, so the tail reads zeros.
AVX512 static INLINE void block_avx512(const float *x, long xs, const int T, const uint16_t *w, int k, int kind, const int R,
                                       float *y, long ldy) {
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int i = 0; i < k; i += 16) {
        const __mmask16 mask = k - i >= 16 ? 0xFFFF : (__mmask16)((1u << (k - i)) - 1);
        __m512 wv[4];
        for (int r = 0; r < R; r++) wv[r] = widen16_avx512(w + (long)r * k + i, kind, mask);
        for (int t = 0; t < T; t++) {
            const __m512 xv = _mm512_maskz_loadu_ps(mask, x + t * xs + i);
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(xv, wv[r], acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

#define AVX512_BLOCK(RR, TT) block_avx512(x + t * xs, xs, TT, w + (long)r * k, k, kind, RR, y + t * ldy + r, ldy)
AVX512 static void rows_avx512(const float *x, long xs, int tokens, const uint16_t *w, int k, int kind, int first,
                               int count, float *y, long ldy) {
    W16_BLOCKS(4, 4, W16_DISPATCH(4, AVX512_BLOCK))
}

// ---------------------------------------------------------------- AVX-512 BF16
#define BF16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16")))

static int cpu_has_bf16(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx512bf16");
    return cached;
}

// R rows × T tokens, 32 weights a step: each weight vector (masked on the last
// step) meets every plane of every token, R·T accumulators (16 at most).
BF16 static INLINE void block_bf16(const uint16_t *planes, long ps, int stride, int count, const int T, const uint16_t *w,
                                   int k, const int R, float *y, long ldy) {
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int i = 0; i < k; i += 32) {
        const __mmask32 mask = k - i >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (k - i)) - 1);
        __m512i wv[4];
        for (int r = 0; r < R; r++) wv[r] = _mm512_maskz_loadu_epi16(mask, w + (long)r * k + i);
        for (int t = 0; t < T; t++)
            for (int p = 0; p < count; p++) {
                const __m512i part = _mm512_loadu_si512((const void *)(planes + t * ps + (long)p * stride + i));
                for (int r = 0; r < R; r++) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)wv[r], (__m512bh)part);
            }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

#define BF16_BLOCK(RR, TT) block_bf16(planes + t * ps, ps, stride, parts, TT, w + (long)r * k, k, RR, y + t * ldy + r, ldy)
BF16 static void rows_bf16(const uint16_t *planes, int parts, int tokens, const uint16_t *w, int k, int first, int count,
                           float *y, long ldy) {
    const int stride = slim_w16_plane_stride(k);
    const long ps = (long)parts * stride;
    W16_BLOCKS(4, 4, W16_DISPATCH(4, BF16_BLOCK))
}
#endif

#if SLIM_HAVE_NEON
// ---------------------------------------------------------------- NEON
#include <arm_neon.h>

static INLINE float32x4_t widen4_neon(const uint16_t *p, int kind) {
    const uint16x4_t h = vld1_u16(p);
    return kind == SLIM_W16_BF16 ? vreinterpretq_f32_u32(vshll_n_u16(h, 16)) : vcvt_f32_f16(vreinterpret_f16_u16(h));
}

// R rows × T tokens, 4 columns a step (16 accumulators of 32 registers), the
// last k mod 4 columns in scalar code.
static INLINE void block_neon(const float *x, long xs, const int T, const uint16_t *w, int k, int kind, const int R,
                              float *y, long ldy) {
    float32x4_t acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0);
    int i = 0;
    for (; i + 4 <= k; i += 4) {
        float32x4_t wv[4];
        for (int r = 0; r < R; r++) wv[r] = widen4_neon(w + (long)r * k + i, kind);
        for (int t = 0; t < T; t++) {
            const float32x4_t xv = vld1q_f32(x + t * xs + i);
            for (int r = 0; r < R; r++) acc[r][t] = vfmaq_f32(acc[r][t], xv, wv[r]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = vaddvq_f32(acc[r][t]);
            for (int j = i; j < k; j++) s += x[t * xs + j] * w16_float(w[(long)r * k + j], kind);
            y[t * ldy + r] = s;
        }
}

#define NEON_BLOCK(RR, TT) block_neon(x + t * xs, xs, TT, w + (long)r * k, k, kind, RR, y + t * ldy + r, ldy)
static void rows_neon(const float *x, long xs, int tokens, const uint16_t *w, int k, int kind, int first, int count,
                      float *y, long ldy) {
    W16_BLOCKS(4, 4, W16_DISPATCH(4, NEON_BLOCK))
}

static void widen_neon(const uint16_t *w, long n, int kind, float *out) {
    long i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, widen4_neon(w + i, kind));
    widen_portable(w + i, n - i, kind, out + i);
}
#endif

int slim_w16_bf16_dot(int kind, int isa) {
#if HAVE_X86
    return kind == SLIM_W16_BF16 && slim_isa_within(isa) == SLIM_ISA_AVX512_VNNI && cpu_has_bf16();
#else
    (void)kind, (void)isa;
    return 0;
#endif
}

void slim_rows_w16(const float *x, long xs, const uint16_t *planes, int parts, int tokens, const uint16_t *w, int k,
                   int kind, int first, int count, float *y, long ldy, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON, rows_neon(x, xs, tokens, w, k, kind, first, count, y, ldy));
#if HAVE_X86
    const int level = slim_isa_within(isa);
    if (planes && slim_w16_bf16_dot(kind, isa)) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX512_VNNI);
        rows_bf16(planes, parts, tokens, w, k, first, count, y, ldy);
        return;
    }
    if (level == SLIM_ISA_AVX512_VNNI) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX512_VNNI);
        rows_avx512(x, xs, tokens, w, k, kind, first, count, y, ldy);
        return;
    }
    if (level == SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX2);
        rows_avx2(x, xs, tokens, w, k, kind, first, count, y, ldy);
        return;
    }
#else
    (void)planes, (void)parts;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    rows_portable(x, xs, tokens, w, k, kind, first, count, y, ldy);
}

void slim_w16_widen(const uint16_t *w, long n, int kind, float *out, int isa) {
    SLIM_NEON_DISPATCH(SLIM_PATHS_QGEMM, isa, SLIM_ISA_NEON, widen_neon(w, n, kind, out));
#if HAVE_X86
    if (slim_isa_within(isa) >= SLIM_ISA_AVX2) {
        slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_AVX2);
        widen_avx2(w, n, kind, out);
        return;
    }
#else
    (void)isa;
#endif
    slim_ran(SLIM_PATHS_QGEMM, SLIM_ISA_PORTABLE);
    widen_portable(w, n, kind, out);
}
