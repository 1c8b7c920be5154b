#include "cpu_pool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define RELAX() _mm_pause()
#elif defined(__aarch64__)
#define RELAX() __asm__ __volatile__("yield")
#else
#define RELAX() ((void)0)
#endif

// How long an idle worker polls before it sleeps: longer than the gaps between
// the products of one decoding step, short enough not to hold a core from
// other work (another library's threads, a test runner) for long.
#define SPIN_NS 200000L
enum { MAX_WORKERS = 255 };

// The job in flight. `ticket` packs (generation << 32 | next chunk); a worker
// reads the job's fields and then claims a chunk with a compare-and-swap on
// the ticket it read, so a claim succeeds only if no new job was posted in
// between (posting first closes the ticket, then writes the fields).
static struct {
    _Atomic uint64_t ticket;
    _Atomic(slim_pool_task) task;
    _Atomic(void *) context;
    _Atomic int chunks;
    _Atomic int finished;
    _Atomic int sleepers;
    pthread_mutex_t lock, submit;
    pthread_cond_t wake;
    int workers;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .submit = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static const uint32_t CLOSED = UINT32_MAX;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint32_t generation(uint64_t ticket) { return (uint32_t)(ticket >> 32); }

// Whether `ticket` is a job after generation `seen` that is open for claims.
static int is_new_job(uint64_t ticket, uint32_t seen) { return generation(ticket) != seen && (uint32_t)ticket != CLOSED; }

// Claims and runs chunks of the job `ticket` belongs to until none is left or
// a newer job replaced it.
static void run_chunks(uint64_t ticket) {
    for (;;) {
        const uint32_t next = (uint32_t)ticket;
        if (next == CLOSED) return;
        const slim_pool_task task = atomic_load(&pool.task);
        void *const context = atomic_load(&pool.context);
        const int chunks = atomic_load(&pool.chunks);
        if ((int)next >= chunks) return;
        if (!atomic_compare_exchange_weak(&pool.ticket, &ticket, ticket + 1)) continue;  // ticket reloaded
        task(context, (int)next);
        atomic_fetch_add(&pool.finished, 1);
        ticket = atomic_load(&pool.ticket);
    }
}

static void *worker(void *unused) {
    (void)unused;
    uint32_t seen = generation(atomic_load(&pool.ticket));
    for (;;) {
        uint64_t ticket = atomic_load(&pool.ticket);
        const long long deadline = now_ns() + SPIN_NS;
        for (unsigned spins = 1; !is_new_job(ticket, seen); spins++) {
            RELAX();
            if (spins % 256 == 0 && now_ns() > deadline) {
                pthread_mutex_lock(&pool.lock);
                atomic_fetch_add(&pool.sleepers, 1);
                while (!is_new_job(ticket = atomic_load(&pool.ticket), seen)) pthread_cond_wait(&pool.wake, &pool.lock);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.lock);
            }
            ticket = atomic_load(&pool.ticket);
        }
        seen = generation(ticket);
        run_chunks(ticket);
    }
    return 0;
}

static int start_workers(int count) {
    if (count > MAX_WORKERS) count = MAX_WORKERS;
    for (; pool.workers < count; pool.workers++) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int failed = pthread_create(&thread, &attr, worker, 0);
        pthread_attr_destroy(&attr);
        if (failed) break;
    }
    return pool.workers;
}

int slim_pool_run(int threads, int chunks, slim_pool_task task, void *context) {
    if (chunks <= 0) return 1;
    if (pthread_mutex_trylock(&pool.submit) != 0) return 0;
    if (start_workers(threads - 1) == 0) { pthread_mutex_unlock(&pool.submit); return 0; }
    const uint32_t next_generation = generation(atomic_load(&pool.ticket)) + 1;
    atomic_store(&pool.ticket, (uint64_t)next_generation << 32 | CLOSED);
    atomic_store(&pool.task, task);
    atomic_store(&pool.context, context);
    atomic_store(&pool.chunks, chunks);
    atomic_store(&pool.finished, 0);
    atomic_store(&pool.ticket, (uint64_t)next_generation << 32);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    run_chunks(atomic_load(&pool.ticket));
    // A worker may still be inside a chunk: wait, yielding now and then in
    // case it was preempted and needs this core.
    for (unsigned spins = 1; atomic_load(&pool.finished) < chunks; spins++) {
        RELAX();
        if (spins % 1024 == 0) sched_yield();
    }
    pthread_mutex_unlock(&pool.submit);
    return 1;
}
