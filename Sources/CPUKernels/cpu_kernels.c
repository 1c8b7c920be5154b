#include "cpu_kernels.h"
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
static void int8_portable(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os) {
    for (int t = 0; t < tokens; t++) {
        float s = 0;
        for (int i = 0; i < k; i++) s += x[t * xs + i] * w[i];
        out[t * os] = scale * s;
    }
}

static void u4_portable(const float *x, long xs, int tokens, const uint8_t *q, long rs, int runs, const float *a,
                        const float *b, const float *xsum, float *out, long os) {
    for (int t = 0; t < tokens; t++) {
        float total = 0;
        for (int r = 0; r < runs; r++) {
            const float *xr = x + t * xs + r * 32;
            const uint8_t *qr = q + r * rs;
            float s = 0;
            for (int j = 0; j < 16; j++) s += xr[j] * (qr[j] & 0xF) + xr[j + 16] * (qr[j] >> 4);
            total += a[r] * s + b[r] * xsum[t * runs + r];
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

static void i8i8_portable(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os) {
    for (int t = 0; t < tokens; t++) {
        int32_t s = 0;
        for (int i = 0; i < k; i++) s += (int32_t)qx[t * xs + i] * w[i];
        out[t * os] = s;
    }
}

// ---------------------------------------------------------------- AVX2
#if HAVE_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline __m256 i8x8_to_float(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

AVX2 static void int8_avx2(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 wv = i8x8_to_float(w + i);
        for (int t = 0; t < tokens; t++) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(x + t * xs + i), wv, acc[t]);
    }
    for (int t = 0; t < tokens; t++) {
        float s = hsum(acc[t]);
        for (int j = i; j < k; j++) s += x[t * xs + j] * w[j];
        out[t * os] = scale * s;
    }
}

// Decodes 16 bytes of nibbles (32 weights) into four vectors of floats 0...15.
AVX2 static inline void u4_decode(const uint8_t *q, __m256 u[4]) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)q);
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    u[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    u[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    u[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    u[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

AVX2 static void u4_avx2(const float *x, long xs, int tokens, const uint8_t *q, long rs, int runs, const float *a,
                         const float *b, const float *xsum, float *out, long os) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    float offset[4] = {0, 0, 0, 0};
    for (int r = 0; r < runs; r++) {
        __m256 u[4];
        u4_decode(q + r * rs, u);
        const __m256 av = _mm256_set1_ps(a[r]);
        for (int t = 0; t < tokens; t++) {
            const float *xr = x + t * xs + r * 32;
            __m256 p = _mm256_mul_ps(_mm256_loadu_ps(xr), u[0]);
            p = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 8), u[1], p);
            p = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 16), u[2], p);
            p = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 24), u[3], p);
            acc[t] = _mm256_fmadd_ps(av, p, acc[t]);
            offset[t] += b[r] * xsum[t * runs + r];
        }
    }
    for (int t = 0; t < tokens; t++) out[t * os] = hsum(acc[t]) + offset[t];
}

AVX2 static void q8_0_avx2(const float *x, long xs, int tokens, const uint8_t *blocks, int runs, float *out, long os) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int r = 0; r < runs; r++) {
        const uint8_t *blk = blocks + r * 34;
        const int8_t *q = (const int8_t *)(blk + 2);
        const __m256 w0 = i8x8_to_float(q), w1 = i8x8_to_float(q + 8), w2 = i8x8_to_float(q + 16), w3 = i8x8_to_float(q + 24);
        const __m256 d = _mm256_set1_ps(half_at(blk));
        for (int t = 0; t < tokens; t++) {
            const float *xr = x + t * xs + r * 32;
            __m256 p = _mm256_mul_ps(_mm256_loadu_ps(xr), w0);
            p = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 8), w1, p);
            p = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 16), w2, p);
            p = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 24), w3, p);
            acc[t] = _mm256_fmadd_ps(d, p, acc[t]);
        }
    }
    for (int t = 0; t < tokens; t++) out[t * os] = hsum(acc[t]);
}

// int8 x int8 in 32-lane steps: maddubs wants unsigned x signed, so the sign
// of x moves onto w (|x| * sign(x)·w); pairs then sum to int16 without
// overflow (2 * 127 * 127 < 32767) and madd widens them to int32.
AVX2 static void i8i8_avx2(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os) {
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    const __m256i ones = _mm256_set1_epi16(1);
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + i));
        for (int t = 0; t < tokens; t++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(qx + t * xs + i));
            const __m256i prod = _mm256_maddubs_epi16(_mm256_abs_epi8(xv), _mm256_sign_epi8(wv, xv));
            acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(prod, ones));
        }
    }
    for (int t = 0; t < tokens; t++) {
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc[t]), _mm256_extracti128_si256(acc[t], 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        int32_t total = _mm_cvtsi128_si32(s);
        for (int j = i; j < k; j++) total += (int32_t)qx[t * xs + j] * w[j];
        out[t * os] = total;
    }
}

static int have_avx2(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cached;
}
#else
static int have_avx2(void) { return 0; }
#endif

void slim_qrow_int8(const float *x, long xs, int tokens, const int8_t *w, int k, float scale, float *out, long os) {
#if HAVE_X86
    if (have_avx2()) { int8_avx2(x, xs, tokens, w, k, scale, out, os); return; }
#endif
    int8_portable(x, xs, tokens, w, k, scale, out, os);
}

void slim_qrow_u4(const float *x, long xs, int tokens, const uint8_t *q, long rs, int runs, const float *a, const float *b,
                  const float *xsum, float *out, long os) {
#if HAVE_X86
    if (have_avx2()) { u4_avx2(x, xs, tokens, q, rs, runs, a, b, xsum, out, os); return; }
#endif
    u4_portable(x, xs, tokens, q, rs, runs, a, b, xsum, out, os);
}

void slim_qrow_q8_0(const float *x, long xs, int tokens, const uint8_t *blocks, int runs, float *out, long os) {
#if HAVE_X86
    if (have_avx2()) { q8_0_avx2(x, xs, tokens, blocks, runs, out, os); return; }
#endif
    q8_0_portable(x, xs, tokens, blocks, runs, out, os);
}

void slim_qrow_i8i8(const int8_t *qx, long xs, int tokens, const int8_t *w, int k, int32_t *out, long os) {
#if HAVE_X86
    if (have_avx2()) { i8i8_avx2(qx, xs, tokens, w, k, out, os); return; }
#endif
    i8i8_portable(qx, xs, tokens, w, k, out, os);
}
