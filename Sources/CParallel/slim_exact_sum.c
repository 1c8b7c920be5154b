// Exact, order-independent sums of floats (see slim_parallel.h).
#include "slim_parallel.h"
#include <math.h>
#include <string.h>

typedef __int128 i128;
static const double unit = 18446744073709551616.0;  // 2^64: values are counted in units of 2^-64
static const double limit = 4611686018427387904.0;  // 2^62: larger values could overflow a sum quickly

static inline i128 load(const uint64_t *acc, size_t i) {
    i128 x;
    memcpy(&x, acc + 2 * i, sizeof x);
    return x;
}
static inline void store(uint64_t *acc, size_t i, i128 x) { memcpy(acc + 2 * i, &x, sizeof x); }

static inline int add_one(uint64_t *acc, size_t i, double v) {
    if (!(fabs(v) < limit)) return 1;  // also catches NaN
    // v·2^64 is exact (a power-of-two scale) and below 2^126; the cast truncates toward zero.
    i128 q = (i128)(v * unit), s;
    if (__builtin_add_overflow(load(acc, i), q, &s)) return 1;
    store(acc, i, s);
    return 0;
}

size_t slim_exact_add_f32(uint64_t *acc, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (add_one(acc, i, (double)v[i])) return i + 1;
    return 0;
}

size_t slim_exact_add_f64(uint64_t *acc, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (add_one(acc, i, v[i])) return i + 1;
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
