// Swift's Glibc module does not expose renameat2 (it needs _GNU_SOURCE), so
// the one system call Slim's output replacement needs lives here.
#define _GNU_SOURCE
#include "slim_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
int slim_exchange_paths(const char *a, const char *b) {
#ifdef SYS_renameat2
    return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
}
#elif defined(__APPLE__)
int slim_exchange_paths(const char *a, const char *b) {
    return renamex_np(a, b, RENAME_SWAP) == 0 ? 0 : errno;
}
#else
int slim_exchange_paths(const char *a, const char *b) { (void)a; (void)b; return ENOSYS; }
#endif
