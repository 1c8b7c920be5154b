import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a killed run leaves beside its output, and how the next run tidies it.
///
/// - `.NAME.partial-PID`: a folder being staged (or, after an atomic swap, the
///   old output on its way out): removed.
/// - `.NAME.old-PID`: the old output moved aside where the file system cannot
///   swap atomically: put back if the output is missing (the kill came between
///   the two renames), removed otherwise.
/// - `.NAME.PID.tmp`: a file being written atomically (a checkpoint): removed.
///
/// Only entries of processes that are no longer running are touched, and each
/// is reported on stderr, so nothing disappears without a word.
enum Leftovers {
    static func staging(for output: URL) -> URL { sibling(output, "partial") }
    static func movedAside(for output: URL) -> URL { sibling(output, "old") }

    private static func sibling(_ output: URL, _ kind: String) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).\(kind)-\(getpid())")
    }

    static func clean(beside output: URL) {
        let fm = FileManager.default
        let folder = output.deletingLastPathComponent(), name = output.lastPathComponent
        let names = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
        // An old output first: it may have to go back into place.
        for entry in names.sorted(by: { $0.contains(".old-") && !$1.contains(".old-") }) {
            guard let (kind, pid) = parse(entry, output: name), !isRunning(pid) else { continue }
            let url = folder.appendingPathComponent(entry)
            if kind == "old" && !fm.fileExists(atPath: output.path) {
                if rename(url.path, output.path) == 0 {
                    report("restored \(output.path) from \(entry), left by an interrupted replace (pid \(pid))")
                    continue
                }
            }
            do {
                try fm.removeItem(at: url)
                report("removed \(url.path), left by an interrupted run (pid \(pid))")
            } catch {
                report("could not remove \(url.path), left by an interrupted run (pid \(pid)): \(error.localizedDescription)")
            }
        }
    }

    /// (kind, pid) for `.NAME.partial-PID`, `.NAME.old-PID` and `.NAME.PID.tmp`.
    static func parse(_ entry: String, output name: String) -> (String, Int32)? {
        let prefix = ".\(name)."
        guard entry.hasPrefix(prefix) else { return nil }
        let rest = entry.dropFirst(prefix.count)
        for kind in ["partial", "old"] where rest.hasPrefix(kind + "-") {
            return Int32(rest.dropFirst(kind.count + 1)).map { (kind, $0) }
        }
        if rest.hasSuffix(".tmp"), let pid = Int32(rest.dropLast(4)) { return ("tmp", pid) }
        return nil
    }

    private static func isRunning(_ pid: Int32) -> Bool {
        // Our own pid: this process holds the output's lock and stages only inside
        // StagedFolder.write, so an entry under our pid found here is from a dead namesake.
        guard pid > 0, pid != getpid() else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    private static func report(_ line: String) {
        FileHandle.standardError.write(Data("slim: \(line)\n".utf8))
    }
}
