import CFileSystem
import Foundation
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing a model folder so that a failure or a kill at any moment leaves
/// either the old output or the new one complete at the output path, never a
/// mix: everything goes into a hidden folder beside `output`, which is put in
/// place only when complete. An existing output (Slim's, with `--overwrite`)
/// is swapped with the new folder in one atomic rename, and removed only then.
/// The output must have been claimed (`OutputPolicy.claimFolder`) first.
public enum StagedFolder {
    public static func write<T>(to output: URL, _ fill: (URL) throws -> T) throws -> T {
        let path = OutputPolicy.canonical(output)
        guard let overwrite = OutputClaims.shared.overwriteFlag(for: path) else {
            throw SlimError.invalidArgument("\(output.path): written without a claim (OutputPolicy.claimFolder); nothing was written")
        }
        let fm = FileManager.default
        let staging = Leftovers.staging(for: path)
        try? fm.removeItem(at: staging)
        do {
            try withFileErrors("create the staging folder", path: staging.path) {
                try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            }
            let result = try fill(staging)
            try listFiles(in: staging)
            Fault.point("staged")
            // Locked since the claim, but something other than Slim may have written here since.
            try OutputPolicy.checkFolder(path, overwrite: overwrite)
            try install(staging, at: path)
            return result
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
    }

    /// Records in the card every file the folder holds, so a later
    /// `--overwrite` can tell Slim's files from ones a user added.
    private static func listFiles(in staging: URL) throws {
        let card = staging.appendingPathComponent(OutputPolicy.cardFile)
        guard let data = FileManager.default.contents(atPath: card.path),
              var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return }
        object[OutputPolicy.cardFilesKey] = OutputPolicy.relativeFiles(in: staging).sorted()
        try writeAtomically(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), to: card)
    }

    /// Whether to try the atomic swap (`SLIM_TEST_NO_SWAP=1` runs the fallback, for its tests).
    static let atomicSwap = ProcessInfo.processInfo.environment["SLIM_TEST_NO_SWAP"] != "1"

    /// Puts the complete `staging` folder at `output`.
    private static func install(_ staging: URL, at output: URL) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: output.path) else {
            // rename(2) fails rather than replace a folder that appeared meanwhile and is not empty.
            try move(staging, to: output)
            return
        }
        if (try? fm.contentsOfDirectory(atPath: output.path))?.isEmpty == true {
            try move(staging, to: output)  // an empty folder is replaced by rename(2) itself
            return
        }
        let swapped = atomicSwap ? slim_exchange_paths(staging.path, output.path) : ENOSYS
        if swapped == 0 {
            Fault.point("swapped")
            try remove(staging, what: "the replaced output")
            return
        }
        guard [ENOSYS, EINVAL, ENOTSUP, EOPNOTSUPP].contains(swapped) else {
            throw SlimError.io(path: output.path, detail: "replacing it with the new output failed: \(String(cString: strerror(swapped))); the old output is unchanged")
        }
        // No atomic swap here: move the old aside, the new in, then remove the old.
        // A kill between the two renames leaves the old one complete under
        // `.NAME.old-PID`, and the next run puts it back (Leftovers).
        let aside = Leftovers.movedAside(for: output)
        try move(output, to: aside)
        Fault.point("moved-aside")
        do {
            try move(staging, to: output)
        } catch {
            _ = rename(aside.path, output.path)
            throw error
        }
        try remove(aside, what: "the replaced output")
    }

    private static func move(_ from: URL, to: URL) throws {
        guard rename(from.path, to.path) == 0 else {
            throw SlimError.io(path: to.path, detail: "renaming \(from.lastPathComponent) into place failed: \(String(cString: strerror(errno)))")
        }
    }

    private static func remove(_ url: URL, what: String) throws {
        // The new output is in place already; only the old one's removal failed.
        try withFileErrors("remove \(what) (the new output is in place)", path: url.path) { try FileManager.default.removeItem(at: url) }
    }

    /// Copies a source model folder's other files (tokenizer, sentence-transformers
    /// modules) into `folder`: everything but weights, config and cards, which the
    /// writer makes anew. Contents only: the copies belong to whoever runs Slim,
    /// not to the source's owner.
    public static func copyCompanionFiles(of source: URL, into folder: URL) throws {
        let skipped: Set<String> = ["config.json", "README.md", "MODEL_CARD.md", "model_card.json",
                                    "pytorch_model.bin", "model.onnx", "onnx", "openvino", "tf_model.h5", "rust_model.ot"]
        let names = try withFileErrors("list the model folder", path: source.path) {
            try FileManager.default.contentsOfDirectory(atPath: source.path)
        }
        // Weights (one file or shards and their index) are what the step rewrites.
        for name in names where !skipped.contains(name) && !name.hasPrefix(".") && !name.hasSuffix(".safetensors")
            && name != "model.safetensors.index.json" {
            try copyContents(source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
    }

    /// A recursive copy of contents (links followed), with the copier's own ownership and default permissions.
    static func copyContents(_ from: URL, to: URL) throws {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: from.path, isDirectory: &isFolder) else {
            throw SlimError.io(path: from.path, detail: "cannot copy it: it does not exist (a broken link?)")
        }
        if isFolder.boolValue {
            let names = try withFileErrors("list it to copy into the output", path: from.path) {
                try fm.createDirectory(at: to, withIntermediateDirectories: false)
                return try fm.contentsOfDirectory(atPath: from.path)
            }
            for name in names { try copyContents(from.appendingPathComponent(name), to: to.appendingPathComponent(name)) }
        } else {
            let data = try withFileErrors("read it to copy into the output", path: from.path) { try Data(contentsOf: from) }
            try withFileErrors("write the copy of \(from.path)", path: to.path) { try data.write(to: to) }
        }
    }
}

/// Test-only fault injection: `SLIM_FAULT_AT=<point>` kills the process with
/// SIGKILL when the writer reaches that point, the way a user's kill or a
/// power cut would; `SLIM_FAULT_AT=stall:<point>` stops there (holding the
/// output's lock) until killed. Tests kill at each point and check what is left.
enum Fault {
    static let at = ProcessInfo.processInfo.environment["SLIM_FAULT_AT"]
    static func point(_ name: String) {
        if at == name { kill(getpid(), SIGKILL) }
        if at == "stall:" + name { while true { sleep(60) } }
    }
}
