// Open MPI, opened with dlopen only when a launcher started this process (see slim_parallel.h).
//
// Why dlopen rather than linking: Slim must build and run exactly as before on
// machines without MPI, and a build option would give two different `slim`
// binaries. Open MPI's C handles (MPI_COMM_WORLD, MPI_INT64_T, MPI_DOUBLE,
// MPI_SUM) are the addresses of exported globals (ompi_mpi_comm_world, …), so
// dlsym finds them without <mpi.h>. This ties the shim to Open MPI's ABI
// (libmpi.so.40, the ABI of Open MPI 3.x–5.x); MPICH, whose handles are
// integers, is refused with a message rather than misread.
#include "slim_parallel.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void *Handle;  // MPI_Comm, MPI_Datatype, MPI_Op, MPI_Request in Open MPI: pointers
static struct {
    int (*init)(int *, char ***);
    int (*comm_rank)(Handle, int *);
    int (*comm_size)(Handle, int *);
    int (*iallreduce)(const void *, void *, int, Handle, Handle, Handle, Handle *);
    int (*iallgather)(const void *, int, Handle, void *, int, Handle, Handle, Handle *);
    int (*test)(Handle *, int *, void *);
    int (*abort)(Handle, int);
    int (*finalize)(void);
    Handle world, int64, dbl, sum, in_place;
} mpi;
static int opened = 0;

int slim_mpi_launched(void) {
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", NULL};
    for (int i = 0; names[i]; i++)
        if (getenv(names[i])) return 1;
    return 0;
}

static int fail(char *error, size_t capacity, const char *what, const char *detail) {
    snprintf(error, capacity, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

int slim_mpi_init(const char *library, int *rank, int *size, char *error, size_t capacity) {
    // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols from the global scope.
    void *lib = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) return fail(error, capacity, "cannot open the MPI library", dlerror());
    if (!dlsym(lib, "ompi_mpi_comm_world"))
        return fail(error, capacity, "the MPI library is not Open MPI (no ompi_mpi_comm_world); Slim speaks Open MPI's ABI", library);
#define LOAD(field, name)                                                          \
    if (!(*(void **)&mpi.field = dlsym(lib, name))) return fail(error, capacity, "missing MPI symbol", name);
    LOAD(init, "MPI_Init") LOAD(comm_rank, "MPI_Comm_rank") LOAD(comm_size, "MPI_Comm_size")
    LOAD(iallreduce, "MPI_Iallreduce") LOAD(iallgather, "MPI_Iallgather") LOAD(test, "MPI_Test")
    LOAD(abort, "MPI_Abort") LOAD(finalize, "MPI_Finalize")
    LOAD(world, "ompi_mpi_comm_world") LOAD(int64, "ompi_mpi_int64_t") LOAD(dbl, "ompi_mpi_double")
    LOAD(sum, "ompi_mpi_op_sum")
#undef LOAD
    mpi.in_place = (Handle)1;  // Open MPI's MPI_IN_PLACE is ((void *) 1)
    if (mpi.init(NULL, NULL) != 0) return fail(error, capacity, "MPI_Init failed", NULL);
    if (mpi.comm_rank(mpi.world, rank) != 0 || mpi.comm_size(mpi.world, size) != 0)
        return fail(error, capacity, "MPI_Comm_rank/MPI_Comm_size failed", NULL);
    opened = 1;
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/// Polls a request until it completes or the deadline passes; sleeps a little between polls
/// so a waiting rank leaves its core to the ranks still computing.
static int wait(Handle *request, double timeout_s) {
    double deadline = now() + timeout_s;
    struct timespec pause = {0, 200000};  // 0.2 ms
    for (;;) {
        int done = 0;
        if (mpi.test(request, &done, NULL) != 0) return 2;
        if (done) return 0;
        if (now() > deadline) return 1;
        nanosleep(&pause, NULL);
    }
}

int slim_mpi_allreduce_i64(int64_t *values, int count, double timeout_s) {
    Handle request = NULL;
    if (mpi.iallreduce(mpi.in_place, values, count, mpi.int64, mpi.sum, mpi.world, &request) != 0) return 2;
    return wait(&request, timeout_s);
}

int slim_mpi_allgather_f64(const double *values, double *out, int count, double timeout_s) {
    Handle request = NULL;
    if (mpi.iallgather(values, count, mpi.dbl, out, count, mpi.dbl, mpi.world, &request) != 0) return 2;
    return wait(&request, timeout_s);
}

void slim_mpi_abort(int code) {
    if (opened) mpi.abort(mpi.world, code);
    exit(code);
}

void slim_mpi_finalize(void) {
    if (opened) mpi.finalize();
    opened = 0;
}
