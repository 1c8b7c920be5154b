// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). Also exposes
// openblas_get_num_threads/openblas_get_config for `slim devices`.
#include <cblas.h>
