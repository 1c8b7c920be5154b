import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress report with an ETA on stderr, redrawn in place — only
/// when stderr is a terminal, so piped and logged runs stay clean.
/// `@unchecked Sendable`: with `--devices` it is handed to every replica, but only device 0's draws.
final class ProgressLine: @unchecked Sendable {
    private var total: Int
    private let unit: String
    private let start = DispatchTime.now().uptimeNanoseconds
    private let enabled = isatty(STDERR_FILENO) == 1 && Job.isRoot
    private var lastDraw: UInt64 = 0

    init(total: Int = 0, unit: String) {
        self.total = total
        self.unit = unit
    }

    /// For work that learns its total as it goes (a callback of `done` of `total`).
    func update(_ done: Int, of total: Int) {
        self.total = total
        update(done)
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        // Redrawing more than ten times a second only costs time.
        guard now - lastDraw > 100_000_000 || done == total else { return }
        lastDraw = now
        let elapsed = Double(now - start) / 1e9
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let line = String(format: "\r%d/%d %@  %.1f s elapsed, ETA %.1f s   ", done, total, unit, elapsed, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
