import Foundation

/// `SLIM_RECORD_KERNEL_LAUNCHES=FILE` appends one JSON line per launch
/// (`{"family": "qgemm", "kernel": "qgemv", "options": "-D …"}`), so
/// `scripts/gpu_kernel_costs.py` compiles for GPU targets exactly the kernels
/// a run launched, with the options it built them with.
enum LaunchRecord {
    private static let file = ProcessInfo.processInfo.environment["SLIM_RECORD_KERNEL_LAUNCHES"]
    private static let lock = NSLock()
    nonisolated(unsafe) private static var seen = Set<String>()

    static func append(family: String, kernel: String, options: String) {
        guard let file else { return }
        let entry = ["family": family, "kernel": kernel, "options": options]
        guard let line = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]) else { return }
        lock.lock()
        defer { lock.unlock() }
        guard seen.insert(String(decoding: line, as: UTF8.self)).inserted else { return }
        guard let handle = FileHandle(forWritingAtPath: file) ?? {
            _ = FileManager.default.createFile(atPath: file, contents: nil)
            return FileHandle(forWritingAtPath: file)
        }() else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: line + Data([0x0A]))
    }
}
