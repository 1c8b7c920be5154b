// The 16-bit-weight row kernels of cpu_w16.c against each other, one thread,
// thread CPU time, median of 9: bf16 weights widened in registers (AVX-512 F,
// AVX2) or multiplied by vdpbf16ps on 2 or 3 bf16 parts of the activations,
// fp16 widened; and an fp32 GEMV/GEMM of the same shape (the fp32 copy's
// weights are twice the bytes) through the same loop structure is not here:
// `slim bench gemm --transpose-b` measures that. Weights cycle through 8
// matrices so the products read them from memory.
//   cc -O3 -ISources/CPUKernels/include -ISources/CPUKernels scripts/w16_kernels_bench.c \
//      Sources/CPUKernels/cpu_w16.c Sources/CPUKernels/cpu_kernels.c Sources/CPUKernels/cpu_paths.c \
//      Sources/CPUKernels/cpu_isa_names.c Sources/CPUKernels/cpu_neon.c -lm -o /tmp/w16bench && /tmp/w16bench 4096 4096
#include "cpu_isa.h"
#include "cpu_w16.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 4096, k = argc > 2 ? atoi(argv[2]) : 4096, mats = 8;
    uint16_t *w = malloc(2L * n * k * mats);
    for (long i = 0; i < (long)n * k * mats; i++) w[i] = (uint16_t)(0x3C00 | (rand() & 0x3FF));  // f16 / bf16 values near 1
    const int stride = slim_w16_plane_stride(k);
    float *x = malloc(sizeof(float) * 64 * k), *y = malloc(sizeof(float) * 64 * n);
    uint16_t *planes = malloc(2L * 64 * 3 * stride);
    for (int i = 0; i < 64 * k; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    printf("N=%d K=%d, one thread, median of 9 (8 weight matrices cycled), CPU level %s, vdpbf16ps %s\n", n, k,
           slim_isa_name(slim_cpu_isa()), slim_w16_bf16_dot(SLIM_W16_BF16, SLIM_ISA_AVX512_VNNI) ? "yes" : "no");
    const struct { const char *name; int kind, parts, isa; } variants[] = {
        {"bf16 widened, AVX-512", SLIM_W16_BF16, 0, SLIM_ISA_AVX512_VNNI}, {"bf16 widened, AVX2", SLIM_W16_BF16, 0, SLIM_ISA_AVX2},
        {"bf16 vdpbf16ps, 2 parts", SLIM_W16_BF16, 2, SLIM_ISA_AVX512_VNNI}, {"bf16 vdpbf16ps, 3 parts", SLIM_W16_BF16, 3, SLIM_ISA_AVX512_VNNI},
        {"f16 widened, AVX-512", SLIM_W16_F16, 0, SLIM_ISA_AVX512_VNNI},
    };
    const int ms[] = {1, 2, 4, 16};
    for (int mi = 0; mi < 4; mi++) {
        const int m = ms[mi];
        for (int v = 0; v < 5; v++) {
            double t[9];
            for (int rep = 0; rep < 9 + 2; rep++) {
                const double t0 = now();
                if (variants[v].parts)
                    for (int tk = 0; tk < m; tk++) slim_w16_split(x + (long)tk * k, k, variants[v].parts, planes + (long)tk * variants[v].parts * stride);
                slim_rows_w16(x, k, variants[v].parts ? planes : NULL, variants[v].parts, m, w + (long)(rep % mats) * n * k, k,
                              variants[v].kind, 0, n, y, n, variants[v].isa);
                if (rep >= 2) t[rep - 2] = now() - t0;
            }
            qsort(t, 9, sizeof(double), cmp);
            printf("M=%-3d %-26s %8.3f ms  %6.1f GB/s of weights  %6.1f GFLOP/s\n", m, variants[v].name, t[4] * 1e3,
                   2.0 * n * k / t[4] * 1e-9, 2.0 * m * n * k / t[4] * 1e-9);
        }
    }
    return 0;
}
