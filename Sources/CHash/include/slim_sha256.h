#ifndef SLIM_SHA256_H
#define SLIM_SHA256_H
// SHA-256's compression function over whole 64-byte blocks (FIPS 180-4),
// with the x86 SHA extensions where the CPU has them: hashing a checkpoint of
// tens of GB is then bound by the disk, not by the hash.
#include <stddef.h>
#include <stdint.h>

/// Which compression function runs: the portable one or the CPU's SHA instructions.
enum { SLIM_SHA256_PORTABLE = 0, SLIM_SHA256_SHA_NI = 1 };

/// The fastest path this CPU has (SLIM_SHA256_SHA_NI needs SHA, SSSE3 and SSE4.1).
int slim_sha256_best_path(void);

/// Folds `blocks` 64-byte blocks at `data` into `state` (a, b, …, h), using
/// `path` (a SLIM_SHA256_ value this CPU has; see slim_sha256_best_path).
void slim_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks, int path);

#endif
