import Foundation

/// Slim's cache folder: `SLIM_CACHE` if set, else `~/.cache/slim`. Holds the
/// downloaded assets (`scripts/setup.sh` fills it) and compiled kernels.
public enum CacheDirectory {
    public static var root: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["SLIM_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        let home = env["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/slim", isDirectory: true)
    }

    /// A subfolder of the cache, created if missing.
    public static func folder(_ name: String) throws -> URL {
        let url = root.appendingPathComponent(name, isDirectory: true)
        try withFileErrors("create the cache folder", path: url.path) {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        return url
    }
}

/// Writes `data` to `url` through a temporary file in the same folder and a
/// rename, so a reader never sees a half-written file, even if this process dies.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let temp = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
    do {
        try withFileErrors("write", path: url.path) { try data.write(to: temp) }
        if rename(temp.path, url.path) != 0 {
            throw SlimError.io(path: url.path, detail: "rename from \(temp.lastPathComponent) failed: \(String(cString: strerror(errno)))")
        }
    } catch {
        try? FileManager.default.removeItem(at: temp)
        throw error
    }
}
