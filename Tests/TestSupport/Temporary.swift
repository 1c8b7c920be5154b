import Foundation

/// Paths under the temporary directory that are unique per call (a UUID), so
/// tests running in parallel, or two test runs at once, never share one. The
/// test that creates something there removes it (`defer`).
public enum Temporary {
    /// A fresh path, not created; it ends with `tag`, so a file keeps its extension.
    public static func url(_ tag: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("slim-\(UUID().uuidString)-\(tag)")
    }

    /// A fresh, empty folder.
    public static func folder(_ tag: String) throws -> URL {
        let url = url(tag)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
