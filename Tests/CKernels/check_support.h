#ifndef SLIM_CHECK_SUPPORT_H
#define SLIM_CHECK_SUPPORT_H
// The C kernels' own test harness (see check_kernels.c): a seeded generator,
// the weight layouts decoded independently of the kernels (in double, from the
// bytes, as QuantFormat in SlimCore documents them), poisoned buffers and the
// pass/fail record. Built only by scripts/check_c_kernels.sh, natively and
// for aarch64 under qemu, never by SwiftPM.
#include "cpu_kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ------------------------------------------------------------- randomness
// splitmix64: one 64-bit seed replays the whole run (SLIM_SEED or argv[1]).
extern uint64_t check_rng;
static inline uint64_t rnd_u64(void) {
    uint64_t z = (check_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
/// Uniform integer in [lo, hi].
static inline int rnd_int(int lo, int hi) { return lo + (int)(rnd_u64() % (uint64_t)(hi - lo + 1)); }
/// Uniform float in [lo, hi).
static inline float rnd_float(float lo, float hi) { return lo + (hi - lo) * (float)((rnd_u64() >> 40) * 0x1p-24); }
static inline void fill_floats(float *x, long n, float lo, float hi) {
    for (long i = 0; i < n; i++) x[i] = rnd_float(lo, hi);
}
static inline void fill_bytes(uint8_t *p, long n) {
    for (long i = 0; i < n; i++) p[i] = (uint8_t)rnd_u64();
}

// ------------------------------------------------------------- fp16
/// IEEE half to double, written here so the kernels' own decoder is not its own reference.
static inline double half_bits_to_double(uint16_t h) {
    const int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    const double v = exp == 0 ? ldexp(mant, -24) : exp == 31 ? (mant ? NAN : INFINITY) : ldexp(1024 + mant, exp - 25);
    return sign ? -v : v;
}
static inline double half_at_d(const uint8_t *p) { return half_bits_to_double((uint16_t)(p[0] | p[1] << 8)); }
/// Stores a finite positive or negative half near `v` (round toward zero on the mantissa).
static inline void put_half(uint8_t *p, float v) {
    _Float16 h = (_Float16)v;
    memcpy(p, &h, 2);
}

// ------------------------------------------------------------- layouts
/// Bytes of one weight row of `k` values in the kinds of cpu_kernels.h.
static inline long row_bytes_of(int kind, int k) {
    switch (kind) {
    case SLIM_ROW_INT8: return k;
    case SLIM_ROW_Q8_0: return (long)k / 32 * 34;
    case SLIM_U4_Q4_0: return (long)k / 32 * 18;
    case SLIM_U4_Q4_1: return (long)k / 32 * 20;
    default: return (long)k / 32 * 16;  // int4: nibbles only, scales and zeros beside
    }
}
/// Weight i of a row, decoded in double: runs of 32, byte j of a run holding
/// weight j (low nibble) and j + 16 (high nibble); int4 groups of 2^shift runs.
double ref_weight(int kind, const uint8_t *row, int i, int group_shift, float scale, const float *scales,
                  const uint8_t *zeros);
/// The stored level of weight i (4-bit u in 0...15, or the int8 q) and run
/// r's (a, b): weight = a·level + b.
int ref_level(int kind, const uint8_t *row, int i);
void ref_ab(int kind, const uint8_t *row, int r, int group_shift, float scale, const float *scales, const uint8_t *zeros,
            double *a, double *b);
/// A random row of `kind` with scales, zeros (int4 asym) sized for `groups`; fp16 scales in [lo, hi].
void random_row(int kind, uint8_t *row, int k, float *scales, uint8_t *zeros, int groups);

extern const char *const kind_names[];
static inline const char *kind_name(int kind) { return kind == SLIM_ROW_INT8 ? "int8" : kind == SLIM_ROW_Q8_0 ? "q8_0" : kind_names[kind]; }

// ------------------------------------------------------------- poison
/// A NaN with a payload no kernel produces: written before a call, so an
/// output the kernel failed to write, or wrote outside its rows, shows.
static inline float poison_f(void) {
    const uint32_t bits = 0x7FC0DEADu;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
static inline int is_poison_f(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    return bits == 0x7FC0DEADu;
}
static inline void poison_floats(float *p, long n) {
    for (long i = 0; i < n; i++) p[i] = poison_f();
}
enum { POISON_I32 = (int32_t)0x5EADBEEF };

// ------------------------------------------------------------- record
/// The ISA limit the checks run under (a SLIM_ISA_ level) and its name.
extern int check_isa;
/// Counts a pass or a failure; on failure prints the check, the limit, the
/// seed-replay hint and the formatted detail. Returns `ok`.
int check(int ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/// Compares a float output with a double reference within `tol` (and not poison / NaN unless the reference is NaN).
int near(float got, double want, double tol);
/// The dispatch: the levels family `family` ran since the last call must stay
/// within the limit and reach the highest level of `levels` (a mask, bit L
/// for level L: the levels the entry point has on this architecture for every
/// shape the check tries) that is within the limit; `what` names the check.
void check_paths(int family, unsigned levels, const char *what);
/// `levels` for check_paths by architecture: masks of 1 << SLIM_ISA_ levels.
#if defined(__x86_64__)
#define LEVELS(x86, arm) (1u | (x86))
#elif defined(__aarch64__)
#define LEVELS(x86, arm) (1u | (arm))
#else
#define LEVELS(x86, arm) 1u
#endif
enum { L1 = 2, L2 = 4 };

/// fp32 unit roundoff.
#define U32 0x1p-24

void check_qgemm(void);
void check_kquants(void);
void check_int8(void);
void check_elementwise(void);
void check_attention(void);
void check_pool(void);
void check_w16(void);

#endif
