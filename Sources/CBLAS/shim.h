// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). Also exposes
// openblas_get_num_threads/openblas_get_config for `slim devices`.
#include <cblas.h>

// LAPACK's symmetric eigensolver, which OpenBLAS also ships: the low-rank
// compression takes singular vectors from the Gram matrix of each weight.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);

// LAPACK's Cholesky factorisation and the inverse from it (GPTQ's H⁻¹ factor).
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);
// The inverse of a triangular matrix (GPTQ's factor in one Cholesky instead of three steps).
void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda, int *info);
