#ifndef SLIM_CPU_PROBE_H
#define SLIM_CPU_PROBE_H

/// fp32 FLOP/s one thread reaches with independent 256-bit FMAs for `iterations`
/// loop trips, or 0 where the CPU has no AVX2/FMA (the caller then estimates).
double slim_probe_fma_flops(long iterations);

#endif
