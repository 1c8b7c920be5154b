#ifndef SLIM_CPU_ISA_H
#define SLIM_CPU_ISA_H
// Instruction-set levels of the CPU backend's integer kernels. Each entry point
// that has several takes an `isa` limit: it runs the best level that is both
// at most the limit and supported by this CPU, so a caller (a CPUBackend made
// with a lower limit, a test) can force a fallback without any global switch.

/// Portable C; AVX2 + FMA + F16C (int8 products through maddubs/madd);
/// AVX-512 F/BW/VL + VNNI (int8 products through vpdpbusd).
enum { SLIM_ISA_PORTABLE = 0, SLIM_ISA_AVX2 = 1, SLIM_ISA_AVX512_VNNI = 2 };

/// The best level this CPU runs (probed once).
int slim_cpu_isa(void);

/// The level an entry point called with `limit` runs: min(limit, slim_cpu_isa()).
int slim_isa_within(int limit);

#endif
