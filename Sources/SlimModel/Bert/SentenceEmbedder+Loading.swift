import Foundation
import SlimCore

extension SentenceEmbedder {
    /// Loads a sentence-transformers folder: `config.json`, `model.safetensors`,
    /// the tokenizer files, `1_Pooling/config.json` and `modules.json` (a
    /// `Normalize` module turns on L2 normalisation; without `modules.json`,
    /// vectors are normalised as all-MiniLM-L6-v2's are).
    public static func load(folder: URL, backend: any Backend, quantization: LinearQuantization? = nil) throws -> SentenceEmbedder {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw SlimError.io(path: folder.path, detail: "not a model folder (expected config.json, model.safetensors and tokenizer files)")
        }
        guard case let .bert(config) = try ModelConfig.load(folder.appendingPathComponent("config.json")) else {
            throw SlimError.unsupported(op: "embed", backend: "model", reason: "\(folder.path) is not an encoder model")
        }
        // A compressed folder's config.json names its packed layers; a plain one names none.
        let weights = try PackedWeightStore(file: try HuggingFaceCheckpoint.open(folder: folder),
                                            config: folder.appendingPathComponent("config.json"))
        if let quantization, !weights.formats.isEmpty {
            // Packed layers run as stored: quantizing at load would apply to none of them, or only to their exceptions.
            let formats = Set(weights.formats.values.map(\.description)).sorted().joined(separator: ", ")
            throw SlimError.invalidArgument("\(folder.path) is already compressed (\(formats)): it runs as stored, so quantizing it to \(quantization.format) at load would change nothing; load it without quantization (drop --quantize)")
        }
        let encoder = try BertEncoder(config: config, weights: weights, backend: backend, quantization: quantization)
        let tokenizer = try WordPieceTokenizer(modelFolder: folder)
        return SentenceEmbedder(encoder: encoder, tokenizer: tokenizer, pooling: try Pooling.load(folder: folder),
                                normalize: try normalizes(folder: folder))
    }

    private static func normalizes(folder: URL) throws -> Bool {
        let url = folder.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return true }
        guard let modules = try FileReading.json(at: url) as? [[String: Any]] else {
            throw SlimError.malformedFile(path: url.path, detail: "expected a JSON array of modules")
        }
        return modules.contains { ($0["type"] as? String)?.hasSuffix(".Normalize") == true }
    }
}
