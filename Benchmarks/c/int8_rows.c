// Kernel times of the int8-weight row kernels without Swift or dispatch in
// the way: the 22-bit fixed-point VNNI kernel (slim_rows_int8_i22), the fp32
// kernel it replaces on VNNI CPUs (slim_rows_int8) and W8A8 (slim_gemm_w8a8),
// on all N rows and on half of them (one core's share on two cores), single
// thread, then half each on two threads at once. Minimum over runs.
//
//   clang -O3 -ISources/CPUKernels/include -o /tmp/int8_rows \
//       Sources/CPUKernels/*.c Benchmarks/c/int8_rows.c -lm -lpthread
//   /tmp/int8_rows [K=4096] [runs=200] [N=4096]
#include "cpu_kernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>

enum { MMAX = 8, KERNELS = 3 };
static const char *names[KERNELS] = {"i22 (VNNI)", "fp32 rows", "w8a8 (VNNI)"};
static int n, k, stride;
static int8_t *w, *planes, *qx;
static float *sw, *x, *y, sq[MMAX];
static double sx[MMAX];
static int32_t sums[3 * MMAX];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t state = 88172645463325252ULL;
static float uniform(void) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (float)((state >> 11) * 0x1p-53) * 2 - 1;
}

static void run(int kernel, int m, int first, int count) {
    switch (kernel) {
    case 0: slim_rows_int8_i22(planes, sx, sums, m, k, w, sw, first, count, y, n, SLIM_ISA_AVX512_VNNI); break;
    case 1: slim_rows_int8(x, k, m, w, k, sw, first, count, y, n, SLIM_ISA_AVX512_VNNI); break;
    default:
        slim_gemm_w8a8(qx, sq, m, w + (long)first * k, sw + first, count, k, 0, y + first, n, SLIM_ISA_AVX512_VNNI);
    }
}

// The second thread of the two-thread runs: the upper half of the rows. It
// spins between jobs (as onnxruntime's pool does), so a run does not include
// waking a sleeping thread, which costs tens of microseconds in a VM; it
// exists only while the two-thread runs of one case last.
static atomic_int job_kernel = -1, job_m = 1, job_seq = 0, job_done = 0;
static void *helper(void *first_seq) {
    for (int seen = *(const int *)first_seq;;) {
        while (atomic_load_explicit(&job_seq, memory_order_acquire) == seen) _mm_pause();
        seen = atomic_load(&job_seq);
        if (atomic_load(&job_kernel) < 0) return 0;
        run(atomic_load(&job_kernel), atomic_load(&job_m), n / 2, n - n / 2);
        atomic_store_explicit(&job_done, seen, memory_order_release);
    }
}

// Both halves at once: the helper's, then ours, then wait for the helper.
static void run_two(int kernel, int m) {
    atomic_store(&job_kernel, kernel);
    atomic_store(&job_m, m);
    const int seq = atomic_fetch_add_explicit(&job_seq, 1, memory_order_release) + 1;
    run(kernel, m, 0, n / 2);
    while (atomic_load_explicit(&job_done, memory_order_acquire) != seq) _mm_pause();
}

int main(int argc, char **argv) {
    k = argc > 1 ? atoi(argv[1]) : 4096;
    const int runs = argc > 2 ? atoi(argv[2]) : 200;
    n = argc > 3 ? atoi(argv[3]) : 4096;
    stride = slim_i22_stride(k);
    w = malloc((size_t)n * k), qx = malloc((size_t)MMAX * k), planes = malloc((size_t)MMAX * 3 * stride);
    sw = malloc(sizeof(float) * n), x = malloc(sizeof(float) * MMAX * k), y = malloc(sizeof(float) * MMAX * n);
    for (long i = 0; i < (long)n * k; i++) w[i] = (int8_t)(uniform() * 127.5f);
    for (int r = 0; r < n; r++) sw[r] = (1.5f + uniform()) / 127;
    for (long i = 0; i < (long)MMAX * k; i++) x[i] = uniform();
    for (int t = 0; t < MMAX; t++) sq[t] = slim_quantize_row_i8(x + (long)t * k, k, qx + (long)t * k, SLIM_ISA_AVX512_VNNI);
    printf("N=%d K=%d, min of %d runs, CPU ISA level %d\n", n, k, runs, slim_cpu_isa());

    double quantize = 1e9;
    for (int it = 0; it < runs; it++) {
        const double t0 = now();
        sx[0] = slim_quantize_row_i22(x, k, planes, sums, SLIM_ISA_AVX512_VNNI);
        const double t = now() - t0;
        if (t < quantize) quantize = t;
    }
    for (int t = 0; t < MMAX; t++) sx[t] = slim_quantize_row_i22(x + (long)t * k, k, planes + (long)t * 3 * stride, sums + 3 * t, SLIM_ISA_AVX512_VNNI);
    printf("slim_quantize_row_i22, one row: %.2f us\n", quantize * 1e6);

    const int ms[2] = {1, MMAX};
    for (int mi = 0; mi < 2; mi++) {
        const int m = ms[mi];
        for (int kernel = 0; kernel < KERNELS; kernel++) {
            // Each case repeats one call (as `slim bench` does), so its rows stay in cache as far as they fit.
            double all = 1e9, half = 1e9, two = 1e9;
            for (int it = 0; it < runs; it++) {
                const double t0 = now();
                run(kernel, m, 0, n);
                const double t = now() - t0;
                if (t < all) all = t;
            }
            for (int it = 0; it < runs; it++) {
                const double t0 = now();
                run(kernel, m, 0, n / 2);
                const double t = now() - t0;
                if (t < half) half = t;
            }
            pthread_t thread;
            int first_seq = atomic_load(&job_seq);
            pthread_create(&thread, 0, helper, &first_seq);
            for (int it = 0; it < runs; it++) {
                const double t0 = now();
                run_two(kernel, m);
                const double t = now() - t0;
                if (t < two) two = t;
            }
            atomic_store(&job_kernel, -1);
            atomic_fetch_add(&job_seq, 1);
            pthread_join(thread, 0);
            printf("M=%d %-12s 1 thread: %8.1f us all rows, %8.1f us half   2 threads: %8.1f us\n", m, names[kernel],
                   all * 1e6, half * 1e6, two * 1e6);
        }
    }
    return 0;
}
