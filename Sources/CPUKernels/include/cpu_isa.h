#ifndef SLIM_CPU_ISA_H
#define SLIM_CPU_ISA_H
// Instruction-set levels of the CPU backend's integer kernels. Each entry point
// that has several takes an `isa` limit: it runs the best level that is both
// at most the limit and supported by this CPU, so a caller (a CPUBackend made
// with a lower limit, a test) can force a fallback without any global switch.

/// Portable C; AVX2 + FMA + F16C (int8 products through maddubs/madd);
/// AVX-512 F/BW/VL + VNNI (int8 products through vpdpbusd). On ARM64 the two
/// levels above portable are NEON (int8 products through smull/sadalp) and
/// NEON with the dot-product extension (sdot): the numbers are shared, since a
/// build has one architecture's, and a limit means the same on both (1: the
/// vector kernels without the int8 dot-product instruction, 2: with it).
enum { SLIM_ISA_PORTABLE = 0, SLIM_ISA_AVX2 = 1, SLIM_ISA_AVX512_VNNI = 2 };
enum { SLIM_ISA_NEON = 1, SLIM_ISA_NEON_DOTPROD = 2 };

/// The level's name on this build's architecture: "portable", "avx2",
/// "avx512-vnni", "neon", "neon-dotprod".
const char *slim_isa_name(int level);

/// The best level this CPU runs (probed once).
int slim_cpu_isa(void);

/// The level an entry point called with `limit` runs: min(limit, slim_cpu_isa()).
int slim_isa_within(int limit);

// Which kernel paths ran, so tests can check the dispatch and not only the
// numbers: every entry point that picks a level sets bit
// (SLIM_PATH_BITS · family + level) of a per-thread word for the kernel it
// ran. The CPU backend's parallelChunks gathers its workers' bits into the
// calling thread's, so what one op ran can be read back on the thread that
// called it (tests running in parallel do not see each other's bits).
enum { SLIM_PATH_BITS = 4 };
enum {
    SLIM_PATHS_QGEMM = 0,       ///< quantized-GEMM row kernels (and the tiles' row decoder)
    SLIM_PATHS_QUANTIZE_X = 1,  ///< activation rounding for those (int8 rows/runs, 22-bit planes)
    SLIM_PATHS_ELEMENTWISE = 2, ///< GELU, gated activations (SwiGLU, GELU-tanh), the GEMM's bias/GELU epilogue
    SLIM_PATHS_ATTENTION = 3,   ///< attention's online-softmax block
    SLIM_PATHS_GEMM = 4,        ///< Slim's own fp32 GEMM tiles (cpu_gemm.h; level 2 = AVX-512 F)
};
/// Returns this thread's bits and clears them.
unsigned slim_paths_take(void);
/// ORs `bits` into this thread's word.
void slim_paths_add(unsigned bits);
/// ORs `bits` into `*word` atomically (a parallel job's record, from several threads).
void slim_paths_merge(unsigned *word, unsigned bits);

#endif
