// Measures the fp32 FMA throughput of one core, so "% of peak" in benchmarks
// is relative to what the core really does (its boost clock included) rather
// than to the nominal clock /proc/cpuinfo reports.
#include "cpu_probe.h"
#include <time.h>

#if defined(__x86_64__)
typedef float v8 __attribute__((vector_size(32)));

// Twelve independent accumulators cover FMA latency (4-5 cycles) times two
// pipes; the empty asm keeps the compiler from folding the loop away.
__attribute__((target("avx2,fma"))) static float fma_loop(long iterations) {
    v8 b = {1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f, 1.0000001f};
    v8 c = {1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f};
    v8 a[12];
    for (int i = 0; i < 12; i++) a[i] = c * (float)i;
    for (long n = 0; n < iterations; n++) {
        for (int i = 0; i < 12; i++) a[i] = __builtin_ia32_vfmaddps256(a[i], b, c);
        __asm__ volatile("" : "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]), "+x"(a[4]), "+x"(a[5]),
                              "+x"(a[6]), "+x"(a[7]), "+x"(a[8]), "+x"(a[9]), "+x"(a[10]), "+x"(a[11]));
    }
    v8 s = a[0];
    for (int i = 1; i < 12; i++) s += a[i];
    return s[0] + s[7];
}
#endif

double slim_probe_fma_flops(long iterations) {
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile float sink = fma_loop(iterations);
    (void)sink;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return iterations * 12.0 * 8 * 2 / seconds;
#else
    (void)iterations;
    return 0;
#endif
}
