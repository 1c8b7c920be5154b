// Checks every C kernel of Sources/CPUKernels at every instruction-set level
// this CPU (or qemu's CPU model) has, against float64 references computed here
// from the documented layouts: random inputs from one printed seed (replay it
// with SLIM_SEED=<seed>), sizes that are no multiple of any tile, outputs
// poisoned before each call. Prints "N passed, N failed" and exits 1 on any
// failure. Built and run by scripts/check_c_kernels.sh.
#include "check_support.h"
#include <stdarg.h>

uint64_t check_rng;
int check_isa;
static uint64_t seed;
static long passed, failed;

const char *const kind_names[] = {"int4-sym", "int4-asym", "q4_0", "q4_1"};

int check(int ok, const char *what, const char *fmt, ...) {
    if (ok) {
        passed++;
        return 1;
    }
    if (failed++ < 40) {  // the first failures say enough; the count says the rest
        printf("FAIL [isa %s] %s: ", slim_isa_name(check_isa), what);
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("  (replay: SLIM_SEED=%llu)\n", (unsigned long long)seed);
    }
    return 0;
}

int near(float got, double want, double tol) {
    if (isnan(want)) return isnan(got) && !is_poison_f(got);
    if (isinf(want)) return got == want;
    return !isnan(got) && fabs((double)got - want) <= tol;
}

void check_paths(int family, unsigned levels, const char *what) {
    const unsigned bits = (slim_paths_take() >> (SLIM_PATH_BITS * family)) & ((1u << SLIM_PATH_BITS) - 1);
    int top = -1;
    for (int level = 0; level < SLIM_PATH_BITS; level++)
        if (bits >> level & 1) top = level;
    int want = 0;
    for (int level = 0; level <= check_isa; level++)
        if (levels >> level & 1) want = level;
    check(top >= want && top <= check_isa, what, "dispatch ran levels 0x%x, expected the top one in [%s, %s]\n", bits,
          slim_isa_name(want), slim_isa_name(check_isa));
}

int ref_level(int kind, const uint8_t *row, int i) {
    const int r = i / 32, j = i % 32;
    if (kind == SLIM_ROW_INT8) return (int8_t)row[i];
    if (kind == SLIM_ROW_Q8_0) return (int8_t)row[r * 34 + 2 + j];
    const uint8_t *nib = kind == SLIM_U4_Q4_0 ? row + r * 18 + 2 : kind == SLIM_U4_Q4_1 ? row + r * 20 + 4 : row + r * 16;
    return j < 16 ? nib[j] & 15 : nib[j - 16] >> 4;
}

void ref_ab(int kind, const uint8_t *row, int r, int group_shift, float scale, const float *scales, const uint8_t *zeros,
            double *a, double *b) {
    *b = 0;
    switch (kind) {
    case SLIM_ROW_INT8: *a = scale; break;
    case SLIM_ROW_Q8_0: *a = half_at_d(row + r * 34); break;
    case SLIM_U4_INT4_SYM: *a = scales[r >> group_shift], *b = -8 * *a; break;
    case SLIM_U4_INT4_ASYM: *a = scales[r >> group_shift], *b = -*a * zeros[r >> group_shift]; break;
    case SLIM_U4_Q4_0: *a = half_at_d(row + r * 18), *b = -8 * *a; break;
    default: *a = half_at_d(row + r * 20), *b = half_at_d(row + r * 20 + 2); break;
    }
}

double ref_weight(int kind, const uint8_t *row, int i, int group_shift, float scale, const float *scales,
                  const uint8_t *zeros) {
    double a, b;
    ref_ab(kind, row, i / 32, group_shift, scale, scales, zeros, &a, &b);
    return a * ref_level(kind, row, i) + b;
}

void random_row(int kind, uint8_t *row, int k, float *scales, uint8_t *zeros, int groups) {
    fill_bytes(row, row_bytes_of(kind, k));
    const int runs = k / 32;
    for (int r = 0; r < runs; r++) {
        if (kind == SLIM_ROW_Q8_0) put_half(row + r * 34, rnd_float(0.001f, 0.05f));
        if (kind == SLIM_U4_Q4_0) put_half(row + r * 18, rnd_float(0.01f, 0.2f));
        if (kind == SLIM_U4_Q4_1) {
            put_half(row + r * 20, rnd_float(0.01f, 0.2f));
            put_half(row + r * 20 + 2, rnd_float(-1.0f, 1.0f));
        }
    }
    for (int g = 0; scales && g < groups; g++) scales[g] = rnd_float(0.01f, 0.2f);
    for (int g = 0; zeros && g < groups; g++) zeros[g] = (uint8_t)rnd_int(0, 15);
}

int main(int argc, char **argv) {
    const char *given = argc > 1 ? argv[1] : getenv("SLIM_SEED");
    if (given) seed = strtoull(given, NULL, 10);
    else {
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(&seed, sizeof seed, 1, f) != 1) seed = 0x5EED;
        if (f) fclose(f);
    }
    const int best = slim_cpu_isa();
    printf("check_kernels: seed %llu, CPU's best level %s\n", (unsigned long long)seed, slim_isa_name(best));
    for (check_isa = SLIM_ISA_PORTABLE; check_isa <= best; check_isa++) {
        check_rng = seed;  // each level sees the same inputs
        const long before = failed;
        slim_paths_take();
        check_qgemm();
        check_kquants();
        check_int8();
        check_elementwise();
        check_w16();
        check_attention();
        printf("  level %-14s %s\n", slim_isa_name(check_isa), failed == before ? "ok" : "FAILED");
    }
    check_pool();
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
