import Foundation
import SlimCore

/// What `slim inspect` reports about a model: its format, architecture, key
/// configuration and every tensor. Only headers are read; no weight is loaded.
public struct ModelInspection: Sendable {
    /// A configuration value as the model's files give it.
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case int(Int), number(Double), bool(Bool), string(String), strings([String])

        public var description: String {
            switch self {
            case let .int(v): "\(v)"
            case let .number(v): "\(v)"
            case let .bool(v): "\(v)"
            case let .string(v): v
            case let .strings(v): v.joined(separator: ", ")
            }
        }

        /// The value as JSONSerialization takes it.
        public var json: any Sendable {
            switch self {
            case let .int(v): v
            case let .number(v): v
            case let .bool(v): v
            case let .string(v): v
            case let .strings(v): v
            }
        }
    }

    /// Tensors of one kind taken together: how a file is quantized.
    public struct KindSummary: Sendable, Equatable {
        public let kind: StoredKind
        public let tensors: Int, elements: Int, bytes: Int
        public var bitsPerElement: Double { elements == 0 ? 0 : Double(bytes * 8) / Double(elements) }
    }

    /// What was asked about: a model folder or a tensor file.
    public let path: String
    /// The file holding the tensors, or a sharded checkpoint's index.
    public let weightsPath: String
    /// The files holding the tensors: `weightsPath`, or the shards of a sharded checkpoint.
    public let weightFiles: [String]
    /// "safetensors" or "gguf".
    public let format: String
    /// GGUF's version; nil for safetensors, which has none.
    public let formatVersion: Int?
    /// Who quantized the weights: "gguf" for a GGUF file, else a folder's ``CheckpointQuantization``
    /// (slim, compressed-tensors, gptq, awq, or none).
    public var quantization = "none"
    /// config.json's `model_type`, GGUF's `general.architecture`, or "unknown".
    public let architecture: String
    /// The keys that describe the model's size, in a fixed order.
    public let config: [(key: String, value: Value)]
    public let tensors: [StoredTensor]
    public let fileBytes: Int

    /// Elements of every tensor (integer buffers such as BERT's position_ids included).
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// One row per kind, most elements first.
    public var kinds: [KindSummary] {
        Dictionary(grouping: tensors, by: \.kind)
            .map { kind, ts in
                KindSummary(kind: kind, tensors: ts.count, elements: ts.reduce(0) { $0 + $1.elementCount },
                            bytes: ts.reduce(0) { $0 + $1.byteRange.count })
            }
            .sorted { ($0.elements, $0.kind.rawValue) > ($1.elements, $1.kind.rawValue) }
    }

    /// Inspects a model folder (config.json and model.safetensors), a `.safetensors` file or a GGUF file.
    public static func inspect(path: String) throws -> ModelInspection {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw SlimError.io(path: path, detail: "no such file or folder")
        }
        let url = URL(fileURLWithPath: path)
        if isFolder.boolValue {
            let config = try JSONFile.object(at: url.appendingPathComponent("config.json"))
            let weights = try HuggingFaceCheckpoint.open(folder: url)
            var inspection = ModelInspection(path: path, file: weights, version: nil, huggingFace: config)
            inspection.quantization = try CheckpointQuantization.detect(folder: url).kind.rawValue
            return inspection
        }
        let file = try MappedFile(path: path)
        if file.count >= 4, file.bytes.loadUnaligned(as: UInt32.self).littleEndian == GGUFFile.magic {
            let gguf = try GGUFFile(file)
            var inspection = ModelInspection(path: path, file: gguf, version: gguf.version, architecture: gguf.architecture ?? "unknown",
                                             config: ggufConfig(gguf))
            inspection.quantization = "gguf"
            return inspection
        }
        // A bare safetensors file: a config.json beside it says what the model is.
        let beside = url.deletingLastPathComponent().appendingPathComponent("config.json")
        let config = FileManager.default.fileExists(atPath: beside.path) ? try JSONFile.object(at: beside) : [:]
        let weights: SafeTensorsFile
        do { weights = try SafeTensorsFile(file) } catch let SlimError.malformedFile(p, detail) where url.pathExtension != "safetensors" {
            throw SlimError.malformedFile(path: p, detail: "not a GGUF file (no \"GGUF\" magic) and not a safetensors file (\(detail))")
        }
        return ModelInspection(path: path, file: weights, version: nil, huggingFace: config)
    }

    private init(path: String, file: any TensorFile, version: Int?, architecture: String, config: [(key: String, value: Value)]) {
        self.path = path
        weightsPath = file.path
        weightFiles = file.shards.map(\.path)
        format = file.format
        formatVersion = version
        self.architecture = architecture
        self.config = config
        tensors = file.tensors
        fileBytes = file.fileBytes
    }

    private init(path: String, file: any TensorFile, version: Int?, huggingFace config: [String: Any]) {
        let architecture = config["model_type"] as? String ?? (config["architectures"] as? [String])?.first ?? "unknown"
        self.init(path: path, file: file, version: version, architecture: architecture, config: Self.huggingFaceConfig(config))
    }

    static let huggingFaceKeys = [
        "model_type", "architectures", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
        "intermediate_size", "vocab_size", "max_position_embeddings", "torch_dtype",
    ]

    static func huggingFaceConfig(_ object: [String: Any]) -> [(key: String, value: Value)] {
        huggingFaceKeys.compactMap { key in
            switch object[key] {
            case let s as String: (key, .string(s))
            case let a as [String]: (key, .strings(a))
            case let n as NSNumber where n.doubleValue == n.doubleValue.rounded() && abs(n.doubleValue) < 1e15: (key, .int(n.intValue))
            case let n as NSNumber: (key, .number(n.doubleValue))
            default: nil
            }
        }
    }

    static let ggufArchitectureKeys = [
        "block_count", "embedding_length", "feed_forward_length", "attention.head_count", "attention.head_count_kv",
        "context_length", "vocab_size",
    ]

    static func ggufConfig(_ gguf: GGUFFile) -> [(key: String, value: Value)] {
        let prefix = gguf.architecture.map { "\($0)." } ?? ""
        var out: [(key: String, value: Value)] = []
        for key in ["general.name", "general.architecture"] + ggufArchitectureKeys.map({ prefix + $0 })
            + ["general.file_type", "tokenizer.ggml.model"] {
            guard let v = gguf.metadata[key] else { continue }
            switch v {
            case let .string(s): out.append((key, .string(s)))
            case let .bool(b): out.append((key, .bool(b)))
            case let .float(d): out.append((key, .number(d)))
            default: if let n = v.int { out.append((key, .int(n))) }
            }
        }
        if let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array {
            out.append(("tokenizer.ggml.tokens", .int(tokens.count)))
        }
        return out
    }
}
