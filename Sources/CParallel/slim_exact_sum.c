// Exact, order-independent sums of floats (see slim_parallel.h).
#include "slim_parallel.h"
#include <string.h>

typedef __int128 i128;
static const double unit = 18446744073709551616.0;  // 2^64: values are counted in units of 2^-64

static inline i128 load(const uint64_t *acc, size_t i) {
    i128 x;
    memcpy(&x, acc + 2 * i, sizeof x);
    return x;
}
static inline void store(uint64_t *acc, size_t i, i128 x) { memcpy(acc + 2 * i, &x, sizeof x); }

/// Adds sign·m·2^shift units (m a float's integer significand) to acc[i], truncating toward zero.
/// Bit arithmetic rather than a double → int128 cast: the cast is a library call (__fixdfti)
/// that made the sum several times slower.
static inline int add_scaled(uint64_t *acc, size_t i, int negative, uint64_t m, int shift) {
    i128 q;
    if (shift >= 0) q = (i128)m << shift;  // callers keep shift small enough that q < 2^127
    else q = -shift >= 64 ? 0 : (i128)(m >> -shift);
    if (negative) q = -q;
    i128 s;
    if (__builtin_add_overflow(load(acc, i), q, &s)) return 1;
    store(acc, i, s);
    return 0;
}

/// Adds one float to acc[i]; 0, or 1 when it is refused.
static inline int add_f32(uint64_t *acc, size_t i, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    int e = (int)((u >> 23) & 0xff);
    // |v| < 2^62 (limit); e == 255 is ∞ or NaN.
    if (e >= 127 + 62) return 1;
    uint64_t m = (u & 0x7fffff) | (e ? 0x800000u : 0);
    // v = m·2^(e−150) (subnormals: e = 1), i.e. m·2^(e−86) units of 2^−64.
    return add_scaled(acc, i, (int)(u >> 31), m, (e ? e : 1) - 86);
}

size_t slim_exact_add_f32(uint64_t *acc, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (add_f32(acc, i, v[i])) return i + 1;
    return 0;
}

size_t slim_exact_add_f32_upper(uint64_t *acc, const float *m, size_t k, size_t first, size_t rows) {
    // Row i of the triangle starts at i·k − i(i−1)/2 (0 for i = 0: 0·(SIZE_MAX) is 0).
    size_t packed = first * k - first * (first - 1) / 2;
    for (size_t r = 0; r < rows; r++) {
        size_t i = first + r;
        for (size_t j = i; j < k; j++, packed++)
            if (add_f32(acc, packed, m[r * k + j])) return packed + 1;
    }
    return 0;
}

size_t slim_exact_add_f64(uint64_t *acc, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, v + i, 8);
        int e = (int)((u >> 52) & 0x7ff);
        if (e >= 1023 + 62) return i + 1;
        uint64_t m = (u & 0xfffffffffffffull) | (e ? 0x10000000000000ull : 0);
        // v = m·2^(e−1075), i.e. m·2^(e−1011) units of 2^−64.
        if (add_scaled(acc, i, (int)(u >> 63), m, (e ? e : 1) - 1011)) return i + 1;
    }
    return 0;
}

static const int limb_bits = 43;

void slim_exact_to_limbs(const uint64_t *acc, int64_t *limbs, size_t n) {
    const i128 mask = ((i128)1 << limb_bits) - 1;
    for (size_t i = 0; i < n; i++) {
        i128 x = load(acc, i);
        limbs[3 * i] = (int64_t)(x & mask);
        limbs[3 * i + 1] = (int64_t)((x >> limb_bits) & mask);
        limbs[3 * i + 2] = (int64_t)(x >> (2 * limb_bits));  // arithmetic shift keeps the sign
    }
}

size_t slim_exact_from_limbs(const int64_t *limbs, double *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        i128 high = (i128)limbs[3 * i + 2], x;
        // high·2^86 must fit in 127 bits with the lower limbs added.
        if (high >= ((i128)1 << 40) || high < -((i128)1 << 40)) return i + 1;
        x = high * ((i128)1 << (2 * limb_bits));
        if (__builtin_add_overflow(x, (i128)limbs[3 * i + 1] * ((i128)1 << limb_bits), &x)) return i + 1;
        if (__builtin_add_overflow(x, (i128)limbs[3 * i], &x)) return i + 1;
        out[i] = (double)x / unit;  // one rounding (int128 → double), then an exact power-of-two scale
    }
    return 0;
}
