import Foundation

/// Writing a model folder so that an interrupted run never leaves a partial
/// one: everything goes into a hidden folder beside `output`, which is renamed
/// into place only when complete (replacing what was there) and removed on failure.
public enum StagedFolder {
    public static func write<T>(to output: URL, _ fill: (URL) throws -> T) throws -> T {
        let fm = FileManager.default
        let staging = output.deletingLastPathComponent()
            .appendingPathComponent(".\(output.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: staging)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            let result = try fill(staging)
            if fm.fileExists(atPath: output.path) { try fm.removeItem(at: output) }
            try fm.moveItem(at: staging, to: output)
            return result
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
    }

    /// Copies a source model folder's other files (tokenizer, sentence-transformers
    /// modules) into `folder`: everything but weights, config and cards, which the
    /// writer makes anew.
    public static func copyCompanionFiles(of source: URL, into folder: URL) throws {
        let skipped: Set<String> = ["model.safetensors", "config.json", "README.md", "MODEL_CARD.md", "model_card.json",
                                    "pytorch_model.bin", "model.onnx", "onnx", "openvino", "tf_model.h5", "rust_model.ot"]
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where !skipped.contains(name) && !name.hasPrefix(".") {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
    }
}
