// 16-bit float weights (cpu_w16.h): the row kernels at every level against a
// float64 product of the stored weights, the widening bit for bit, and the
// activations' bf16 planes for the vdpbf16ps kernel.
#include "check_support.h"
#include "cpu_w16.h"

static const char *w16_name(int kind) { return kind == SLIM_W16_BF16 ? "bf16" : "f16"; }

/// A stored weight decoded in double, independently of the kernels.
static double ref_w16(uint16_t v, int kind) {
    if (kind == SLIM_W16_F16) return half_bits_to_double(v);
    const uint32_t bits = (uint32_t)v << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// Random finite weights: bf16 from floats in [-2, 2] (normal numbers: the
/// vdpbf16ps kernel counts subnormal bf16 as zero, see cpu_w16.h); fp16 from
/// random bits over the whole finite range, subnormals included.
static uint16_t random_w16(int kind) {
    if (kind == SLIM_W16_BF16) {
        float f = rnd_float(-2, 2);
        if (fabsf(f) < 1e-30f) f = 1;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        return (uint16_t)(bits >> 16);
    }
    uint16_t h;
    do h = (uint16_t)rnd_u64(); while (((h >> 10) & 31) == 31);
    return h;
}

// One product: tokens × rows [first, first + count) of an n-row weight. The
// bound: fp32 sums of k products err by at most about k·u·Σ|x·w| (the kernels'
// blocked sums do far better); two bf16 parts add 2⁻¹⁶·Σ|x·w| (x within
// 2⁻¹⁶·|x|), three nothing (x exact), each part one more fp32 addition.
static void check_rows(int kind, int parts) {
    const int use_planes = parts > 0;
    const int tokens = rnd_int(1, 9), n = rnd_int(1, 11), k = rnd_int(1, 300);
    const int first = rnd_int(0, n - 1), count = rnd_int(1, n - first);
    const int stride = slim_w16_plane_stride(k);
    float *x = malloc(sizeof(float) * tokens * k), *y = malloc(sizeof(float) * tokens * n);
    uint16_t *w = malloc(2L * n * k), *planes = malloc(2L * tokens * 3 * stride);
    fill_floats(x, (long)tokens * k, -3, 3);
    for (long i = 0; i < (long)n * k; i++) w[i] = random_w16(kind);
    for (int t = 0; t < tokens && use_planes; t++) slim_w16_split(x + (long)t * k, k, parts, planes + (long)t * parts * stride);
    poison_floats(y, (long)tokens * n);
    char what[96];
    snprintf(what, sizeof what, "slim_rows_w16 %s%s", w16_name(kind), parts == 3 ? " (vdpbf16ps, 3 parts)" : parts == 2 ? " (vdpbf16ps, 2 parts)" : "");
    slim_paths_take();
    slim_rows_w16(x, k, use_planes ? planes : NULL, parts, tokens, w, k, kind, first, count, y, n, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1 | L2, L1), what);
    int ok = 1;
    for (int t = 0; t < tokens && ok; t++)
        for (int r = 0; r < n && ok; r++) {
            const float got = y[t * n + r];
            if (r < first || r >= first + count) {
                ok = check(is_poison_f(got), what, "row %d outside [%d, %d) written\n", r, first, first + count);
                continue;
            }
            double want = 0, magnitude = 0;
            for (int i = 0; i < k; i++) {
                const double p = (double)x[t * k + i] * ref_w16(w[(long)r * k + i], kind);
                want += p;
                magnitude += fabs(p);
            }
            const double tol = magnitude * ((k + 32 * parts + 32) * U32 + (parts == 2 ? 0x1p-16 : 0)) + 1e-30;
            ok = check(near(got, want, tol), what, "tokens=%d n=%d k=%d: y[%d][%d] = %.9g, want %.9g (tol %.3g)\n", tokens,
                       n, k, t, r, got, want, tol);
        }
    if (ok) check(1, what, " ");
    free(x), free(y), free(w), free(planes);
}

// Widening is exact: every stored value, ±∞ and NaN included.
static void check_widen(int kind) {
    const long n = rnd_int(1, 200);
    uint16_t *w = malloc(2 * n);
    float *out = malloc(sizeof(float) * (n + 4));
    for (long i = 0; i < n; i++) w[i] = (uint16_t)rnd_u64();
    poison_floats(out, n + 4);
    char what[64];
    snprintf(what, sizeof what, "slim_w16_widen %s", w16_name(kind));
    slim_paths_take();
    slim_w16_widen(w, n, kind, out, check_isa);
    check_paths(SLIM_PATHS_QGEMM, LEVELS(L1, L1), what);
    int ok = 1;
    for (long i = 0; i < n && ok; i++) {
        const double want = ref_w16(w[i], kind);
        ok = check(isnan(want) ? isnan(out[i]) && !is_poison_f(out[i]) : (double)out[i] == want, what,
                   "value 0x%04x widened to %.9g, want %.9g\n", w[i], out[i], want);
    }
    for (long i = n; i < n + 4 && ok; i++) ok = check(is_poison_f(out[i]), what, "wrote past n=%ld\n", n);
    if (ok) check(1, what, " ");
    free(w), free(out);
}

// The parts: two sum to x within 2⁻¹⁶·|x|, three to x exactly (finite x in
// bf16's normal range); tails zero; ∞ and NaN kept in the first part with the
// others 0; a finite x past bf16's range kept finite.
static void check_split(int parts) {
    const int k = rnd_int(1, 100), stride = slim_w16_plane_stride(k);
    float *x = malloc(sizeof(float) * k);
    uint16_t *planes = malloc(2L * 3 * stride);
    fill_floats(x, k, -3, 3);
    if (k > 4) {
        x[0] = INFINITY, x[1] = NAN, x[2] = 3.4e38f, x[3] = -3.4e38f;
    }
    for (int i = 4; i < k && parts == 3; i += 7) x[i] *= 0x1p-100f;  // small values: their last part still normal
    memset(planes, 0x5A, 2L * 3 * stride);
    slim_w16_split(x, k, parts, planes);
    int ok = check(stride % 32 == 0 && stride >= k && stride < k + 32, "slim_w16_split", "stride %d for k=%d\n", stride, k);
    for (int i = 0; i < k && ok; i++) {
        const double hi = ref_w16(planes[i], SLIM_W16_BF16), lo = ref_w16(planes[stride + i], SLIM_W16_BF16);
        const double last = parts == 3 ? ref_w16(planes[2 * stride + i], SLIM_W16_BF16) : 0;
        if (!isfinite(x[i])) {
            ok = check(isnan(x[i]) ? isnan(hi) && lo == 0 && last == 0 : hi == x[i] && lo == 0 && last == 0, "slim_w16_split",
                       "x = %g split into %g + %g + %g\n", x[i], hi, lo, last);
            continue;
        }
        const double bound = parts == 3 && fabsf(x[i]) < 1e38f ? 0 : fabsf(x[i]) < 1e38f ? 0x1p-16 * fabs(x[i]) : 0x1p-15 * fabs(x[i]);
        ok = check(isfinite(hi) && fabs(hi + lo + last - x[i]) <= bound, "slim_w16_split",
                   "%d parts: x[%d] = %.9g split into %.9g + %.9g + %.9g\n", parts, i, x[i], hi, lo, last);
    }
    for (int i = k; i < stride && ok; i++)
        for (int p = 0; p < parts && ok; p++)
            ok = check(planes[(long)p * stride + i] == 0, "slim_w16_split", "padding at %d of k=%d not zero\n", i, k);
    if (ok) check(1, "slim_w16_split", " ");
    free(x), free(planes);
}

void check_w16(void) {
    static int said;
    const int dot = slim_w16_bf16_dot(SLIM_W16_BF16, check_isa);
    if (check_isa == slim_cpu_isa() && !said++)
        printf("  w16: the vdpbf16ps kernel %s on this CPU\n", dot ? "runs" : "is absent (AVX-512 BF16 missing): not checked");
    for (int rep = 0; rep < 40; rep++)
        for (int kind = SLIM_W16_BF16; kind <= SLIM_W16_F16; kind++) {
            check_rows(kind, 0);
            if (kind == SLIM_W16_BF16 && dot) check_rows(kind, 2), check_rows(kind, 3);
            check_widen(kind);
        }
    for (int rep = 0; rep < 20; rep++) check_split(2), check_split(3);
}
