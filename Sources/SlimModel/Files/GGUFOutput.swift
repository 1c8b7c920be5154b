import Foundation
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how a GGUF file is written: a single file, so it is claimed as one
/// (``OutputPolicy/claimFile(_:inputs:overwrite:existing:)``: never an input,
/// never a folder, locked for the run), written whole under a hidden
/// `.NAME.PID.tmp` beside it and renamed over the path only when complete. A
/// failed or killed run leaves any earlier file at the path as it was (the
/// next run removes the scratch file, ``Leftovers``).
public enum GGUFOutput {
    /// `general.quantized_by` of the files Slim writes: what lets `--overwrite` replace one.
    public static let writer = "Slim"

    /// Checks and locks `output`. An existing file is replaced only if Slim
    /// wrote it and `overwrite` is set; anything else there is refused.
    public static func claim(_ output: URL, inputs: [URL], overwrite: Bool) throws -> OutputClaim {
        let folder = OutputPolicy.canonical(output).deletingLastPathComponent()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw SlimError.io(path: output.path, detail: "the folder it goes in (\(folder.path)) does not exist")
        }
        return try OutputPolicy.claimFile(output, inputs: inputs, overwrite: overwrite) { existing in
            let writtenBy = (try? GGUFFile(contentsOf: existing))?.metadata["general.quantized_by"]?.string
            guard writtenBy == writer else {
                throw SlimError.io(path: existing.path, detail: "exists and is not a GGUF file Slim wrote; not replacing it, even with --overwrite")
            }
            guard overwrite else {
                throw SlimError.io(path: existing.path, detail: "the output file exists (written by Slim); pass --overwrite to replace it")
            }
        }
    }

    /// Lets `fill` write the whole file at a scratch path, then renames it to `output`.
    /// `output` must have been claimed (``claim(_:inputs:overwrite:)``).
    public static func write<T>(to output: URL, _ fill: (URL) throws -> T) throws -> T {
        let path = OutputPolicy.canonical(output)
        guard OutputClaims.shared.overwriteFlag(for: path) != nil else {
            throw SlimError.invalidArgument("\(output.path): written without a claim (GGUFOutput.claim); nothing was written")
        }
        let scratch = path.deletingLastPathComponent().appendingPathComponent(".\(path.lastPathComponent).\(getpid()).tmp")
        try? FileManager.default.removeItem(at: scratch)
        do {
            let result = try fill(scratch)
            Fault.point("gguf-staged")
            guard rename(scratch.path, path.path) == 0 else {
                throw SlimError.io(path: path.path, detail: "renaming \(scratch.lastPathComponent) into place failed: \(String(cString: strerror(errno))); any earlier file is unchanged")
            }
            return result
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw error
        }
    }

    /// A hidden folder beside `output` for an intermediate Slim folder (compress, then export):
    /// named as a staging folder, so the next run removes it if this one is killed.
    public static func scratchFolder(for output: URL) -> URL {
        Leftovers.staging(for: OutputPolicy.canonical(output))
    }
}
