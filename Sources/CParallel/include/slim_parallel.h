#ifndef SLIM_PARALLEL_H
#define SLIM_PARALLEL_H
#include <stddef.h>
#include <stdint.h>

// ---- Exact sums (slim_exact_sum.c) ----
// A value is held as a signed 128-bit integer count of 2^-64 units (`acc`: two
// uint64 words per element, little-endian). Adding integers is associative, so
// a sum is the same bits whatever order or split it was taken in: one process
// or many ranks, one device or several.

/// Adds each v[i] (truncated toward zero to a multiple of 2^-64) to acc[i].
/// Returns 0, or i+1 for the first value that is not finite, is 2^62 or more in
/// magnitude, or would overflow the accumulator.
size_t slim_exact_add_f32(uint64_t *acc, const float *v, size_t n);
size_t slim_exact_add_f64(uint64_t *acc, const double *v, size_t n);
/// Adds the upper-triangle part (j >= i) of rows first..first+rows-1 of a
/// row-major k×k matrix (`m` points at row `first`) to the k(k+1)/2
/// accumulators of a packed triangle (row i holds columns i..k-1), so a large
/// matrix can be read a panel of rows at a time.
/// Returns 0, or 1 + the packed index of the first value refused.
size_t slim_exact_add_f32_upper(uint64_t *acc, const float *m, size_t k, size_t first, size_t rows);
/// Splits each accumulator into three int64 limbs of 43, 43 and 42+ bits
/// (limbs[3i], [3i+1], [3i+2]), so ranks can sum them with an ordinary int64 sum:
/// up to 2^20 ranks before a limb can overflow.
void slim_exact_to_limbs(const uint64_t *acc, int64_t *limbs, size_t n);
/// Recombines summed limbs into doubles (each rounded once, to nearest).
/// Returns 0, or i+1 for the first element whose total overflows 127 bits.
size_t slim_exact_from_limbs(const int64_t *limbs, double *out, size_t n);

// ---- MPI through dlopen (slim_mpi.c) ----
// Open MPI's libmpi.so.40 is opened at run time, only when a launcher started
// this process, so Slim builds and runs without MPI installed.

/// 1 when an MPI launcher (mpirun/mpiexec or Slurm's srun with PMIx/PMI) started this process.
int slim_mpi_launched(void);
/// Opens the library and calls MPI_Init. Returns 0, or nonzero with a message in `error` (size `capacity`).
int slim_mpi_init(const char *library, int *rank, int *size, char *error, size_t capacity);
/// In-place MPI_Iallreduce(MPI_SUM) of int64s, polled with MPI_Test until done or `timeout_s` passes.
/// Returns 0 when done, 1 on timeout, 2 when MPI returned an error.
int slim_mpi_allreduce_i64(int64_t *values, int count, double timeout_s);
/// MPI_Iallgather of `count` doubles per rank into `out` (size·count), polled the same way.
int slim_mpi_allgather_f64(const double *values, double *out, int count, double timeout_s);
/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job.
void slim_mpi_abort(int code);
void slim_mpi_finalize(void);

#endif
