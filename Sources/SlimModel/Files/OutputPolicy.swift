import Foundation
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a command may write, decided in one place for every command that
/// writes (compress, prune, lowrank, distill, finetune, checkpoints):
///
/// - never `.`, `..`, an empty name, the current folder or a folder around it;
/// - never an input, a folder that contains an input, or a path inside an input;
/// - an existing folder only if it is empty, or Slim wrote it (its
///   `model_card.json` says so and lists every file in it) and `--overwrite`
///   is given; never a file, never a folder holding files Slim did not write;
/// - one writer at a time: the output is locked for the whole run.
///
/// `--overwrite` cannot widen these rules: it only lets Slim replace its own
/// earlier output, and the replacement is atomic (`StagedFolder`).
public enum OutputPolicy {
    /// The file that marks a folder as Slim's output, and the keys it must hold.
    public static let cardFile = "model_card.json"
    static let cardMarker = "slim_version"
    /// The card's list of every file the folder holds (relative paths).
    public static let cardFilesKey = "files"

    /// Checks `output` as a folder to write and locks it until the claim is
    /// released. `inputs` are every file or folder the run reads.
    public static func claimFolder(_ output: URL, inputs: [URL], overwrite: Bool) throws -> OutputClaim {
        let path = try checkedPath(output, inputs: inputs)
        // A new output folder may be several levels deep; a file (a checkpoint) needs its folder to exist.
        try withFileErrors("create the folder the output goes in", path: path.deletingLastPathComponent().path) {
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        }
        return try OutputClaims.shared.claim(path, overwrite: overwrite) {
            try checkFolder(path, overwrite: overwrite)
        }
    }

    /// Checks `file` as a single file to write (a checkpoint): the same rules
    /// for names and inputs, then `existing` judges a file already there.
    public static func claimFile(_ file: URL, inputs: [URL], overwrite: Bool, existing: (URL) throws -> Void) throws -> OutputClaim {
        let path = try checkedPath(file, inputs: inputs)
        return try OutputClaims.shared.claim(path, overwrite: overwrite) {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isFolder) else { return }
            if isFolder.boolValue { throw SlimError.io(path: path.path, detail: "is a folder, not a file Slim can write here") }
            try existing(path)
        }
    }

    /// The absolute path of `url` with every symbolic link in its existing
    /// part resolved, so two spellings of one place compare equal.
    public static func canonical(_ url: URL) -> URL {
        let absolute = url.standardizedFileURL
        if let resolved = realpath(absolute.path, nil) {
            defer { free(resolved) }
            return URL(fileURLWithPath: String(cString: resolved))
        }
        let parent = absolute.deletingLastPathComponent()
        guard parent.path != absolute.path else { return absolute }
        return canonical(parent).appendingPathComponent(absolute.lastPathComponent)
    }

    /// Whether `folder` holds a card Slim wrote.
    public static func isSlimFolder(_ folder: URL) -> Bool { slimCard(folder) != nil }

    // MARK: The rules

    private static func checkedPath(_ output: URL, inputs: [URL]) throws -> URL {
        let written = output.relativePath
        let last = written.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? ""
        if written.isEmpty || last == "." || last == ".." || last.isEmpty {
            throw SlimError.invalidArgument("output '\(written)': name a new folder (not '.', '..', '/' or an empty path)")
        }
        let path = canonical(output)
        let cwd = canonical(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        if contains(path, cwd) {
            throw SlimError.invalidArgument("output '\(written)' is \(path == cwd ? "the current folder" : "a folder around the current folder (\(cwd.path))"); choose a new folder")
        }
        for input in inputs.map(canonical) {
            if path == input {
                throw SlimError.invalidArgument("output '\(written)' is the input \(input.path); writing it would destroy the input")
            }
            if contains(path, input) {
                throw SlimError.invalidArgument("output '\(written)' contains the input \(input.path); writing it would destroy the input")
            }
            if contains(input, path) {
                throw SlimError.invalidArgument("output '\(written)' is inside the input \(input.path); choose a folder outside it")
            }
        }
        return path
    }

    /// Whether `outer` is a proper ancestor of `inner` (both canonical).
    public static func contains(_ outer: URL, _ inner: URL) -> Bool {
        let o = outer.path.hasSuffix("/") ? outer.path : outer.path + "/"
        return inner.path.hasPrefix(o) && inner.path != outer.path
    }

    /// The rule for what is already at an output folder's path.
    static func checkFolder(_ path: URL, overwrite: Bool) throws {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: path.path, isDirectory: &isFolder) else { return }
        guard isFolder.boolValue else {
            throw SlimError.io(path: path.path, detail: "is a file, not a folder Slim wrote; not replacing it, even with --overwrite")
        }
        let entries = (try? fm.contentsOfDirectory(atPath: path.path)) ?? []
        if entries.isEmpty { return }
        guard let card = slimCard(path) else {
            throw SlimError.io(path: path.path, detail: "is a folder Slim did not write (no \(cardFile) of Slim's); not replacing it, even with --overwrite")
        }
        if let listed = card[cardFilesKey] as? [String] {
            let unknown = relativeFiles(in: path).subtracting(listed).sorted()
            if !unknown.isEmpty {
                throw SlimError.io(path: path.path, detail: "holds files Slim did not write (\(unknown.prefix(3).joined(separator: ", "))\(unknown.count > 3 ? ", …" : "")); not replacing it, even with --overwrite")
            }
        }
        guard overwrite else {
            throw SlimError.io(path: path.path, detail: "the output folder exists (written by Slim); pass --overwrite to replace it")
        }
    }

    static func slimCard(_ folder: URL) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(cardFile).path),
              let card = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], card[cardMarker] != nil else { return nil }
        return card
    }

    /// Every file and symbolic link under `folder`, as paths relative to it.
    public static func relativeFiles(in folder: URL) -> Set<String> {
        var out = Set<String>()
        func walk(_ dir: URL, _ prefix: String) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
                let url = dir.appendingPathComponent(name)
                var isFolder: ObjCBool = false
                // A link is listed, not followed: replacing the folder removes the link only.
                let isLink = (try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)) != nil
                if !isLink, FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
                    walk(url, prefix + name + "/")
                } else {
                    out.insert(prefix + name)
                }
            }
        }
        walk(folder, "")
        return out
    }
}

/// A locked output path. Release it when the run is over (or let it go out
/// of scope); nested claims of one path in one process share the lock.
public final class OutputClaim: @unchecked Sendable {
    public let path: URL
    public let overwrite: Bool
    private var released = false

    init(path: URL, overwrite: Bool) {
        self.path = path
        self.overwrite = overwrite
    }

    public func release() {
        guard !released else { return }
        released = true
        OutputClaims.shared.release(path)
    }

    deinit { release() }
}

/// This process's locked outputs.
final class OutputClaims: @unchecked Sendable {
    static let shared = OutputClaims()
    private let mutex = NSLock()
    private var held: [String: (lock: FileLock, overwrite: Bool, count: Int)] = [:]

    func claim(_ path: URL, overwrite: Bool, check: () throws -> Void) throws -> OutputClaim {
        mutex.lock()
        defer { mutex.unlock() }
        if var entry = held[path.path] {
            entry.count += 1
            held[path.path] = entry
            return OutputClaim(path: path, overwrite: entry.overwrite)
        }
        let lock = try FileLock(for: path)
        do {
            // Locked: any leftover of an earlier run is stale, so tidy first, then judge what is there.
            Leftovers.clean(beside: path)
            try check()
        } catch {
            lock.release()
            throw error
        }
        held[path.path] = (lock, overwrite, 1)
        return OutputClaim(path: path, overwrite: overwrite)
    }

    func release(_ path: URL) {
        mutex.lock()
        defer { mutex.unlock() }
        guard var entry = held[path.path] else { return }
        entry.count -= 1
        if entry.count == 0 {
            entry.lock.release()
            held[path.path] = nil
        } else {
            held[path.path] = entry
        }
    }

    /// The claim under which `path` may be written, or nil if it was not claimed.
    func overwriteFlag(for path: URL) -> Bool? {
        mutex.lock()
        defer { mutex.unlock() }
        return held[path.path]?.overwrite
    }
}
