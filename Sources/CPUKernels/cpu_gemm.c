// Slim's own fp32 GEMM (see cpu_gemm.h). The Goto/BLIS scheme: B is packed a
// KC×NC block at a time into panels NR columns wide, A an MC×KC block at a time
// into panels MR rows tall, and a micro-kernel multiplies one A panel by one B
// panel with its MR×NR tile of C held in registers for the whole KC run. The
// micro-kernel is written once, over the compiler's vector types, and
// instantiated per instruction set with the tile that fills its registers:
//   AVX-512 F: 12×32 (24 zmm accumulators + 2 B vectors + a broadcast, of 32)
//   AVX2+FMA:   6×16 (12 ymm accumulators + 2 B vectors + a broadcast, of 16)
//   portable:   4×16 (what a 128-bit NEON or SSE unit holds in 16 registers)
// Which one runs is decided from CPUID features (slim_gemm_level), so a CPU
// model that a BLAS's table does not know still gets its widest kernel.
#include "cpu_gemm.h"
#include "cpu_paths.h"
#include <stdlib.h>
#include <string.h>

// Block sizes, from a sweep on Zen 4 (KC 128..768, MC 96..288, NC 512..2048,
// single-thread CPU time, scripts/gemm_sweep.sh): a long KC amortises each
// tile's write-back (KC = 256 ran at 0.85x OpenBLAS, 768 at 1.0x); an A block
// (MC×KC, 576 KiB) stays in L2 and the B block (KC×NC, 3 MiB) in L3. MC is a
// multiple of every MR.
#ifndef SLIM_GEMM_SWEEP
enum { KC = 768, MC = 192, NC = 1024 };
#endif

// The micro-kernel: tile = Σ_p a[p][0..MR) ⊗ b[p][0..NR) over `kc` packed
// steps, the MR×NR sums held in registers and written once at the end (to a
// buffer: with alpha, beta and C's address live in the loop the AVX2 tile
// spilled an accumulator every step). `a * b + c` is contracted to an FMA
// where the target has one (clang's -ffp-contract=on).
#define GEMM_TILE(NAME, ATTR, LANES, MR, NV)                                                                  \
    typedef float NAME##_vec __attribute__((vector_size((LANES) * 4), aligned(4)));                             \
    ATTR static void NAME(int kc, const float *restrict ap, const float *restrict bp, float *restrict tile) {  \
        NAME##_vec acc[MR][NV];                                                                                \
        for (int i = 0; i < (MR); i++)                                                                         \
            for (int j = 0; j < (NV); j++) acc[i][j] = (NAME##_vec){0};                                        \
        for (int p = 0; p < kc; p++, ap += (MR), bp += (NV) * (LANES)) {                                       \
            NAME##_vec b[NV];                                                                                  \
            for (int j = 0; j < (NV); j++) b[j] = *(const NAME##_vec *)(bp + j * (LANES));                     \
            for (int i = 0; i < (MR); i++) {                                                                   \
                const NAME##_vec a = ap[i] - (NAME##_vec){0}; /* a splat: x - 0 is x, -0 too */              \
                for (int j = 0; j < (NV); j++) acc[i][j] = a * b[j] + acc[i][j];                               \
            }                                                                                                  \
        }                                                                                                      \
        for (int i = 0; i < (MR); i++)                                                                         \
            for (int j = 0; j < (NV); j++) *(NAME##_vec *)(tile + (i * (NV) + j) * (LANES)) = acc[i][j];      \
    }

GEMM_TILE(tile_portable, , 4, 4, 4)
#if defined(__x86_64__)
#define HAVE_X86 1
GEMM_TILE(tile_avx2, __attribute__((target("avx2,fma"))), 8, 6, 2)
GEMM_TILE(tile_avx512, __attribute__((target("avx512f,avx2,fma"))), 16, 12, 2)
#else
#define HAVE_X86 0
#endif

typedef void (*tile_fn)(int kc, const float *ap, const float *bp, float *tile);
typedef struct { int mr, nr; tile_fn tile; } micro_kernel;

static micro_kernel kernel_for(int level) {
#if HAVE_X86
    if (level == SLIM_GEMM_AVX512) return (micro_kernel){12, 32, tile_avx512};
    if (level == SLIM_GEMM_AVX2) return (micro_kernel){6, 16, tile_avx2};
#endif
    (void)level;
    return (micro_kernel){4, 16, tile_portable};
}

int slim_gemm_level_for(int avx512f, int avx2, int fma) {
#if HAVE_X86
    return avx512f && avx2 && fma ? SLIM_GEMM_AVX512 : avx2 && fma ? SLIM_GEMM_AVX2 : SLIM_GEMM_PORTABLE;
#else
    (void)avx512f, (void)avx2, (void)fma;
    return SLIM_GEMM_PORTABLE;
#endif
}

int slim_gemm_best_level(void) {
    static int best = -1;
#if HAVE_X86
    // __builtin_cpu_supports answers from CPUID and, for AVX/AVX-512, from
    // XCR0 (whether the OS saves the wide registers).
    if (best < 0)
        best = slim_gemm_level_for(__builtin_cpu_supports("avx512f"), __builtin_cpu_supports("avx2"),
                                   __builtin_cpu_supports("fma"));
#else
    best = SLIM_GEMM_PORTABLE;
#endif
    return best;
}

int slim_gemm_level(int isa) {
    const int best = slim_gemm_best_level();
    return isa < best ? (isa < 0 ? 0 : isa) : best;
}

// op(A)'s rows [0, rows) × columns [0, kc) into MR-row panels, each kc steps of
// MR values; rows past `rows` are zeros, so edge tiles need no special kernel.
static void pack_a(int ta, const float *a, long lda, int rows, int kc, int mr, float *out) {
    for (int i0 = 0; i0 < rows; i0 += mr, out += (long)mr * kc) {
        const int live = rows - i0 < mr ? rows - i0 : mr;
        for (int p = 0; p < kc; p++) {
            float *dst = out + (long)p * mr;
            if (ta) {
                const float *src = a + (long)p * lda + i0;  // op(A)[i][p] = A[p][i]: contiguous in i
                for (int i = 0; i < live; i++) dst[i] = src[i];
            } else {
                for (int i = 0; i < live; i++) dst[i] = a[(long)(i0 + i) * lda + p];
            }
            for (int i = live; i < mr; i++) dst[i] = 0;
        }
    }
}

// op(B)'s rows [0, kc) × columns [0, cols) into NR-column panels, each kc
// steps of NR values; columns past `cols` are zeros.
static void pack_b(int tb, const float *b, long ldb, int kc, int cols, int nr, float *out) {
    for (int j0 = 0; j0 < cols; j0 += nr, out += (long)nr * kc) {
        const int live = cols - j0 < nr ? cols - j0 : nr;
        for (int p = 0; p < kc; p++) {
            float *dst = out + (long)p * nr;
            if (tb) {
                for (int j = 0; j < live; j++) dst[j] = b[(long)(j0 + j) * ldb + p];  // op(B)[p][j] = B[j][p]
            } else {
                memcpy(dst, b + (long)p * ldb + j0, sizeof(float) * (size_t)live);
            }
            for (int j = live; j < nr; j++) dst[j] = 0;
        }
    }
}

// Packing space, one per thread and kept: pool workers call GEMM after GEMM,
// and a fresh 2 MiB block each time is an mmap and page faults each time
// (glibc's mmap threshold is 1 MiB here, see CMemory).
static _Thread_local struct { float *a, *b; } space;

static int reserve_space(void) {
    if (space.a) return 1;
    space.a = aligned_alloc(64, sizeof(float) * MC * KC);
    space.b = aligned_alloc(64, sizeof(float) * KC * (NC + 32));
    if (space.a && space.b) return 1;
    free(space.a);
    free(space.b);
    space.a = space.b = 0;
    return 0;
}

// C[rows×cols] = alpha·tile + beta·C (`nr` apart in the tile); beta = 0: C is not read.
static void update_c(const float *restrict tile, int nr, int rows, int cols, float alpha, float beta, float *c, long ldc) {
    for (int i = 0; i < rows; i++) {
        float *restrict out = c + (long)i * ldc;
        const float *restrict t = tile + i * nr;
        if (beta == 0)
            for (int j = 0; j < cols; j++) out[j] = alpha * t[j];
        else
            for (int j = 0; j < cols; j++) out[j] = alpha * t[j] + beta * out[j];
    }
}

// C = beta · C without reading C when beta = 0 (k = 0 leaves only that term).
static void scale_c(int m, int n, float beta, float *c, long ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) c[(long)i * ldc + j] = beta == 0 ? 0 : beta * c[(long)i * ldc + j];
}

void slim_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, long lda, const float *b, long ldb,
                float beta, float *c, long ldc, int isa) {
    if (m <= 0 || n <= 0) return;
    const int level = slim_ran(SLIM_PATHS_GEMM, slim_gemm_level(isa));
    if (k <= 0) { scale_c(m, n, beta, c, ldc); return; }
    if (!reserve_space()) abort();  // out of memory for 2 MiB: nothing sensible is left to do
    const micro_kernel kern = kernel_for(level);
    float tile[12 * 32] __attribute__((aligned(64)));  // the largest MR×NR
    for (int jc = 0; jc < n; jc += NC) {
        const int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            const int kc = k - pc < KC ? k - pc : KC;
            const float pass_beta = pc == 0 ? beta : 1.0f;  // later passes add to what the first wrote
            pack_b(tb, tb ? b + (long)jc * ldb + pc : b + (long)pc * ldb + jc, ldb, kc, nc, kern.nr, space.b);
            for (int ic = 0; ic < m; ic += MC) {
                const int mc = m - ic < MC ? m - ic : MC;
                pack_a(ta, ta ? a + (long)pc * lda + ic : a + (long)ic * lda + pc, lda, mc, kc, kern.mr, space.a);
                for (int jr = 0; jr < nc; jr += kern.nr) {
                    const int cols = nc - jr < kern.nr ? nc - jr : kern.nr;
                    for (int ir = 0; ir < mc; ir += kern.mr) {
                        const int rows = mc - ir < kern.mr ? mc - ir : kern.mr;
                        kern.tile(kc, space.a + (long)ir * kc, space.b + (long)jr * kc, tile);
                        update_c(tile, kern.nr, rows, cols, alpha, pass_beta, c + (long)(ic + ir) * ldc + jc + jr, ldc);
                    }
                }
            }
        }
    }
}

// A single row of A (a decode step) is a matrix-vector product and memory
// bound: streaming B once, unpacked, is what matters, so it skips the packing
// (which reads and writes B once more). Vectors over y's columns; four rows
// of B per pass over y (Bᵀ: four dot products per pass over x).
#define GEMV_KERNELS(NAME, ATTR, LANES)                                                                          \
    typedef float NAME##_vec __attribute__((vector_size((LANES) * 4), aligned(4)));                               \
    /* y[j] += Σ_p x[p] · B[p][j] for j < n: B is k×n, rows ldb apart. */                                          \
    ATTR static void NAME##_rows(int n, int k, const float *restrict x, const float *restrict b, long ldb,          \
                                 float *restrict y) {                                                             \
        int p = 0;                                                                                               \
        for (; p + 4 <= k; p += 4) {                                                                             \
            const float *b0 = b + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;                         \
            const NAME##_vec x0 = x[p] - (NAME##_vec){0}, x1 = x[p + 1] - (NAME##_vec){0};                          \
            const NAME##_vec x2 = x[p + 2] - (NAME##_vec){0}, x3 = x[p + 3] - (NAME##_vec){0};                      \
            int j = 0;                                                                                           \
            for (; j + (LANES) <= n; j += (LANES)) {                                                             \
                NAME##_vec *out = (NAME##_vec *)(y + j);                                                         \
                *out += x0 * *(const NAME##_vec *)(b0 + j) + x1 * *(const NAME##_vec *)(b1 + j) +                   \
                        x2 * *(const NAME##_vec *)(b2 + j) + x3 * *(const NAME##_vec *)(b3 + j);                    \
            }                                                                                                    \
            for (; j < n; j++) y[j] += x[p] * b0[j] + x[p + 1] * b1[j] + x[p + 2] * b2[j] + x[p + 3] * b3[j];       \
        }                                                                                                        \
        for (; p < k; p++)                                                                                       \
            for (int j = 0; j < n; j++) y[j] += x[p] * b[p * ldb + j];                                           \
    }                                                                                                            \
    /* y[j] += dot(B[j], x) for j < n: B is n×k, rows ldb apart. */                                               \
    ATTR static void NAME##_dots(int n, int k, const float *restrict x, const float *restrict b, long ldb,          \
                                 float *restrict y) {                                                             \
        int j = 0;                                                                                               \
        for (; j + 4 <= n; j += 4) {                                                                             \
            const float *r0 = b + j * ldb, *r1 = r0 + ldb, *r2 = r1 + ldb, *r3 = r2 + ldb;                         \
            NAME##_vec s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};                                                   \
            int p = 0;                                                                                           \
            for (; p + (LANES) <= k; p += (LANES)) {                                                             \
                const NAME##_vec xv = *(const NAME##_vec *)(x + p);                                              \
                s0 += xv * *(const NAME##_vec *)(r0 + p), s1 += xv * *(const NAME##_vec *)(r1 + p);               \
                s2 += xv * *(const NAME##_vec *)(r2 + p), s3 += xv * *(const NAME##_vec *)(r3 + p);               \
            }                                                                                                    \
            float t[4] = {0, 0, 0, 0};                                                                           \
            for (int i = 0; i < (LANES); i++) t[0] += s0[i], t[1] += s1[i], t[2] += s2[i], t[3] += s3[i];        \
            for (; p < k; p++) t[0] += x[p] * r0[p], t[1] += x[p] * r1[p], t[2] += x[p] * r2[p], t[3] += x[p] * r3[p]; \
            for (int i = 0; i < 4; i++) y[j + i] += t[i];                                                        \
        }                                                                                                        \
        for (; j < n; j++) {                                                                                     \
            float t = 0;                                                                                         \
            for (int p = 0; p < k; p++) t += x[p] * b[j * ldb + p];                                              \
            y[j] += t;                                                                                           \
        }                                                                                                        \
    }

GEMV_KERNELS(gemv_portable, , 4)
#if HAVE_X86
GEMV_KERNELS(gemv_avx2, __attribute__((target("avx2,fma"))), 8)
GEMV_KERNELS(gemv_avx512, __attribute__((target("avx512f,avx2,fma"))), 16)
#endif

void slim_sgemv(int tb, int n, int k, float alpha, const float *x, const float *b, long ldb, float beta, float *y,
                int isa) {
    if (n <= 0) return;
    const int level = slim_ran(SLIM_PATHS_GEMM, slim_gemm_level(isa));
    // The product into zeros (y is not read when beta = 0), then y = alpha · product + beta · y.
    float *sum = malloc(sizeof(float) * (size_t)n);
    if (!sum) abort();  // out of memory for one row of C: nothing sensible is left to do
    memset(sum, 0, sizeof(float) * (size_t)n);
    void (*kernel)(int, int, const float *, const float *, long, float *) = tb ? gemv_portable_dots : gemv_portable_rows;
#if HAVE_X86
    if (level == SLIM_GEMM_AVX512) kernel = tb ? gemv_avx512_dots : gemv_avx512_rows;
    else if (level == SLIM_GEMM_AVX2) kernel = tb ? gemv_avx2_dots : gemv_avx2_rows;
#endif
    if (k > 0) kernel(n, k, x, b, ldb, sum);
    for (int j = 0; j < n; j++) y[j] = beta == 0 ? alpha * sum[j] : alpha * sum[j] + beta * y[j];
    free(sum);
}
