import Foundation
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on one output path for the whole of a run, so a second
/// Slim process writing the same output fails at once with a named error
/// instead of both "succeeding" and the later one replacing the earlier's
/// finished output. The lock is `flock` on a hidden `.NAME.lock` file beside
/// the path: the kernel drops it when the process dies, so a killed run
/// never leaves a stale lock behind.
final class FileLock: @unchecked Sendable {
    let lockFile: URL
    private var descriptor: Int32

    /// Takes the lock for `path` or throws naming the process that holds it.
    init(for path: URL) throws {
        lockFile = path.deletingLastPathComponent().appendingPathComponent(".\(path.lastPathComponent).lock")
        // The lock file may be removed by its previous holder between our open
        // and our flock; then we hold a lock on a deleted file, so check and retry.
        for _ in 0..<8 {
            let fd = open(lockFile.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw SlimError.io(NSError(domain: NSPOSIXErrorDomain, code: Int(errno)), path: path.path,
                                   operation: "write here (its lock file \(lockFile.lastPathComponent))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let holder = Self.holder(fd)
                close(fd)
                throw SlimError.io(path: path.path, detail: "another slim process\(holder.map { " (pid \($0))" } ?? "") is writing this output; wait for it to finish or choose another path")
            }
            var opened = stat(), named = stat()
            if fstat(fd, &opened) == 0, stat(lockFile.path, &named) == 0, opened.st_ino == named.st_ino, opened.st_dev == named.st_dev {
                descriptor = fd
                let pid = "\(getpid())\n"
                _ = ftruncate(fd, 0)
                _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
                return
            }
            close(fd)
        }
        throw SlimError.io(path: path.path, detail: "could not take the lock \(lockFile.lastPathComponent): it kept being replaced")
    }

    /// Removes the lock file, then lets go of the lock (a waiter that opened
    /// the old file notices it was removed and retries).
    func release() {
        guard descriptor >= 0 else { return }
        unlink(lockFile.path)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }

    /// The process id the holder wrote into the lock file, if readable.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count - 1, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
