#ifndef SLIM_FS_H
#define SLIM_FS_H

/// Atomically swaps the directory entries `a` and `b` (both must exist):
/// Linux renameat2(RENAME_EXCHANGE), macOS renamex_np(RENAME_SWAP).
/// Returns 0, or the errno value (ENOSYS/EINVAL/ENOTSUP where the system or
/// file system cannot swap; the caller then falls back to two renames).
int slim_exchange_paths(const char *a, const char *b);

#endif
