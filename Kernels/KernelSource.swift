import Foundation

/// The OpenCL C sources of Slim, embedded at build time.
///
/// Setting `SLIM_KERNELS_DIR` to a folder makes ``text(of:)`` read `NAME.cl`
/// from there instead, so kernels can be edited and rerun without a rebuild.
public enum KernelSource {
    /// Every embedded source, by file name without the `.cl` extension.
    public static let embedded: [String: [UInt8]] = [
        "gemm": PackageResources.gemm_cl,
        "elementwise": PackageResources.elementwise_cl,
        "normalization": PackageResources.normalization_cl,
        "qgemm": PackageResources.qgemm_cl,
        "attention": PackageResources.attention_cl,
        "attention_mask": PackageResources.attention_mask_cl,
        "attention_delta": PackageResources.attention_delta_cl,
        "attention_tiled": PackageResources.attention_tiled_cl,
        "integer_division": PackageResources.integer_division_cl,
        "embedding": PackageResources.embedding_cl,
        "training": PackageResources.training_cl,
        "reductions": PackageResources.reductions_cl,
        "fake_quant": PackageResources.fake_quant_cl,
    ]

    /// The table of kernel shapes per device (`tuning.json`, read by SlimOpenCL's `TuningTable`).
    public static let embeddedTuning: [UInt8] = PackageResources.tuning_json

    /// Where the text came from, so a build error can name the file.
    public struct Text: Sendable {
        public let name: String
        public let origin: String
        public let source: String

        public init(name: String, origin: String, source: String) {
            self.name = name
            self.origin = origin
            self.source = source
        }
    }

    /// The source of kernel family `name` with its `#include "OTHER.cl"` lines
    /// replaced by those files (embedded sources have no folder for the
    /// compiler to search), or nil if there is none.
    public static func text(of name: String) -> Text? {
        guard let raw = rawText(of: name) else { return nil }
        let lines = raw.source.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("#include \""), trimmed.hasSuffix(".cl\""),
                  let included = rawText(of: String(trimmed.dropFirst(10).dropLast(4))) else { return String(line) }
            return included.source
        }
        return Text(name: name, origin: raw.origin, source: lines.joined(separator: "\n"))
    }

    /// `tuning.json`, from `SLIM_KERNELS_DIR` when that is set (tuned shapes
    /// are edited and rerun like the kernels), else the embedded copy.
    /// Nil when the folder's copy cannot be read (the caller names the path).
    public static func tuningText() -> Text? {
        guard let folder else {
            return Text(name: "tuning", origin: "embedded tuning.json", source: String(decoding: embeddedTuning, as: UTF8.self))
        }
        let path = (folder as NSString).appendingPathComponent("tuning.json")
        return (try? String(contentsOfFile: path, encoding: .utf8)).map { Text(name: "tuning", origin: path, source: $0) }
    }

    /// `SLIM_KERNELS_DIR`, when set: every source is read from there, none from the binary.
    public static var folder: String? {
        ProcessInfo.processInfo.environment["SLIM_KERNELS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// What keeps `folder` from standing in for the embedded sources (it is
    /// no folder, or lacks some of their `.cl` files), or nil when it can.
    /// Falling back to the embedded copy of a missing file would run other
    /// kernels than the ones being edited, and say nothing.
    public static func folderProblem(_ folder: String) -> String? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            return "SLIM_KERNELS_DIR names no folder; unset it to run the kernels built into slim, or name a folder of .cl files such as Kernels/"
        }
        let missing = (embedded.keys.sorted().map { $0 + ".cl" } + ["tuning.json"]).filter {
            !FileManager.default.isReadableFile(atPath: (folder as NSString).appendingPathComponent($0))
        }
        guard missing.isEmpty else {
            return "the SLIM_KERNELS_DIR folder lacks \(missing.joined(separator: ", ")); it must hold every kernel source and tuning.json (copy Kernels/)"
        }
        return nil
    }

    private static func rawText(of name: String) -> Text? {
        if let folder {
            let path = (folder as NSString).appendingPathComponent(name + ".cl")
            return (try? String(contentsOfFile: path, encoding: .utf8)).map { Text(name: name, origin: path, source: $0) }
        }
        guard let bytes = embedded[name] else { return nil }
        return Text(name: name, origin: "embedded \(name).cl", source: String(decoding: bytes, as: UTF8.self))
    }
}
