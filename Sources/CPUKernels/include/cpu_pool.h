#ifndef SLIM_CPU_POOL_H
#define SLIM_CPU_POOL_H
// A small pool of worker threads that spin briefly between jobs. Decoding runs
// one small product after another (a 4096x4096 int8 GEMV is ~0.1 ms), and
// waking a sleeping thread for each costs tens of microseconds: as in
// onnxruntime's and llama.cpp's thread pools, workers keep polling for a short
// while after a job (then sleep), so back-to-back jobs start at once.

/// One chunk of a job: `task(context, chunk)`.
typedef void (*slim_pool_task)(void *context, int chunk);

/// Runs task(context, i) for every i < `chunks` on the calling thread and
/// `threads` − 1 pool workers (created on the first call), each chunk exactly
/// once; returns 1 when all have finished. Returns 0 without running anything
/// when the pool is busy with another caller's job (a concurrent or nested
/// call): the caller then runs the chunks some other way.
int slim_pool_run(int threads, int chunks, slim_pool_task task, void *context);

#endif
