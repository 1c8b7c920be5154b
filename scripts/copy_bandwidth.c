// Memory bandwidth with every core's share in its own thread (default 2):
// STREAM-style copy (bytes read plus bytes written) and read-only (vector
// sums), best of 7 passes over 256 MiB arrays, so the caches do not hold them.
// The ceiling `slim bench qgemm --matrices 8` (a decode step reading its
// weights from memory) is compared with in scripts/cpu_vs_peers.sh.
//   cc -O2 -pthread scripts/copy_bandwidth.c -o copy_bandwidth && ./copy_bandwidth [threads]
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = 1 << 26 };  // floats per array: 256 MiB
static float *a, *b;
static int threads = 2, mode;
static volatile float sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef float v16 __attribute__((vector_size(64)));

static void *work(void *p) {
    const long id = (long)p, n = N / threads, lo = id * n;
    if (mode == 0) memcpy(b + lo, a + lo, n * 4);
    else {
        v16 s0 = {0}, s1 = {0};  // two chains, so the adds do not wait on each other
        for (long i = lo; i < lo + n; i += 32) {
            v16 x0, x1;
            memcpy(&x0, a + i, 64);
            memcpy(&x1, a + i + 16, 64);
            s0 += x0, s1 += x1;
        }
        float s = 0;
        for (int j = 0; j < 16; j++) s += s0[j] + s1[j];
        sink = s;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) threads = atoi(argv[1]);
    if (threads < 1 || threads > 64) return 2;
    a = aligned_alloc(64, N * 4L), b = aligned_alloc(64, N * 4L);
    if (!a || !b) return 1;
    memset(a, 1, N * 4L), memset(b, 2, N * 4L);  // touched first: no page faults timed
    for (mode = 0; mode < 2; mode++) {
        double best = 1e9;
        for (int rep = 0; rep < 7; rep++) {
            pthread_t th[64];
            const double t = now();
            for (long i = 0; i < threads; i++) pthread_create(&th[i], 0, work, (void *)i);
            for (int i = 0; i < threads; i++) pthread_join(th[i], 0);
            const double took = now() - t;
            if (took < best) best = took;
        }
        const double bytes = (mode == 0 ? 2.0 : 1.0) * N * 4;
        printf("memory %s, %d threads: %.1f GB/s\n", mode == 0 ? "copy (read + write)" : "read", threads, bytes / best / 1e9);
    }
    return 0;
}
