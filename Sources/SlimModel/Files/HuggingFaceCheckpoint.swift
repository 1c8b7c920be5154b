import Foundation
import SlimCore

/// The weights of a Hugging Face model folder: `model.safetensors`, or
/// shards `model-0000i-of-0000N.safetensors` listed by
/// `model.safetensors.index.json` (``ShardedSafeTensorsFile``).
///
/// A folder holding both is read as transformers reads it (its
/// `_get_resolved_checkpoint_files` looks for `model.safetensors` first):
/// `model.safetensors`, the index and its shards left unread, so Slim works
/// on the same weights a PyTorch user of the folder gets.
public enum HuggingFaceCheckpoint {
    public static let singleFile = "model.safetensors"
    public static let indexFile = "model.safetensors.index.json"

    /// The name transformers gives shard `number` (from 1) of `count`.
    public static func shardFile(_ number: Int, of count: Int) -> String {
        func five(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }
        return "model-\(five(number))-of-\(five(count)).safetensors"
    }

    public static func open(folder: URL) throws -> any TensorFile {
        let fm = FileManager.default
        let single = folder.appendingPathComponent(singleFile), index = folder.appendingPathComponent(indexFile)
        if fm.fileExists(atPath: single.path) { return try SafeTensorsFile(contentsOf: single) }
        if fm.fileExists(atPath: index.path) { return try ShardedSafeTensorsFile(index: index) }
        throw SlimError.io(path: folder.path, detail: "no weights: neither \(singleFile) nor \(indexFile) (with its shards) is in the folder")
    }

    /// Whether `name`, a file of a model folder, holds weights (the single
    /// file, the index, or a shard): files a writer of new weights does not copy.
    public static func isWeightFile(_ name: String) -> Bool {
        name == singleFile || name == indexFile || name.hasPrefix("model-") && name.hasSuffix(".safetensors")
    }

    /// The bytes of a folder's weights as `open` reads them (0 when there are none).
    public static func weightBytes(folder: URL) -> Int {
        (try? open(folder: folder).fileBytes) ?? 0
    }
}
