#ifndef SLIM_CPU_GEMM_H
#define SLIM_CPU_GEMM_H
// Slim's own fp32 GEMM: register-blocked micro-kernels over packed panels
// (Goto/BLIS blocking), chosen by the CPU's features (CPUID), never by a model
// table. Single-threaded: the CPU backend splits C over its thread pool.

/// The GEMM's kernel levels: plain C (vectorised by the compiler where it can),
/// AVX2+FMA (6x16 tiles), AVX-512 F (12x32 tiles; no VNNI needed).
enum { SLIM_GEMM_PORTABLE = 0, SLIM_GEMM_AVX2 = 1, SLIM_GEMM_AVX512 = 2 };

/// The GEMM level a CPU with these features gets (pure: tests inject feature
/// sets; always portable off x86-64, where the plain-C tile is the kernel).
int slim_gemm_level_for(int avx512f, int avx2, int fma);

/// This CPU's level, from CPUID (probed once).
int slim_gemm_best_level(void);

/// The level slim_sgemm runs when called with `isa` (a SLIM_ISA_ limit, see
/// cpu_isa.h): the best this CPU has at or below it. AVX-512 needs F only, so
/// a CPU with AVX-512 but no VNNI still gets the wide tiles.
int slim_gemm_level(int isa);

/// C = alpha · op(A) · op(B) + beta · C, row-major: op(A) is m×k (A is k×m
/// when `ta`), op(B) is k×n (n×k when `tb`), C is m×n, `ldc` apart. With beta = 0
/// C is never read (it may hold NaN). Notes the level it ran (SLIM_PATHS_GEMM).
void slim_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, long lda, const float *b, long ldb,
                float beta, float *c, long ldc, int isa);

/// y = alpha · op(B) · x + beta · y for one row x of A (k values): op(B) is
/// k×n (B n×k when `tb`, rows `ldb` apart). y is not read when beta = 0.
/// Unpacked (a memory-bound product streams B once). Notes its level as slim_sgemm does.
void slim_sgemv(int tb, int n, int k, float alpha, const float *x, const float *b, long ldb, float beta, float *y,
                int isa);

#endif
